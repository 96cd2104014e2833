// The I/O of a claim, for the backend reconcile (operator/src/spawner/reconcile.ts): what a backend with
// spec.poolRef has (its Pods, its pool), and the claim itself — members tried in turn, each with the one
// conditional hand-over patch, beside the backend's finalizer patch so that the two round trips overlap.
import type { V1Pod } from '@kubernetes/client-node';
import { LABEL_TEMPLATE_HASH } from '../../../common/contract.ts';
import type { ChildCache } from '../../../common/kube/children.ts';
import { isConflict, isNotFound } from '../../../common/kube/errors.ts';
import { isControlledBy } from '../../../common/kube/owners.ts';
import type { Logger } from '../../../common/log.ts';
import type { PoolOrigin, SessionLivedBackend } from '../../../common/spawner/types.ts';
import { slimPod } from '../spawner/slim.ts';
import type { SpawnerConfig } from '../spawner/types.ts';
import { byAge, templateHash, type WarmPool } from './members.ts';
import type { PoolMetrics } from './metrics.ts';
import { claimCandidates, claimPatch, isClaimedMember, type ClaimLedger } from './claim.ts';

// What the backend reconcile reads and writes for pooled backends.
export interface PoolAccess {
  pool(namespace: string, name: string): WarmPool | undefined; // the WarmPool cache
  members(namespace: string, pool: string): V1Pod[]; // cached Pods labelled with the pool (unclaimed members)
  owned(slb: SessionLivedBackend): V1Pod[]; // cached Pods the backend controls
  claimMember(pod: V1Pod, patch: object): Promise<V1Pod>;
  ledger: ClaimLedger;
  metrics?: PoolMetrics;
}

// Members tried per reconcile before starting cold: each loss means another claim took that member just
// now; after a few in a row the pool is being emptied faster than this cache learns of it.
export const MAX_CLAIM_ATTEMPTS = 5;

/**
 * Every Pod the backend controls, as this process knows them: the cache, a claim or a create of its own
 * the cache has not shown yet. More than one happens only across a leader change (see surplusPods).
 */
export function podsOfBackend(slb: SessionLivedBackend, pa: PoolAccess, pods: ChildCache<V1Pod>): V1Pod[] {
  const byName = new Map<string, V1Pod>();
  for (const p of pa.owned(slb)) byName.set(p.metadata!.name!, p);
  const claimed = pa.ledger.claimedFor(slb.metadata.uid!);
  if (claimed && byName.has(claimed.metadata!.name!)) pa.ledger.forget(slb.metadata.uid!); // the cache shows it now
  else if (claimed) byName.set(claimed.metadata!.name!, claimed);
  const { namespace, name } = slb.metadata as { namespace: string; name: string };
  const named = pods.get(namespace, name); // a cold start's Pod, remembered from its create
  if (named && isControlledBy(named, slb) && !byName.has(name)) byName.set(name, named);
  return [...byName.values()].sort(byAge);
}

/** The Pod the backend keeps: the one its status names, else a claimed member, else the oldest. */
export function keptPod(pods: V1Pod[], slb: SessionLivedBackend): V1Pod | undefined {
  return pods.find((p) => p.metadata?.name === slb.status?.podName) ?? pods.find(isClaimedMember) ?? pods[0];
}

/** What the pool gave a backend: written to its status.pool with the claim or the cold start. */
export function poolOrigin(pool: WarmPool, config: SpawnerConfig, member?: V1Pod): PoolOrigin {
  const origin: PoolOrigin = { templateHash: member?.metadata?.labels?.[LABEL_TEMPLATE_HASH] ?? templateHash(pool, config) };
  if (member) origin.member = member.metadata!.name!;
  const { httpPort, sidecar, startupTimeoutSeconds } = pool.spec;
  if (httpPort !== undefined) origin.httpPort = httpPort;
  if (sidecar !== undefined) origin.sidecar = sidecar;
  if (startupTimeoutSeconds !== undefined) origin.startupTimeoutSeconds = startupTimeoutSeconds;
  return origin;
}

export function candidatesFor(slb: SessionLivedBackend, pool: WarmPool, pa: PoolAccess, config: SpawnerConfig, now: Date): V1Pod[] {
  const members = pa.members(slb.metadata.namespace!, pool.metadata.name!);
  return claimCandidates(members, pool, templateHash(pool, config), (uid) => pa.ledger.taken(uid, now.getTime()), MAX_CLAIM_ATTEMPTS * 2);
}

/**
 * Tries the candidates in turn until one hand-over succeeds. A 409 (another claim or the pool's
 * scale-down got there first) or 404 (deleted meanwhile) moves on to the next; any other error is thrown.
 * `reconcileStarted` (performance.now()): the line of a won claim says how long the reconcile and the
 * hand-over patch took, so bench/claim can split a claim's latency into its stages.
 */
export async function claimOne(slb: SessionLivedBackend, pool: WarmPool, candidates: V1Pod[], pa: PoolAccess, log: Logger, reconcileStarted = performance.now()): Promise<V1Pod | undefined> {
  let attempts = 0;
  for (const member of candidates) {
    if (attempts >= MAX_CLAIM_ATTEMPTS) break;
    const uid = member.metadata!.uid!;
    if (!pa.ledger.reserve(uid)) continue;
    attempts += 1;
    try {
      const sent = performance.now();
      const claimed = slimPod(await pa.claimMember(member, claimPatch(member, slb, pool)));
      pa.ledger.won(slb.metadata.uid!, claimed);
      const done = performance.now();
      log.info({ member: member.metadata!.name, pool: pool.metadata.name, attempts, patchMs: Math.round(done - sent), reconcileMs: Math.round(done - reconcileStarted) }, 'claimed a warm member');
      return claimed;
    } catch (err) {
      pa.ledger.release(uid);
      if (!isConflict(err) && !isNotFound(err)) throw err;
      log.debug({ member: member.metadata!.name, pool: pool.metadata.name }, 'member taken meanwhile; trying the next');
    }
  }
  return undefined;
}
