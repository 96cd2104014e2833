// Claiming a pool member for a SessionLivedBackend with spec.poolRef: which member, the one write that
// hands it over, and what the backend looks like when built from its pool. Pure, except the ClaimLedger
// (this process's memory of claims its cache has not shown yet).
//
// Exactly one backend per member, whatever crashes when: the hand-over is a single merge patch of the
// Pod that replaces its controller ownerReference (pool → backend) under a resourceVersion precondition.
// Two claims of one member (two reconciles, two replicas, an old leader's late write) cannot both
// succeed: the second one's resourceVersion is stale and the API server answers 409; the loser tries the
// next member or starts cold. The pool removes members under the same precondition, so a member claimed
// meanwhile is never removed. The Pod's controller reference is the only record of the claim, so a crash
// between any two steps leaves nothing to reconcile but the backend's own status.
import type { V1Pod } from '@kubernetes/client-node';
import { LABEL_BACKEND, LABEL_CLAIMED_FROM, LABEL_POOL, LABEL_TEMPLATE_HASH } from '../../../common/contract.ts';
import { CONDITION_POOL_CLAIM, setCondition } from '../../../common/spawner/conditions.ts';
import { phaseChangeEvent, type EventSpec } from '../../../common/spawner/events.ts';
import type { Condition, Phase, SessionLivedBackend } from '../../../common/spawner/types.ts';
import { ownerReference } from '../spawner/desired.ts';
import { byAge, isMemberOf, type WarmPool } from './members.ts';
import { podReady } from '../spawner/status.ts';
import { timeMs } from '../../../common/spawner/time.ts';

/**
 * Ready members of the pool, built from its current template, that nobody in this process is claiming:
 * oldest first. Runs for every claim over the pool's members, so the checks are the cheap ones a Ready
 * member passes (a Ready Pod has no failed container) and each age is parsed once.
 */
export function claimCandidates(pods: V1Pod[], pool: WarmPool, hash: string, taken: (uid: string) => boolean, limit = Infinity): V1Pod[] {
  const ready: Array<[number, V1Pod]> = [];
  for (const p of pods) {
    const m = p.metadata;
    if (!m || m.deletionTimestamp || m.labels?.[LABEL_POOL] !== pool.metadata.name || m.labels?.[LABEL_TEMPLATE_HASH] !== hash) continue;
    if (!isMemberOf(p, pool) || !podReady(p) || taken(m.uid ?? '')) continue;
    ready.push([timeMs(m.creationTimestamp) ?? 0, p]);
  }
  ready.sort((a, b) => a[0] - b[0] || (a[1].metadata!.name ?? '').localeCompare(b[1].metadata!.name ?? ''));
  return ready.slice(0, limit).map(([, p]) => p);
}

/**
 * The merge patch that hands a member to a backend. The resourceVersion makes it conditional; the
 * ownerReferences list is replaced whole (the pool's reference goes); the pool label goes, so the pool's
 * selector and its controller's watch see one member fewer and refill at once.
 */
export function claimPatch(member: V1Pod, slb: SessionLivedBackend, pool: WarmPool): object {
  return {
    metadata: {
      resourceVersion: member.metadata!.resourceVersion,
      ownerReferences: [ownerReference(slb)],
      labels: { [LABEL_POOL]: null, [LABEL_BACKEND]: slb.metadata.name, [LABEL_CLAIMED_FROM]: pool.metadata.name },
    },
  };
}

/** A Pod handed to a backend by a claim (it needs no Service: the route service reaches it by its IP). */
export function isClaimedMember(pod: V1Pod | undefined): boolean {
  return pod?.metadata?.labels?.[LABEL_CLAIMED_FROM] !== undefined;
}

/**
 * A claim whose hand-over landed but whose status write never did (the process died between them): the
 * backend has a claimed member but no status.pool, which a claim writes with Ready. It is finished as the
 * claim would have been — status.pool (the pool's httpPort and sidecar, which the router and the sweeper
 * read), the PoolClaim condition, the metric — when its pool still describes the member (same template
 * hash); otherwise the status is written from the Pod alone.
 */
export function isUnfinishedClaim(slb: SessionLivedBackend, kept: V1Pod | undefined, pool: WarmPool | undefined, hashOf: (pool: WarmPool) => string): boolean {
  // The hash last: a claimed backend passes here on every reconcile, and only an unfinished claim needs it.
  return isClaimedMember(kept) && slb.status?.pool === undefined && pool !== undefined && kept!.metadata?.labels?.[LABEL_TEMPLATE_HASH] === hashOf(pool);
}

/**
 * The backend as the builders see it: its pool's backend fields (template, httpPort, sidecar,
 * startupTimeoutSeconds) with its own gracePeriodSeconds and maxLifetimeSeconds. Without the pool (gone
 * after the claim) the backend keeps what it has: a claimed or started backend needs no template again.
 */
export function withPoolSpec(slb: SessionLivedBackend, pool: WarmPool | undefined): SessionLivedBackend {
  if (!slb.spec.poolRef || !pool) return slb;
  const { template, httpPort, sidecar, startupTimeoutSeconds } = pool.spec;
  const spec: SessionLivedBackend['spec'] = { ...slb.spec, template };
  if (httpPort !== undefined) spec.httpPort = httpPort;
  if (sidecar !== undefined) spec.sidecar = sidecar;
  if (startupTimeoutSeconds !== undefined) spec.startupTimeoutSeconds = startupTimeoutSeconds;
  return { ...slb, spec };
}

export type ClaimDecision =
  | { action: 'none' } // not a pooled backend, or its Pod is settled already
  | { action: 'claim'; candidates: V1Pod[] } // try these in order; if all are lost, start cold
  | { action: 'cold'; reason: 'PoolEmpty' | 'PoolDeleting'; message: string }
  | { action: 'waitForPool'; message: string };

export interface ClaimInput {
  slb: SessionLivedBackend;
  pool: WarmPool | undefined; // from the cache, by spec.poolRef.name in the backend's namespace
  hasPod: boolean; // a Pod the backend controls exists (claimed, or started cold)
  candidates: V1Pod[];
}

/**
 * What a backend with spec.poolRef needs now. A backend that has its Pod, was Ready once, has failed
 * or is being deleted never claims (a second claim would be a second member for one session).
 */
export function decideClaim(i: ClaimInput): ClaimDecision {
  const { slb, pool } = i;
  const ref = slb.spec.poolRef;
  if (!ref || i.hasPod || slb.metadata.deletionTimestamp) return { action: 'none' };
  if (slb.status?.phase === 'Failed' || slb.status?.readyTime) return { action: 'none' };
  if (!pool) {
    return { action: 'waitForPool', message: `WarmPool ${slb.metadata.namespace}/${ref.name} does not exist; the backend starts once it does (or fails after its startup timeout)` };
  }
  if (pool.metadata.deletionTimestamp) {
    return { action: 'cold', reason: 'PoolDeleting', message: `WarmPool ${ref.name} is being deleted; started cold from its template` };
  }
  if (i.candidates.length > 0) return { action: 'claim', candidates: i.candidates };
  return { action: 'cold', reason: 'PoolEmpty', message: `WarmPool ${ref.name} had no Ready member; started cold from its template` };
}

export type ClaimOutcome =
  | { kind: 'warm'; pool: string; member: string }
  | { kind: 'cold'; reason: 'PoolEmpty' | 'PoolDeleting' | 'ClaimsLost'; message: string }
  | { kind: 'waiting'; message: string };

/** The backend's PoolClaim condition: True when it got a started member, False when it started cold or waits for its pool. */
export function withPoolClaimCondition(conditions: Condition[], outcome: ClaimOutcome, generation: number | undefined, now: Date): Condition[] {
  switch (outcome.kind) {
    case 'warm':
      return setCondition(conditions, {
        type: CONDITION_POOL_CLAIM, status: 'True', reason: 'ClaimedWarm',
        message: `claimed member ${outcome.member} of WarmPool ${outcome.pool}`, observedGeneration: generation,
      }, now);
    case 'cold':
      return setCondition(conditions, { type: CONDITION_POOL_CLAIM, status: 'False', reason: outcome.reason, message: outcome.message, observedGeneration: generation }, now);
    case 'waiting':
      return setCondition(conditions, { type: CONDITION_POOL_CLAIM, status: 'False', reason: 'PoolNotFound', message: outcome.message, observedGeneration: generation }, now);
  }
}

/**
 * The Event a status write records for a phase change, given what a claim in that write came to. A warm
 * claim records none: its PoolClaim condition (ClaimedWarm, naming the member and the pool) and its Ready
 * condition already say what happened and when, and the claims metric counts it, while an Event is one
 * more API write on the hottest path (beside the claim's three, on an API server that is the bottleneck
 * under a burst of claims). Every other change records its Event as for any backend: a cold start
 * (a pooled backend that started cold too), a failure (also of a claimed member), Terminating, Pending
 * again, and a claimed backend that becomes Ready again later.
 */
export function phaseEventFor(from: Phase | undefined, to: Phase, reason: string, message: string, claim?: ClaimOutcome): EventSpec | undefined {
  if (claim?.kind === 'warm' && to === 'Ready') return undefined;
  return phaseChangeEvent(from, to, reason, message);
}

/**
 * Pods a backend controls beyond the one it keeps: possible only when two operator replicas both claimed
 * for it across a leader change (each claim is safe on its own). Keeps the Pod its status names, else the
 * oldest; the others go back to nobody (deleted).
 */
export function surplusPods(owned: V1Pod[], slb: SessionLivedBackend): V1Pod[] {
  if (owned.length <= 1) return [];
  const keep = owned.find((p) => p.metadata?.name === slb.status?.podName) ?? [...owned].sort(byAge)[0]!;
  return owned.filter((p) => p !== keep);
}

/**
 * This process's claims in flight and claims its cache has not shown yet: a member being claimed is
 * offered to no other reconcile, and a backend whose claim succeeded finds its Pod before the watch
 * brings it. Entries expire after `ttlMs` (the cache has caught up long before).
 */
export class ClaimLedger {
  private readonly inFlight = new Set<string>(); // member uids
  private readonly claimed = new Map<string, { pod: V1Pod; at: number }>(); // backend uid → claimed Pod
  private readonly claimedMembers = new Map<string, number>(); // member uid → when
  private readonly ttlMs: number;

  constructor(ttlMs = 30_000) {
    this.ttlMs = ttlMs;
  }

  taken(memberUid: string, now = Date.now()): boolean {
    if (this.inFlight.has(memberUid)) return true;
    const at = this.claimedMembers.get(memberUid);
    return at !== undefined && now - at <= this.ttlMs;
  }

  /** false when another reconcile holds it. */
  reserve(memberUid: string): boolean {
    if (this.inFlight.has(memberUid)) return false;
    this.inFlight.add(memberUid);
    return true;
  }

  release(memberUid: string): void {
    this.inFlight.delete(memberUid);
  }

  won(backendUid: string, pod: V1Pod, now = Date.now()): void {
    const uid = pod.metadata?.uid ?? '';
    this.inFlight.delete(uid);
    this.claimedMembers.set(uid, now);
    this.claimed.set(backendUid, { pod, at: now });
    this.expire(now);
  }

  /** The Pod this process claimed for the backend, while the cache may not show it yet. */
  claimedFor(backendUid: string, now = Date.now()): V1Pod | undefined {
    const entry = this.claimed.get(backendUid);
    return entry && now - entry.at <= this.ttlMs ? entry.pod : undefined;
  }

  forget(backendUid: string): void {
    this.claimed.delete(backendUid);
  }

  private expire(now: number): void {
    for (const [uid, at] of this.claimedMembers) if (now - at > this.ttlMs) this.claimedMembers.delete(uid);
    for (const [uid, e] of this.claimed) if (now - e.at > this.ttlMs) this.claimed.delete(uid);
  }
}
