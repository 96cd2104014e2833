// Where the route service learns about backends: an informer's cache of the routed namespace's
// SessionLivedBackends, kept slim (only what routing reads), the uids known to be gone, and fresh reads
// from the API server for the moments the cache may be behind.
import type { KubernetesObject } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from '../../common/contract.ts';
import { createInformer, type Informer } from '../../common/kube/informer.ts';
import type { KubeAccess } from '../../common/kube/kubeconfig.ts';
import { isNotFound } from '../../common/kube/errors.ts';
import { requestJson } from '../../common/kube/rest.ts';
import type { Logger } from '../../common/log.ts';
import { routeEntryOf, type EntryOptions, type RouteEntry, type SlbLike } from './decide.ts';

export interface RouteTable {
  get(name: string): RouteEntry | undefined;
  isDead(uid: string): boolean;
  markDead(uid: string): void;
  synced(): boolean;
}

// The current state of one backend from the API server (undefined: it does not exist). Throws when the
// API server cannot say.
export type FreshReader = (name: string) => Promise<RouteEntry | undefined>;

// Uids of backends that are gone. A uid never comes back, so remembering them lets an old link be
// refused without asking the API server again; the oldest are forgotten beyond `max`.
export class DeadUids {
  private readonly uids = new Set<string>();
  private readonly max: number;
  constructor(max = 10_000) {
    this.max = max;
  }
  has(uid: string): boolean {
    return this.uids.has(uid);
  }
  add(uid: string): void {
    if (!uid || this.uids.has(uid)) return;
    this.uids.add(uid);
    if (this.uids.size > this.max) this.uids.delete(this.uids.values().next().value!);
  }
  get size(): number {
    return this.uids.size;
  }
}

// A table fed by hand: the unit tier's route service runs on one, and tests flip its entries.
export class StaticRouteTable implements RouteTable {
  readonly entries = new Map<string, RouteEntry>();
  readonly dead = new DeadUids();
  constructor(entries: RouteEntry[] = []) {
    for (const e of entries) this.entries.set(e.name, e);
  }
  set(e: RouteEntry): void {
    this.entries.set(e.name, e);
  }
  delete(name: string): void {
    const e = this.entries.get(name);
    if (e) this.dead.add(e.uid);
    this.entries.delete(name);
  }
  get(name: string): RouteEntry | undefined {
    return this.entries.get(name);
  }
  isDead(uid: string): boolean {
    return this.dead.has(uid);
  }
  markDead(uid: string): void {
    this.dead.add(uid);
  }
  synced(): boolean {
    return true;
  }
}

export function slbCollectionPath(namespace: string): string {
  return `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`;
}

// The informer caches this instead of the whole object.
interface SlimSlb extends KubernetesObject {
  route: RouteEntry;
}

export interface InformerTableOptions extends EntryOptions {
  kubeAccess: KubeAccess;
  namespace: string;
  log: Logger;
  silenceTimeoutMs?: number;
}

export interface InformerRouteTable extends RouteTable {
  informer: Informer<SlimSlb>;
  start(): Promise<void>;
  stop(): void;
}

export function informerRouteTable(o: InformerTableOptions): InformerRouteTable {
  const dead = new DeadUids();
  const informer = createInformer<SlimSlb>({
    kubeConfig: o.kubeAccess,
    path: slbCollectionPath(o.namespace),
    silenceTimeoutMs: o.silenceTimeoutMs,
    log: o.log,
    name: 'sessionlivedbackends',
    transform: (obj) => {
      const slb = obj as unknown as SlbLike & KubernetesObject;
      return {
        metadata: { name: slb.metadata?.name, namespace: slb.metadata?.namespace, uid: slb.metadata?.uid, resourceVersion: slb.metadata?.resourceVersion },
        route: routeEntryOf(slb, o),
      };
    },
  });
  informer.onEvent((ev) => {
    if (ev.type === 'delete') dead.add(ev.obj.route.uid);
    // A relist that finds the name re-created shows up as an update with a new uid.
    else if (ev.type === 'update' && ev.old && ev.old.route.uid !== ev.obj.route.uid) dead.add(ev.old.route.uid);
  });
  return {
    informer,
    get: (name) => informer.get(o.namespace, name)?.route,
    isDead: (uid) => dead.has(uid),
    markDead: (uid) => dead.add(uid),
    synced: () => informer.hasSynced() && !informer.isWedged(),
    start: () => informer.start(),
    stop: () => informer.stop(),
  };
}

// GET …/sessionlivedbackends/<name>: a quorum read, so it reflects every write that completed before
// it was sent — in particular the status write that made the backend Ready.
export function apiFreshReader(o: EntryOptions & { kubeAccess: KubeAccess; namespace: string; timeoutMs: number }): FreshReader {
  return async (name) => {
    try {
      const slb = await requestJson<SlbLike>(o.kubeAccess, { path: `${slbCollectionPath(o.namespace)}/${name}`, timeoutMs: o.timeoutMs });
      return routeEntryOf(slb, o);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  };
}

// At most one read per key (a backend's name) in flight, and a request never joins a read sent before it
// arrived (that read may predate the write it needs to see): requests arriving during a read share the
// next one, made with the first of their arguments.
export function coalescing<A, T>(read: (arg: A) => Promise<T>, keyOf: (arg: A) => string = String): (arg: A) => Promise<T> {
  interface Slot {
    inflight: Promise<T>;
    queued?: { arg: A; promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void };
  }
  const slots = new Map<string, Slot>();
  const launch = (key: string, arg: A): Promise<T> => {
    const p = read(arg);
    const settle = () => {
      const slot = slots.get(key)!;
      const q = slot.queued;
      if (!q) {
        slots.delete(key);
        return;
      }
      slot.queued = undefined;
      slot.inflight = launch(key, q.arg);
      slot.inflight.then(q.resolve, q.reject);
    };
    p.then(settle, settle);
    return p;
  };
  return (arg) => {
    const key = keyOf(arg);
    const slot = slots.get(key);
    if (!slot) {
      const inflight = launch(key, arg);
      slots.set(key, { inflight });
      return inflight;
    }
    if (!slot.queued) {
      let resolve!: (v: T) => void;
      let reject!: (e: unknown) => void;
      const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
      slot.queued = { arg, promise, resolve, reject };
    }
    return slot.queued.promise;
  };
}
