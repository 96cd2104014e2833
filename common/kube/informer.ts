// An informer: list, then watch from the list's resourceVersion, keeping a cache and telling handlers
// what changed. It never gives up: a watch that errors, ends or goes silent is restarted (with backoff
// when it made no progress), and a 410 Gone relists and emits the differences against the cache, so a
// deletion that happened while no watch was open is still seen.

import type { KubernetesObject } from '@kubernetes/client-node';
import type { KubeAccess } from './kubeconfig.ts';
import type { IncomingMessage } from 'node:http';
import { errText, type Logger } from '../log.ts';
import { backoffDelay, type BackoffPolicy } from './backoff.ts';
import { interruptibleSleep } from './clock.ts';
import { joinKey, objectKey } from './owners.ts';
import { errorFromResponse, statusError } from './errors.ts';
import { openRequest, readBody, requestJson } from './rest.ts';

export type InformerEventType = 'add' | 'update' | 'delete' | 'resync';

export interface InformerEvent<T> {
  type: InformerEventType;
  obj: T;
  old?: T; // on 'update': the cached object before the change
}

export type InformerHandler<T> = (ev: InformerEvent<T>) => void | Promise<void>;

export interface InformerOptions<T extends KubernetesObject = KubernetesObject> {
  kubeConfig: KubeAccess;
  // Collection path, e.g. '/api/v1/pods' or '/apis/spawner.dev/v1/namespaces/x/sessionlivedbackends'.
  path: string;
  labelSelector?: string;
  fieldSelector?: string;
  // Restart a watch that brought no event or bookmark (or no response headers) for this long.
  silenceTimeoutMs?: number;
  // Server-side watch timeout; defaults to a random 50–80 % of silenceTimeoutMs so that a healthy quiet
  // watch is closed by the server before the watchdog would fire, and replicas do not restart in step.
  watchTimeoutSeconds?: number;
  // Emit 'resync' for every cached object this often (0 or unset: never).
  resyncMs?: number;
  pageSize?: number; // list page size (limit/continue)
  requestTimeoutMs?: number; // per list page
  backoffInitialMs?: number; // restart backoff after a failed list or a watch without progress
  backoffMaxMs?: number;
  log: Logger;
  name?: string; // for logs and metrics; defaults to the path
  // Applied to every object before it is cached and handed out, e.g. stripManagedFields: what a
  // controller never reads need not be kept for every object it watches.
  transform?: (obj: T) => T;
}

// metadata.managedFields is often the largest part of an object and no controller logic reads it
// (client-go's informers drop it the same way). The metadata is rebuilt without it rather than the
// property deleted: a deleted property turns the object into a hash table (V8's dictionary mode), larger
// and slower for as long as thousands of cached objects live.
export function stripManagedFields<T extends KubernetesObject>(obj: T): T {
  if (!obj.metadata?.managedFields) return obj;
  const { managedFields: _dropped, ...metadata } = obj.metadata;
  obj.metadata = metadata;
  return obj;
}

export type RestartReason = 'ended' | 'gone' | 'silent' | 'error';

export type InformerState = 'idle' | 'listing' | 'watching' | 'backoff' | 'stopped';

export interface InformerStatus {
  name: string;
  synced: boolean;
  state: InformerState;
  resourceVersion: string | undefined;
  lastActivityAt: number;
  consecutiveFailures: number;
  lists: number;
  watches: number;
  restarts: Record<RestartReason, number>;
  lastError: string | undefined;
}

export interface Informer<T extends KubernetesObject> {
  readonly name: string;
  on(type: InformerEventType, handler: (obj: T, old?: T) => void | Promise<void>): () => void;
  onEvent(handler: InformerHandler<T>): () => void;
  start(): Promise<void>; // resolves once the first list is in the cache
  stop(): void;
  hasSynced(): boolean;
  list(): T[];
  get(namespace: string, name: string): T | undefined;
  getByKey(key: string): T | undefined;
  status(): InformerStatus;
  // True when the list/watch loop has made no attempt or progress for far longer than its own timeouts
  // allow: the loop is stuck, which a restart of the process would fix.
  isWedged(now?: number): boolean;
}

interface WatchEventLine {
  type?: string;
  object?: KubernetesObject & { code?: number; message?: string; reason?: string };
}

interface ListBody<T> {
  metadata?: { resourceVersion?: string; continue?: string };
  items?: T[];
}

class GoneError extends Error {}

export function createInformer<T extends KubernetesObject>(opts: InformerOptions<T>): Informer<T> {
  return new ListWatchInformer<T>(opts);
}

class ListWatchInformer<T extends KubernetesObject> implements Informer<T> {
  readonly name: string;
  private readonly o: InformerOptions<T>;
  private readonly log: Logger;
  private readonly silenceMs: number;
  private readonly requestTimeoutMs: number;
  private readonly backoffInitialMs: number;
  private readonly backoffMaxMs: number;

  private cache = new Map<string, T>();
  private handlers = new Set<InformerHandler<T>>();
  private rv: string | undefined;
  private synced = false;
  private started = false;
  private stopped = false;
  private state: InformerState = 'idle';
  private lastActivityAt = Date.now();
  private nextAttemptAt = 0;
  private consecutiveFailures = 0;
  private lastError: string | undefined;
  private lists = 0;
  private watches = 0;
  private restarts: Record<RestartReason, number> = { ended: 0, gone: 0, silent: 0, error: 0 };
  private abort: AbortController | undefined;
  private wakeSleep: (() => void) | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private syncWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];

  constructor(opts: InformerOptions<T>) {
    this.o = opts;
    this.name = opts.name ?? opts.path;
    this.log = opts.log.child({ informer: this.name });
    this.silenceMs = opts.silenceTimeoutMs ?? 5 * 60_000;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 60_000;
    this.backoffInitialMs = opts.backoffInitialMs ?? 800;
    this.backoffMaxMs = opts.backoffMaxMs ?? 30_000;
    if (!opts.path.startsWith('/')) throw new Error(`informer path must start with '/': ${opts.path}`);
    if (!(this.silenceMs > 0)) throw new Error('informer silenceTimeoutMs must be > 0');
    if (!(this.backoffInitialMs > 0 && this.backoffMaxMs >= this.backoffInitialMs)) {
      throw new Error('informer backoff: need 0 < backoffInitialMs <= backoffMaxMs');
    }
  }

  on(type: InformerEventType, handler: (obj: T, old?: T) => void | Promise<void>): () => void {
    return this.onEvent((ev) => (ev.type === type ? handler(ev.obj, ev.old) : undefined));
  }

  onEvent(handler: InformerHandler<T>): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  start(): Promise<void> {
    if (this.stopped) return Promise.reject(new Error(`informer ${this.name} was stopped`));
    const p = this.synced
      ? Promise.resolve()
      : new Promise<void>((resolve, reject) => this.syncWaiters.push({ resolve, reject }));
    if (!this.started) {
      this.started = true;
      void this.loop();
      const every = this.o.resyncMs ?? 0;
      if (every > 0) {
        this.resyncTimer = setInterval(() => this.resync(), every);
        this.resyncTimer.unref();
      }
    }
    return p;
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.setState('stopped');
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    this.abort?.abort();
    this.wakeSleep?.();
    for (const w of this.syncWaiters.splice(0)) w.reject(new Error(`informer ${this.name} stopped before sync`));
  }

  hasSynced(): boolean {
    return this.synced;
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  get(namespace: string, name: string): T | undefined {
    return this.cache.get(joinKey(namespace, name));
  }

  getByKey(key: string): T | undefined {
    return this.cache.get(key);
  }

  status(): InformerStatus {
    return {
      name: this.name,
      synced: this.synced,
      state: this.state,
      resourceVersion: this.rv,
      lastActivityAt: this.lastActivityAt,
      consecutiveFailures: this.consecutiveFailures,
      lists: this.lists,
      watches: this.watches,
      restarts: { ...this.restarts },
      lastError: this.lastError,
    };
  }

  isWedged(now = Date.now()): boolean {
    const slack = 2 * Math.max(this.silenceMs, this.requestTimeoutMs);
    switch (this.state) {
      case 'idle':
      case 'stopped':
        return false;
      case 'backoff':
        return now > this.nextAttemptAt + slack;
      default:
        return now - this.lastActivityAt > slack;
    }
  }

  private setState(s: InformerState): void {
    this.state = s;
    this.lastActivityAt = Date.now();
  }

  private async loop(): Promise<void> {
    // Attempts in a row that made no progress; with jitter so that replicas do not hammer a recovering
    // API server in step.
    const backoff: BackoffPolicy = { initialMs: this.backoffInitialMs, maxMs: this.backoffMaxMs, factor: 2, jitter: 0.5 };
    let idleAttempts = 0;
    let needList = true;
    while (!this.stopped) {
      let progressed = false;
      try {
        if (needList) {
          await this.relist();
          needList = false;
          progressed = true;
        }
        const outcome = await this.watchOnce();
        progressed ||= outcome.progressed;
        if (this.stopped) break;
        this.restarts[outcome.reason]++;
        if (outcome.reason === 'gone') needList = true;
        this.log.debug({ reason: outcome.reason, resourceVersion: this.rv }, 'watch restarting');
        if (outcome.reason !== 'ended') this.consecutiveFailures++;
        else this.consecutiveFailures = 0;
      } catch (err) {
        if (this.stopped) break;
        if (err instanceof GoneError) {
          needList = true;
          this.restarts.gone++;
        } else {
          this.restarts.error++;
        }
        this.consecutiveFailures++;
        this.lastError = errText(err);
        this.log.warn({ err: this.lastError, resourceVersion: this.rv }, 'list/watch failed; retrying');
      }
      if (this.stopped) break;
      if (progressed) {
        idleAttempts = 0;
        continue;
      }
      // Without progress the same request would fail the same way at once: back off.
      await this.sleep(backoffDelay(backoff, idleAttempts++));
    }
  }

  private async sleep(ms: number): Promise<void> {
    this.nextAttemptAt = Date.now() + ms;
    this.setState('backoff');
    const s = interruptibleSleep(ms);
    this.wakeSleep = s.wake;
    await s.done;
    if (this.wakeSleep === s.wake) this.wakeSleep = undefined;
  }

  private async relist(): Promise<void> {
    this.setState('listing');
    const items: T[] = [];
    let cont: string | undefined;
    let rv: string | undefined;
    do {
      const ac = new AbortController();
      this.abort = ac;
      const page = await requestJson<ListBody<T>>(this.o.kubeConfig, {
        path: this.o.path,
        query: {
          labelSelector: this.o.labelSelector,
          fieldSelector: this.o.fieldSelector,
          limit: this.o.pageSize ?? 500,
          continue: cont,
        },
        timeoutMs: this.requestTimeoutMs,
        signal: ac.signal,
      });
      this.lastActivityAt = Date.now();
      const transform = this.o.transform;
      for (const item of page.items ?? []) items.push(transform ? transform(item) : item);
      cont = page.metadata?.continue || undefined;
      rv = page.metadata?.resourceVersion;
    } while (cont && !this.stopped);
    if (this.stopped) return;
    this.lists++;
    this.replace(items, rv);
  }

  // Swaps the cache for a fresh list and emits what differs: new objects as 'add', changed ones as
  // 'update', and objects that vanished (deleted while we were not watching) as 'delete'.
  private replace(items: T[], rv: string | undefined): void {
    const next = new Map<string, T>();
    for (const obj of items) next.set(objectKey(obj), obj);
    const prev = this.cache;
    this.cache = next;
    this.rv = rv;
    const firstSync = !this.synced;
    this.synced = true;
    this.log.info({ objects: next.size, resourceVersion: rv, firstSync }, 'listed');
    for (const [key, obj] of next) {
      const old = prev.get(key);
      if (!old) this.emit({ type: 'add', obj });
      else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) this.emit({ type: 'update', obj, old });
    }
    for (const [key, old] of prev) {
      if (!next.has(key)) this.emit({ type: 'delete', obj: old });
    }
    if (firstSync) for (const w of this.syncWaiters.splice(0)) w.resolve();
  }

  private watchOnce(): Promise<{ reason: RestartReason; progressed: boolean }> {
    this.setState('watching');
    this.watches++;
    const ac = new AbortController();
    this.abort = ac;
    const timeoutSeconds =
      this.o.watchTimeoutSeconds ?? Math.max(1, Math.floor((this.silenceMs * (0.5 + Math.random() * 0.3)) / 1000));
    let progressed = false;
    let silent = false;
    let lastHeard = Date.now();

    return new Promise((resolve, reject) => {
      let settled = false;
      let watchdog: NodeJS.Timeout | undefined;
      const finish = (r: { reason: RestartReason } | { err: unknown }) => {
        if (settled) return;
        settled = true;
        if (watchdog) clearTimeout(watchdog);
        ac.abort();
        if ('err' in r) reject(r.err);
        else resolve({ reason: r.reason, progressed });
      };
      const arm = (ms: number) => {
        watchdog = setTimeout(() => {
          const quiet = Date.now() - lastHeard;
          if (quiet >= this.silenceMs) {
            silent = true;
            this.log.warn({ silentMs: quiet, resourceVersion: this.rv }, 'watch silent too long; restarting it');
            finish({ reason: 'silent' });
          } else {
            arm(this.silenceMs - quiet);
          }
        }, ms);
        watchdog.unref();
      };
      arm(this.silenceMs);
      ac.signal.addEventListener('abort', () => {
        if (this.stopped) finish({ reason: 'ended' });
      });

      openRequest(this.o.kubeConfig, {
        path: this.o.path,
        query: {
          watch: 'true',
          resourceVersion: this.rv,
          allowWatchBookmarks: 'true',
          timeoutSeconds,
          labelSelector: this.o.labelSelector,
          fieldSelector: this.o.fieldSelector,
        },
        signal: ac.signal,
        keepAlive: false,
      }).then(
        (res) => this.consume(res, ac, {
          heard: () => {
            lastHeard = Date.now();
            this.lastActivityAt = lastHeard;
          },
          progressed: () => {
            progressed = true;
            this.consecutiveFailures = 0;
          },
          finish,
        }),
        (err) => finish(silent || this.stopped ? { reason: silent ? 'silent' : 'ended' } : { err }),
      );
    });
  }

  private consume(
    res: IncomingMessage,
    ac: AbortController,
    cb: {
      heard: () => void;
      progressed: () => void;
      finish: (r: { reason: RestartReason } | { err: unknown }) => void;
    },
  ): void {
    const code = res.statusCode ?? 0;
    if (code !== 200) {
      readBody(res).then(
        (text) => {
          if (code === 410) cb.finish({ err: new GoneError('watch: 410 Gone') });
          else cb.finish({ err: errorFromResponse(code, text, `watch ${this.o.path}`) });
        },
        (err) => cb.finish({ err }),
      );
      return;
    }
    cb.heard();
    res.setEncoding('utf8');
    let buf = '';
    res.on('data', (chunk: string) => {
      // Lines are cut from a moving start and the rest kept once per chunk: re-slicing the buffer per
      // line made a chunk of many events (an initial burst) cost time quadratic in its size.
      buf += chunk;
      let start = 0;
      let nl: number;
      while ((nl = buf.indexOf('\n', start)) >= 0 && !ac.signal.aborted) {
        const line = buf.slice(start, nl).trim();
        start = nl + 1;
        if (!line) continue;
        cb.heard();
        let ev: WatchEventLine;
        try {
          ev = JSON.parse(line) as WatchEventLine;
        } catch {
          cb.finish({ err: new Error(`watch: unparsable line: ${line.slice(0, 200)}`) });
          return;
        }
        const r = this.apply(ev);
        if (r === 'progress') cb.progressed();
        else if (r !== 'ignored') {
          cb.finish(r);
          return;
        }
      }
      if (start > 0) buf = buf.slice(start);
    });
    res.on('end', () => cb.finish({ reason: 'ended' }));
    res.on('error', (err) => cb.finish(ac.signal.aborted ? { reason: 'ended' } : { err }));
    res.on('close', () => cb.finish({ reason: 'ended' }));
  }

  private apply(ev: WatchEventLine): 'progress' | 'ignored' | { reason: RestartReason } | { err: unknown } {
    const obj = ev.object;
    if (!obj) return { err: new Error(`watch: event ${ev.type} without object`) };
    if (ev.type === 'ERROR') {
      if (obj.code === 410) return { reason: 'gone' };
      return { err: statusError(obj.code ?? 0, obj.reason ?? '', `watch error event: ${obj.message ?? obj.reason ?? 'unknown'}`) };
    }
    const rv = obj.metadata?.resourceVersion;
    if (ev.type === 'BOOKMARK') {
      if (rv) this.rv = rv;
      return 'progress';
    }
    const key = objectKey(obj);
    const typed = this.o.transform ? this.o.transform(obj as T) : (obj as T);
    if (ev.type === 'ADDED' || ev.type === 'MODIFIED') {
      const old = this.cache.get(key);
      this.cache.set(key, typed);
      if (rv) this.rv = rv;
      this.emit(old ? { type: 'update', obj: typed, old } : { type: 'add', obj: typed });
      return 'progress';
    }
    if (ev.type === 'DELETED') {
      this.cache.delete(key);
      if (rv) this.rv = rv;
      this.emit({ type: 'delete', obj: typed });
      return 'progress';
    }
    this.log.warn({ eventType: ev.type }, 'unknown watch event type; ignored');
    return 'ignored';
  }

  private resync(): void {
    if (!this.synced || this.stopped) return;
    for (const obj of this.cache.values()) this.emit({ type: 'resync', obj });
  }

  private emit(ev: InformerEvent<T>): void {
    for (const h of this.handlers) {
      try {
        const r = h(ev);
        if (r && typeof (r as Promise<void>).then === 'function') {
          (r as Promise<void>).catch((err: unknown) => this.handlerFailed(ev, err));
        }
      } catch (err) {
        this.handlerFailed(ev, err);
      }
    }
  }

  private handlerFailed(ev: InformerEvent<T>, err: unknown): void {
    this.log.error(
      { err: errText(err), event: ev.type, namespace: ev.obj.metadata?.namespace, name: ev.obj.metadata?.name },
      'informer event handler threw',
    );
  }
}
