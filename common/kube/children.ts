// The operator's view of a backend's Pod and Service: the informer cache, corrected by its own recent
// writes that the cache has not shown yet. Without the correction a reconcile that runs right after a
// create would create again (a wasted write answered 409) or delete twice.
import type { KubernetesObject } from '@kubernetes/client-node';

interface Created<T> {
  obj: T;
  at: number;
}

interface Memory<T> {
  created: Map<string, Created<T>>;
  deletedUids: Map<string, number>;
  slim: (obj: T) => T;
}

export class ChildCache<T extends KubernetesObject> {
  private readonly created: Map<string, Created<T>>;
  private readonly deletedUids: Map<string, number>;
  private readonly lookup: (namespace: string, name: string) => T | undefined;
  private readonly ttlMs: number;
  private readonly slim: (obj: T) => T;

  // `slim` trims what is remembered of a create's answer as the informer trims what it caches: under
  // load thousands of answers (managedFields and all) wait here for the watch to catch up.
  constructor(lookup: (namespace: string, name: string) => T | undefined, ttlMs = 30_000, memory?: Partial<Memory<T>>) {
    this.lookup = lookup;
    this.ttlMs = ttlMs;
    this.created = memory?.created ?? new Map();
    this.deletedUids = memory?.deletedUids ?? new Map();
    this.slim = memory?.slim ?? ((obj) => obj);
  }

  // The same memory of our writes over another view of the cache (each reconcile brings its own).
  withLookup(lookup: (namespace: string, name: string) => T | undefined): ChildCache<T> {
    return new ChildCache(lookup, this.ttlMs, { created: this.created, deletedUids: this.deletedUids, slim: this.slim });
  }

  get(namespace: string, name: string, now = Date.now()): T | undefined {
    const key = `${namespace}/${name}`;
    const cached = this.lookup(namespace, name);
    const created = this.created.get(key);
    if (created && (cached || now - created.at > this.ttlMs)) this.created.delete(key);
    const current = cached ?? (created && now - created.at <= this.ttlMs ? created.obj : undefined);
    return current;
  }

  rememberCreated(obj: T, now = Date.now()): void {
    this.created.set(`${obj.metadata?.namespace}/${obj.metadata?.name}`, { obj: this.slim(obj), at: now });
  }

  rememberDeleted(uid: string, now = Date.now()): void {
    this.deletedUids.set(uid, now);
    for (const [u, at] of this.deletedUids) if (now - at > this.ttlMs) this.deletedUids.delete(u);
  }

  deleteRequested(uid: string | undefined): boolean {
    return uid !== undefined && this.deletedUids.has(uid);
  }
}

// The same idea for the backend itself: after we patched it, the cache may still hold the version we
// patched; the patched result stands in for it until the cache moves on.
export class LatestWrites<T extends KubernetesObject> {
  // For each object: our latest write, and every version it supersedes (a chain of patches).
  private readonly written = new Map<string, { superseded: Set<string>; result: T }>();

  remember(base: T, result: T): void {
    // The answer to a patch carries managedFields; what the cache would hold does not.
    if (result.metadata?.managedFields) result = { ...result, metadata: { ...result.metadata, managedFields: undefined } };
    const key = keyOfObj(base);
    const superseded = this.written.get(key)?.superseded ?? new Set<string>();
    superseded.add(base.metadata?.resourceVersion ?? '');
    this.written.set(key, { superseded, result });
  }

  resolve(cached: T): T {
    const key = keyOfObj(cached);
    const entry = this.written.get(key);
    if (!entry) return cached;
    if (entry.superseded.has(cached.metadata?.resourceVersion ?? '')) return entry.result;
    this.written.delete(key);
    return cached;
  }

  forget(key: string): void {
    this.written.delete(key);
  }
}

function keyOfObj(obj: KubernetesObject): string {
  return `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
}
