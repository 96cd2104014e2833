// Declarative controllers and the manager that runs them: "for this kind, owning these kinds, with this
// finalizer: reconcile, finalize". The manager starts one informer per watched kind, maps events on owned
// objects to their controller owner's key, and works the keys off a WorkQueue only while this replica
// leads. The runtime itself never writes to the API: finalizers are added and removed by the handlers
// (with the helpers below), so every API action stays visible in the handlers' own tests.

import type { KubernetesObject } from '@kubernetes/client-node';
import type { KubeAccess } from './kubeconfig.ts';
import { errText, type Logger } from '../log.ts';
import { informersNotWedged, informersSynced, type HealthCheck } from './health.ts';
import { createInformer, stripManagedFields, type Informer } from './informer.ts';
import { LeaderElector, type LeaderElectionOptions } from './leader.ts';
import type { ReconcileOutcome, RuntimeMetrics } from './metrics.ts';
import { ChildCache } from './children.ts';
import { controllerUid, InformerIndex, labelValue } from './index.ts';
import { controllerOwnerKey, isControlledBy, objectKey, splitKey } from './owners.ts';
import { RetryAfter, WorkQueue, type Result } from './workqueue.ts';

export interface PrimaryResource {
  apiVersion: string; // 'spawner.dev/v1'
  kind: string; // 'SessionLivedBackend'
  plural: string; // 'sessionlivedbackends'
  namespace?: string; // watch one namespace only
  path?: string; // overrides the path derived from the above
  labelSelector?: string;
  fieldSelector?: string;
  // Keeps only what the controller reads of each cached object (see OwnedResource.transform).
  transform?(obj: KubernetesObject): KubernetesObject;
}

export interface OwnedResource {
  apiVersion: string; // 'v1'
  kind: string; // 'Pod'
  path: string; // '/api/v1/pods' or '/api/v1/namespaces/x/pods'
  labelSelector?: string; // e.g. only the children the operator labelled
  fieldSelector?: string;
  // Builds what the controller keeps of each cached object, afresh from what it reads (a slim copy, never
  // with managedFields). Without one, objects are cached whole but for their managedFields.
  transform?(obj: KubernetesObject): KubernetesObject;
  // Labels whose values the controller looks objects up by (ctx.labelled): indexed, not scanned.
  indexLabels?: string[];
}

// A kind the controller reads but does not own (a WarmPool a backend claims from): cached for
// ctx.cached(), and on each of its events `map` names the primary objects to look at again.
export interface WatchedResource extends OwnedResource {
  map?(obj: KubernetesObject, primaries: () => KubernetesObject[]): string[];
}

export interface ReconcileContext {
  key: string;
  namespace: string;
  name: string;
  log: Logger; // carries controller, namespace and name
  // Aborted the moment leadership is lost or the manager stops: stop writing to the API then.
  signal: AbortSignal;
  // Failed attempts in a row for this key (0 on the first try and after any success).
  failures: number;
  // Cached objects of an owned kind that this object controls (matched by UID; indexed).
  owned<O extends KubernetesObject>(kind: string): O[];
  // Cached objects of an owned kind, whoever owns them, whose label (one of its indexLabels) has this value.
  labelled<O extends KubernetesObject>(kind: string, label: string, namespace: string, value: string): O[];
  // The owned kind's cache by name, whoever owns the object (to detect name conflicts), corrected by this
  // controller's own recent creates and deletes (the expectations pattern; see children.ts).
  children<O extends KubernetesObject>(kind: string): ChildCache<O>;
  // One cached object of a watched kind.
  cached<O extends KubernetesObject>(kind: string, namespace: string, name: string): O | undefined;
}

// 'done': finalization is complete and the handler has released the finalizer; nothing to requeue.
export type FinalizeResult = Result | 'done' | void;

export interface ControllerDefinition<T extends KubernetesObject = KubernetesObject> {
  name?: string; // for logs and metrics; defaults to the kind in lower case
  for: PrimaryResource;
  owns?: OwnedResource[];
  watches?: WatchedResource[];
  finalizer?: string;
  reconcile: (obj: T, ctx: ReconcileContext) => Promise<Result | void>;
  finalize?: (obj: T, ctx: ReconcileContext) => Promise<FinalizeResult>;
  concurrency?: number; // keys worked on at once (default 4)
  resyncMs?: number; // re-enqueue every object this often (default 10 min; 0: never)
  minIntervalMs?: number; // reconcile a key at most once per this many ms (WorkQueueOptions.minIntervalMs)
}

export function defineController<T extends KubernetesObject>(def: ControllerDefinition<T>): ControllerDefinition<T> {
  if (!def.for?.apiVersion || !def.for.kind || !def.for.plural) {
    throw new Error('defineController: `for` needs apiVersion, kind and plural');
  }
  if (!!def.finalizer !== !!def.finalize) {
    throw new Error('defineController: a finalizer and a finalize handler go together');
  }
  for (const o of def.owns ?? []) {
    if (!o.apiVersion || !o.kind || !o.path?.startsWith('/')) {
      throw new Error(`defineController: owned ${o.kind || '?'} needs apiVersion, kind and a path starting with '/'`);
    }
  }
  for (const w of def.watches ?? []) {
    if (!w.apiVersion || !w.kind || !w.path?.startsWith('/')) {
      throw new Error(`defineController: watched ${w.kind || '?'} needs apiVersion, kind and a path starting with '/'`);
    }
    if ((def.owns ?? []).some((o) => o.kind === w.kind)) throw new Error(`defineController: ${w.kind} is both owned and watched`);
  }
  if (def.concurrency !== undefined && !(def.concurrency >= 1)) throw new Error('defineController: concurrency must be >= 1');
  return def;
}

// '/apis/<group>/<version>[/namespaces/<ns>]/<plural>', or '/api/v1/...' for the core group.
export function resourcePath(r: PrimaryResource): string {
  if (r.path) return r.path;
  const base = r.apiVersion.includes('/') ? `/apis/${r.apiVersion}` : `/api/${r.apiVersion}`;
  return r.namespace ? `${base}/namespaces/${encodeURIComponent(r.namespace)}/${r.plural}` : `${base}/${r.plural}`;
}

// ---- finalizer helpers (pure; the handler sends the patch) -------------------------------------------

export function isBeingDeleted(obj: KubernetesObject): boolean {
  return !!obj.metadata?.deletionTimestamp;
}

export function hasFinalizer(obj: KubernetesObject, finalizer: string): boolean {
  return obj.metadata?.finalizers?.includes(finalizer) ?? false;
}

export function withFinalizer(obj: KubernetesObject, finalizer: string): string[] {
  const list = obj.metadata?.finalizers ?? [];
  return list.includes(finalizer) ? [...list] : [...list, finalizer];
}

export function withoutFinalizer(obj: KubernetesObject, finalizer: string): string[] {
  return (obj.metadata?.finalizers ?? []).filter((f) => f !== finalizer);
}

// A JSON merge patch setting the finalizer list, with the object's resourceVersion as a precondition:
// if someone else changed the list meanwhile the API answers 409 instead of losing their finalizer.
export function finalizersMergePatch(
  obj: KubernetesObject,
  finalizers: string[],
): { metadata: { finalizers: string[]; resourceVersion?: string } } {
  return { metadata: { finalizers, resourceVersion: obj.metadata?.resourceVersion } };
}

// The `result` label of controller_runtime_reconcile_total, as controller-runtime assigns it: `error` for
// a failure (retried with backoff), `requeue_after` for a success that asked to come back after a delay,
// `requeue` for one that asked to come back at once, `success` otherwise. RetryAfter is a request to
// come back, not a failure.
export function reconcileOutcome(result: Result | void, err?: unknown): ReconcileOutcome {
  if (err !== undefined) {
    if (!(err instanceof RetryAfter)) return 'error';
    return err.delayMs > 0 ? 'requeue_after' : 'requeue';
  }
  const after = result?.requeueAfterMs;
  if (after === undefined) return 'success';
  return after > 0 ? 'requeue_after' : 'requeue';
}

// ---- the manager ----------------------------------------------------------------------------------------

export interface ManagerLeaderElection
  extends Omit<LeaderElectionOptions, 'kubeConfig' | 'log' | 'onStartedLeading' | 'onStoppedLeading'> {}

export interface ControllerManagerOptions {
  kubeConfig: KubeAccess;
  log: Logger;
  // `any`: each definition is typed with its own object type; the manager only passes objects through.
  controllers: Array<ControllerDefinition<any>>;
  // false: lead unconditionally (one replica, tests). Otherwise: the Lease to hold.
  leaderElection: ManagerLeaderElection | false;
  metrics?: RuntimeMetrics;
  queue?: { baseDelayMs?: number; maxDelayMs?: number };
  informer?: { silenceTimeoutMs?: number; backoffInitialMs?: number; backoffMaxMs?: number; pageSize?: number };
  // On stop, how long in-flight reconciles may finish before the Lease is released anyway (default 1 s).
  // Releasing with a reconcile still in flight is safe: every write carries a resourceVersion or uid
  // precondition or is a create of a fixed name, so the next leader's writes and a late one of ours
  // cannot both take effect; and a rolling update should not wait on a slow API server to hand over.
  shutdownGraceMs?: number;
}

interface Running {
  def: ControllerDefinition;
  name: string;
  log: Logger;
  primary: Informer<KubernetesObject>;
  owned: Map<string, Informer<KubernetesObject>>; // by kind
  children: Map<string, ChildCache<KubernetesObject>>; // by kind, over `owned`
  byController: Map<string, InformerIndex<KubernetesObject>>; // by kind: owned objects by their controller's uid
  byLabel: Map<string, InformerIndex<KubernetesObject>>; // by `kind label`: owned objects by a label's value
  watched: Map<string, Informer<KubernetesObject>>; // by kind
  queue: WorkQueue;
  active?: Promise<void>; // the current term's work loop
}

export class ControllerManager {
  private readonly o: ControllerManagerOptions;
  private readonly log: Logger;
  private readonly running: Running[] = [];
  // One informer per (path, selectors, transform), whichever controllers read it (a kind one controller
  // owns and another watches is listed and watched once).
  private readonly shared = new Map<string, { informer: Informer<KubernetesObject>; transform?: (obj: KubernetesObject) => KubernetesObject }>();
  private readonly elector: LeaderElector | undefined;
  private leading = false;
  private stopping = false;
  private stopAll = new AbortController();

  constructor(opts: ControllerManagerOptions) {
    this.o = opts;
    this.log = opts.log;
    for (const def of opts.controllers) this.running.push(this.build(defineController(def)));
    if (opts.leaderElection) {
      this.elector = new LeaderElector({
        ...opts.leaderElection,
        kubeConfig: opts.kubeConfig,
        log: opts.log,
        onStartedLeading: (signal) => this.lead(signal),
        onStoppedLeading: () => {
          this.leading = false;
        },
      });
      opts.metrics?.trackLeader(opts.leaderElection.name, () => this.elector!.isLeader());
    }
  }

  private build(def: ControllerDefinition): Running {
    const name = def.name ?? def.for.kind.toLowerCase();
    const log = this.log.child({ controller: name });
    const inf = this.o.informer ?? {};
    // A transform builds the cached object afresh from what it keeps, managedFields never among it;
    // without one, the object is cached whole but for its managedFields.
    const cachedForm = (transform?: (obj: KubernetesObject) => KubernetesObject) => transform ?? stripManagedFields;
    const mk = (path: string, labelSelector?: string, fieldSelector?: string, transform?: (obj: KubernetesObject) => KubernetesObject) => {
      const key = [path, labelSelector ?? '', fieldSelector ?? ''].join(' ');
      const known = this.shared.get(key);
      if (known && known.transform === transform) return known.informer;
      const selectors = [labelSelector && `labelSelector=${labelSelector}`, fieldSelector && `fieldSelector=${fieldSelector}`].filter(Boolean).join('&');
      const informer = createInformer<KubernetesObject>({
        kubeConfig: this.o.kubeConfig,
        path,
        labelSelector,
        fieldSelector,
        resyncMs: 0,
        log,
        transform: cachedForm(transform),
        // Metrics and logs tell informers of one path apart by their selectors.
        ...(selectors ? { name: `${path}?${selectors}` } : {}),
        ...inf,
      });
      if (!known) this.shared.set(key, { informer, transform });
      return informer;
    };
    const primary = mk(resourcePath(def.for), def.for.labelSelector, def.for.fieldSelector, def.for.transform);
    const queue = new WorkQueue({
      name,
      ...this.o.queue,
      minIntervalMs: def.minIntervalMs,
      onError: (key, err, failures) => {
        const { namespace, name: objName } = splitKey(key);
        log.error({ namespace, name: objName, err: errText(err), failures }, 'reconcile failed; will retry with backoff');
      },
    });
    primary.onEvent((ev) => queue.add(objectKey(ev.obj)));
    const owned = new Map<string, Informer<KubernetesObject>>();
    const children = new Map<string, ChildCache<KubernetesObject>>();
    const byController = new Map<string, InformerIndex<KubernetesObject>>();
    const byLabel = new Map<string, InformerIndex<KubernetesObject>>();
    for (const o of def.owns ?? []) {
      const i = mk(o.path, o.labelSelector, o.fieldSelector, o.transform);
      // What a create answered is remembered in the form the informer caches.
      children.set(o.kind, new ChildCache((ns, n) => i.get(ns, n), { slim: cachedForm(o.transform) }));
      // A child's change is news about work under way (a Pod scheduled, Ready, gone): it goes before
      // objects not started yet, so a burst of new ones does not hold up the next step of those begun.
      i.onEvent((ev) => {
        const key = controllerOwnerKey(ev.obj, def.for.kind, def.for.apiVersion);
        if (key) queue.add(key, 'high');
        const oldKey = ev.old ? controllerOwnerKey(ev.old, def.for.kind, def.for.apiVersion) : undefined;
        if (oldKey && oldKey !== key) queue.add(oldKey, 'high');
      });
      owned.set(o.kind, i);
      byController.set(o.kind, new InformerIndex(i, controllerUid));
      for (const label of o.indexLabels ?? []) byLabel.set(`${o.kind} ${label}`, new InformerIndex(i, labelValue(label)));
    }
    const watched = new Map<string, Informer<KubernetesObject>>();
    for (const w of def.watches ?? []) {
      const i = mk(w.path, w.labelSelector, w.fieldSelector, w.transform);
      i.onEvent((ev) => {
        for (const key of w.map?.(ev.obj, () => primary.list()) ?? []) queue.add(key);
      });
      watched.set(w.kind, i);
    }
    const every = def.resyncMs ?? 10 * 60_000;
    if (every > 0) {
      // Periodic re-enqueue of everything, a safety net for missed or misrouted events.
      const t = setInterval(() => {
        if (primary.hasSynced()) for (const obj of primary.list()) queue.add(objectKey(obj));
      }, every);
      t.unref();
      this.stopAll.signal.addEventListener('abort', () => clearInterval(t));
    }
    this.o.metrics?.trackQueue(name, queue);
    this.o.metrics?.trackInformer(primary);
    for (const i of [...owned.values(), ...watched.values()]) this.o.metrics?.trackInformer(i);
    return { def: def as ControllerDefinition, name, log, primary, owned, children, byController, byLabel, watched, queue };
  }

  // The informer of a controller's primary resource (its cache serves metrics such as objects by phase).
  primaryInformer(controller: string): Informer<KubernetesObject> | undefined {
    return this.running.find((r) => r.name === controller)?.primary;
  }

  // The informer of a kind a controller owns (its cache serves metrics such as members by state).
  ownedKindInformer(controller: string, kind: string): Informer<KubernetesObject> | undefined {
    return this.running.find((r) => r.name === controller)?.owned.get(kind);
  }

  informers(): Array<Informer<KubernetesObject>> {
    return [...new Set(this.running.flatMap((r) => [r.primary, ...r.owned.values(), ...r.watched.values()]))];
  }

  hasSynced(): boolean {
    return this.informers().every((i) => i.hasSynced());
  }

  isLeader(): boolean {
    return this.leading;
  }

  queue(controller: string): WorkQueue | undefined {
    return this.running.find((r) => r.name === controller)?.queue;
  }

  healthChecks(): { liveness: HealthCheck[]; readiness: HealthCheck[] } {
    return {
      liveness: [informersNotWedged(() => this.informers())],
      readiness: [informersSynced(() => this.informers())],
    };
  }

  // Starts the informers, waits until their caches are filled, then campaigns (or simply leads).
  async start(): Promise<void> {
    await Promise.all(this.informers().map((i) => i.start()));
    if (this.stopping) return;
    this.log.info({ controllers: this.running.map((r) => r.name) }, 'caches synced');
    if (this.elector) this.elector.start();
    else this.lead(this.stopAll.signal);
  }

  // Stops handing out work, lets in-flight reconciles finish (for at most shutdownGraceMs), releases the
  // Lease, stops the informers.
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.stopAll.abort();
    let grace: NodeJS.Timeout | undefined;
    const inFlight = Promise.allSettled(this.running.map((r) => r.active));
    const timedOut = await Promise.race([
      inFlight.then(() => false),
      new Promise<boolean>((resolve) => {
        grace = setTimeout(() => resolve(true), this.o.shutdownGraceMs ?? 1000);
      }),
    ]);
    clearTimeout(grace);
    if (timedOut) this.log.warn({ graceMs: this.o.shutdownGraceMs ?? 1000 }, 'reconciles still in flight at shutdown; releasing the lease anyway');
    await this.elector?.stop();
    for (const r of this.running) r.queue.shutdown();
    for (const i of this.informers()) i.stop();
  }

  private lead(leaderSignal: AbortSignal): void {
    if (this.stopping) return;
    const signal = AbortSignal.any([leaderSignal, this.stopAll.signal]);
    this.leading = !signal.aborted;
    signal.addEventListener('abort', () => {
      this.leading = false;
    });
    this.log.info('leading: working the queues');
    for (const r of this.running) {
      // A previous term's in-flight reconciles must finish before this term hands out keys, so one key
      // never runs twice at once even across a quick loss and regain of the Lease.
      r.active = (r.active ?? Promise.resolve()).then(() => {
        if (signal.aborted) return;
        // A new leader does not know what its predecessor finished: look at everything once.
        for (const obj of r.primary.list()) r.queue.add(objectKey(obj));
        return r.queue.run((key) => this.work(r, key, signal), r.def.concurrency ?? 4, { signal });
      }).catch((err: unknown) => {
        r.log.error({ err: errText(err) }, 'work loop failed');
      });
    }
  }

  private async work(r: Running, key: string, signal: AbortSignal): Promise<Result | void> {
    const obj = r.primary.getByKey(key);
    if (!obj) return; // deleted: nothing left to reconcile, and the key's backoff is forgotten
    const { namespace, name } = splitKey(key);
    const ctx: ReconcileContext = {
      key,
      namespace,
      name,
      log: r.log.child({ namespace, name }),
      signal,
      failures: r.queue.numRequeues(key),
      owned: <O extends KubernetesObject>(kind: string) => {
        this.ownedInformer(r, kind);
        return r.byController.get(kind)!.get(obj.metadata?.uid ?? '').filter((o) => isControlledBy(o, obj)) as O[];
      },
      labelled: <O extends KubernetesObject>(kind: string, label: string, ns: string, value: string) => {
        const index = r.byLabel.get(`${kind} ${label}`);
        if (!index) throw new Error(`controller ${r.name} does not index ${kind} by label ${label}`);
        return index.get(`${ns}/${value}`) as O[];
      },
      children: <O extends KubernetesObject>(kind: string) => {
        this.ownedInformer(r, kind);
        return r.children.get(kind) as unknown as ChildCache<O>;
      },
      cached: <O extends KubernetesObject>(kind: string, ns: string, n: string) => {
        const i = r.watched.get(kind);
        if (!i) throw new Error(`controller ${r.name} does not watch kind ${kind}`);
        return i.get(ns, n) as O | undefined;
      },
    };
    const started = performance.now();
    let outcome: ReconcileOutcome = 'success';
    try {
      let res: Result | void;
      if (isBeingDeleted(obj)) {
        if (!r.def.finalizer || !r.def.finalize || !hasFinalizer(obj, r.def.finalizer)) return;
        const f = await r.def.finalize(obj, ctx);
        if (f === 'done') {
          ctx.log.info('finalized');
          return;
        }
        res = f;
      } else {
        res = await r.def.reconcile(obj, ctx);
      }
      outcome = reconcileOutcome(res);
      return res;
    } catch (err) {
      outcome = reconcileOutcome(undefined, err);
      throw err;
    } finally {
      this.o.metrics?.observeReconcile(r.name, outcome, (performance.now() - started) / 1000);
    }
  }

  private ownedInformer(r: Running, kind: string): Informer<KubernetesObject> {
    const i = r.owned.get(kind);
    if (!i) throw new Error(`controller ${r.name} does not own kind ${kind}`);
    return i;
  }
}

