// What a pool's controller has asked for that its cache does not show yet: members created but not yet
// seen, and deletes issued but not yet seen through. Without it a pass that runs right after a create
// would create again (client-go's ReplicaSet keeps the same "expectations"). Entries expire after
// `ttlMs`: a create the watch never shows (deleted at once by someone) must not block the pool for ever.
import type { V1Pod } from '@kubernetes/client-node';

export class MemberExpectations {
  private readonly creates = new Map<string, Map<string, number>>(); // pool key → member name → when
  private readonly deletes = new Map<string, number>(); // member uid → when
  private readonly ttlMs: number;

  constructor(ttlMs = 30_000) {
    this.ttlMs = ttlMs;
  }

  created(poolKey: string, memberName: string, now = Date.now()): void {
    let names = this.creates.get(poolKey);
    if (!names) this.creates.set(poolKey, (names = new Map()));
    names.set(memberName, now);
  }

  /** Creates of this pool the cache (`seen`, the pool's members) does not show yet; forgets the seen ones. */
  pendingCreates(poolKey: string, seen: V1Pod[], now = Date.now()): number {
    const names = this.creates.get(poolKey);
    if (!names) return 0;
    const seenNames = new Set(seen.map((p) => p.metadata?.name));
    for (const [name, at] of names) if (seenNames.has(name) || now - at > this.ttlMs) names.delete(name);
    if (names.size === 0) this.creates.delete(poolKey);
    return names.size;
  }

  deleteIssued(uid: string, now = Date.now()): void {
    this.deletes.set(uid, now);
    for (const [u, at] of this.deletes) if (now - at > this.ttlMs) this.deletes.delete(u);
  }

  deleteRequested(uid: string, now = Date.now()): boolean {
    const at = this.deletes.get(uid);
    return at !== undefined && now - at <= this.ttlMs;
  }

  forget(poolKey: string): void {
    this.creates.delete(poolKey);
  }
}
