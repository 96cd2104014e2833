// A controller's view of its children: the informer cache, corrected by the controller's own recent
// writes that the cache has not shown yet (kube-controller-manager's "expectations"). Without the
// correction a reconcile that runs right after a create would create again (a wasted write answered 409)
// or delete twice. The manager builds one ChildCache per owned kind over that kind's informer and hands
// it to every reconcile (ReconcileContext.children).
import type { KubernetesObject } from '@kubernetes/client-node';
import { joinKey, objectKey } from './owners.ts';

interface Created<T> {
  obj: T;
  at: number;
}

export class ChildCache<T extends KubernetesObject> {
  private readonly created: Map<string, Created<T>>;
  private readonly deletedUids: Map<string, number>;
  private readonly lookup: (namespace: string, name: string) => T | undefined;
  private readonly ttlMs: number;
  private readonly slim: (obj: T) => T;

  // `lookup` reads the informer's cache. `slim` trims what is remembered of a create's answer as the
  // informer trims what it caches: under load thousands of answers (managedFields and all) wait here for
  // the watch to catch up.
  constructor(lookup: (namespace: string, name: string) => T | undefined, opts: { ttlMs?: number; slim?: (obj: T) => T } = {}) {
    this.lookup = lookup;
    this.ttlMs = opts.ttlMs ?? 30_000;
    this.created = new Map();
    this.deletedUids = new Map();
    this.slim = opts.slim ?? ((obj) => obj);
  }

  get(namespace: string, name: string, now = Date.now()): T | undefined {
    const key = joinKey(namespace, name);
    const cached = this.lookup(namespace, name);
    const created = this.created.get(key);
    if (created && (cached || now - created.at > this.ttlMs)) this.created.delete(key);
    const current = cached ?? (created && now - created.at <= this.ttlMs ? created.obj : undefined);
    return current;
  }

  rememberCreated(obj: T, now = Date.now()): void {
    this.created.set(objectKey(obj), { obj: this.slim(obj), at: now });
  }

  rememberDeleted(uid: string, now = Date.now()): void {
    this.deletedUids.set(uid, now);
    for (const [u, at] of this.deletedUids) if (now - at > this.ttlMs) this.deletedUids.delete(u);
  }

  deleteRequested(uid: string | undefined): boolean {
    return uid !== undefined && this.deletedUids.has(uid);
  }
}

// The same idea for the primary object: after the controller patched it, the cache may still hold the
// version it patched; the patched result stands in for it until the cache moves on.
export class LatestWrites<T extends KubernetesObject> {
  // For each object: our latest write, and every version it supersedes (a chain of patches).
  private readonly written = new Map<string, { superseded: Set<string>; result: T }>();

  remember(base: T, result: T): void {
    // The answer to a patch carries managedFields; what the cache would hold does not.
    if (result.metadata?.managedFields) result = { ...result, metadata: { ...result.metadata, managedFields: undefined } };
    const key = objectKey(base);
    const superseded = this.written.get(key)?.superseded ?? new Set<string>();
    superseded.add(base.metadata?.resourceVersion ?? '');
    this.written.set(key, { superseded, result });
  }

  resolve(cached: T): T {
    const key = objectKey(cached);
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
