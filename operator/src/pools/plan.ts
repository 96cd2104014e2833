// What a pool's reconcile should do, given what was observed of its members: pure, so every rule is a
// row in a table test (operator/test/pools/plan.test.ts).
//
// Rules:
// 1. Members being deleted count for nothing (their delete is in flight, by us or anyone).
// 2. Failed members (image pull errors, the app exited, evicted…) and members not Ready within
//    startupTimeoutSeconds are removed and replaced; failures in a row delay the replacements (doubling
//    backoff), so a pool whose image cannot be pulled says why in its Ready condition instead of churning.
// 3. Members built from an older template are removed at once: they would never be claimed (claims take
//    current members only), so keeping them would only hold resources.
// 4. Current members = Ready + starting + creates issued but not yet seen. Fewer than `replicas`: create
//    the difference (at most `maxCreates` per pass). More: remove the excess, starting ones first (they
//    serve nobody yet), then the youngest Ready ones.
// 5. While claims are arriving, the refill waits until no claim has been seen for REFILL_YIELD_MS
//    (refillYieldMs): each member created costs the API server about four writes (create, binding,
//    status, the scheduler's Event) and their watch events, and on a real node a container start, all of
//    which competed with the claims' own writes and made a burst of claims wait on the pool's refill.
//    Once fewer than half the members are Ready it waits at most SHORT_HOLD_MS from the streak's first
//    claim, so a steady stream of claims cannot keep the pool from refilling.
// Only unclaimed members are ever looked at (a claimed Pod is controlled by its backend, not the pool);
// the I/O layer deletes with a resourceVersion precondition, so a member claimed after this view was
// taken is never removed.
import { backoffDelay, type BackoffPolicy } from '../../../common/kube/backoff.ts';
import type { V1Pod } from '@kubernetes/client-node';
import type { Condition, WarmPoolStatus } from '../../../schema/generated/types.ts';
import { setCondition } from '../../../common/spawner/conditions.ts';
import { sameStatus } from '../spawner/status.ts';
import { byAge, classifyMember, memberSelector, type ClassifiedMember, type WarmPool } from './members.ts';

export const CONDITION_POOL_READY = 'Ready';
export const MAX_CREATES_PER_PASS = 100;
export const BACKOFF_INITIAL_MS = 1000;
export const BACKOFF_MAX_MS = 5 * 60_000;

export type RemovalReason = 'Failed' | 'StartupTimeout' | 'Outdated' | 'ScaledDown';

export interface Removal {
  pod: V1Pod;
  reason: RemovalReason;
  message: string;
}

// Consecutive member failures, kept in memory per pool by the I/O layer.
export interface Backoff {
  failures: number;
  notBeforeMs: number; // no creates before this time
  lastFailure?: string; // what the last failure was, for the condition
}

export const NO_BACKOFF: Backoff = { failures: 0, notBeforeMs: 0 };

export interface PoolObservation {
  pool: WarmPool;
  hash: string; // of the current template
  members: V1Pod[]; // Pods the pool controls (claimed ones are not among them)
  pendingCreates: number; // creates issued that the cache has not shown yet
  deleteRequested: (uid: string) => boolean; // deletes issued that the cache has not shown yet
  backoff: Backoff;
  now: Date;
  maxCreates?: number;
  claims?: ClaimStreak; // members that left the pool unasked (claims), if any ever did
}

export interface PoolPlan {
  create: number;
  remove: Removal[];
  status: WarmPoolStatus;
  backoff: Backoff;
  requeueAfterMs?: number;
  warnings: Array<{ reason: string; message: string }>; // Events on the pool
}

// One failure is replaced at once (a node went away, an eviction); a second in a row starts the backoff.
const MEMBER_BACKOFF: BackoffPolicy = { initialMs: BACKOFF_INITIAL_MS, maxMs: BACKOFF_MAX_MS, factor: 2, jitter: 0 };

export function backoffDelayMs(failures: number): number {
  return failures <= 1 ? 0 : backoffDelay(MEMBER_BACKOFF, failures - 2);
}

function youngestFirst(a: ClassifiedMember, b: ClassifiedMember): number {
  return byAge(b.pod, a.pod);
}

export function planPool(o: PoolObservation): PoolPlan {
  const now = o.now.getTime();
  const replicas = o.pool.spec.replicas ?? 1;
  const classified = o.members.map((pod) => classifyMember(pod, o.pool, o.hash, o.now, o.deleteRequested(pod.metadata?.uid ?? '')));
  const of = (state: ClassifiedMember['state']) => classified.filter((m) => m.state === state);
  const ready = of('ready');
  const starting = of('starting');

  const remove: Removal[] = [];
  const warnings: PoolPlan['warnings'] = [];
  let backoff = o.backoff;
  for (const m of [...of('failed'), ...of('timedOut')]) {
    const reason = m.state === 'failed' ? 'Failed' : 'StartupTimeout';
    const message = `member ${m.pod.metadata?.name}: ${m.failure!.reason}: ${m.failure!.message}`;
    remove.push({ pod: m.pod, reason, message });
    warnings.push({ reason: 'MemberFailed', message });
    const failures = backoff.failures + 1;
    backoff = { failures, notBeforeMs: now + backoffDelayMs(failures), lastFailure: message };
  }
  for (const m of of('outdated')) {
    remove.push({ pod: m.pod, reason: 'Outdated', message: `member ${m.pod.metadata?.name} was built from an older template` });
  }

  const current = ready.length + starting.length + o.pendingCreates;
  let create = 0;
  let requeueAfterMs: number | undefined;
  if (current < replicas) {
    const yieldMs = refillYieldMs({ replicas, ready: ready.length, claims: o.claims, nowMs: now });
    if (now < backoff.notBeforeMs) requeueAfterMs = backoff.notBeforeMs - now;
    else if (yieldMs !== undefined) requeueAfterMs = yieldMs;
    else create = Math.min(replicas - current, o.maxCreates ?? MAX_CREATES_PER_PASS);
    if (replicas - current > create && requeueAfterMs === undefined) requeueAfterMs = 0; // the rest on the next pass
  } else if (current > replicas) {
    const excess = Math.min(current - replicas, ready.length + starting.length);
    const order = [...starting.sort(youngestFirst), ...ready.sort(youngestFirst)];
    for (const m of order.slice(0, excess)) {
      remove.push({ pod: m.pod, reason: 'ScaledDown', message: `member ${m.pod.metadata?.name} is beyond replicas ${replicas}` });
    }
  }
  // A full pool has got past whatever failed before.
  if (ready.length >= replicas && backoff.failures > 0 && of('failed').length + of('timedOut').length === 0) backoff = NO_BACKOFF;

  const removedScaledDown = new Set(remove.filter((r) => r.reason === 'ScaledDown').map((r) => r.pod));
  const readyKept = ready.filter((m) => !removedScaledDown.has(m.pod)).length;
  const startingKept = starting.filter((m) => !removedScaledDown.has(m.pod)).length;
  const status: WarmPoolStatus = {
    replicas: readyKept + startingKept,
    readyReplicas: readyKept,
    startingReplicas: startingKept,
    selector: memberSelector(o.pool),
    templateHash: o.hash,
    observedGeneration: o.pool.metadata.generation,
    conditions: readyCondition(o.pool.status?.conditions ?? [], o.pool, readyKept, startingKept + create + o.pendingCreates, replicas, backoff, now, o.now),
  };
  return { create, remove, status, backoff, requeueAfterMs, warnings };
}

export const REFILL_YIELD_MS = 500;
// Long enough for a burst of claims to be handed out (20 at once took about 0.9 s on the real node),
// short beside a member's cold start, which the pool's next claims may be waiting for.
export const SHORT_HOLD_MS = 1000;

// Claims as the pool sees them: when the last one was seen, and when the streak it belongs to began (a
// claim after REFILL_YIELD_MS without one starts a new streak).
export interface ClaimStreak {
  lastMs: number;
  startMs: number;
}

export function claimStreak(previous: ClaimStreak | undefined, claimsNow: number, nowMs: number): ClaimStreak | undefined {
  if (claimsNow === 0) return previous;
  const continues = previous !== undefined && nowMs - previous.lastMs < REFILL_YIELD_MS;
  return { lastMs: nowMs, startMs: continues ? previous.startMs : nowMs };
}

/**
 * How long the refill waits for claims to pause (rule 5), or undefined to refill now: when no claim was
 * seen within REFILL_YIELD_MS, or when fewer than half the members are Ready and the streak of claims
 * began SHORT_HOLD_MS ago (the pool must not run dry under a steady stream of claims; below half,
 * refilling matters more than the claims' latency, once a burst has had its moment).
 */
export function refillYieldMs(o: { replicas: number; ready: number; claims?: ClaimStreak; nowMs: number }): number | undefined {
  if (o.claims === undefined) return undefined;
  let until = o.claims.lastMs + REFILL_YIELD_MS;
  if (o.ready * 2 < o.replicas) until = Math.min(until, o.claims.startMs + SHORT_HOLD_MS);
  return o.nowMs < until ? until - o.nowMs : undefined;
}

/**
 * Members that left the pool's view since the last pass without a delete of ours (claims, mostly: a claim
 * takes the pool's label off; an eviction or a user's delete counts too, and only delays the refill), and
 * the uids now in view for the next pass. O(members), like the rest of a pass.
 */
export function membersLeftUnasked(previous: ReadonlySet<string> | undefined, members: V1Pod[], deleteRequested: (uid: string) => boolean): { left: number; inView: Set<string> } {
  const inView = new Set<string>(); // not being deleted: a member's delete is never a claim
  const present = new Set<string>();
  for (const m of members) {
    const uid = m.metadata?.uid;
    if (!uid) continue;
    present.add(uid);
    if (!m.metadata?.deletionTimestamp) inView.add(uid);
  }
  let left = 0;
  for (const uid of previous ?? []) if (!present.has(uid) && !deleteRequested(uid)) left += 1;
  return { left, inView };
}

function readyCondition(previous: Condition[], pool: WarmPool, ready: number, starting: number, replicas: number, backoff: Backoff, now: number, at: Date): Condition[] {
  const generation = pool.metadata.generation;
  if (ready >= replicas) {
    const message = replicas === 0 ? 'the pool keeps no members (replicas 0)' : `${ready} of ${replicas} members Ready`;
    return setCondition(previous, { type: CONDITION_POOL_READY, status: 'True', reason: 'Full', message, observedGeneration: generation }, at);
  }
  if (backoff.failures > 0 && backoff.lastFailure) {
    const wait = Math.max(0, Math.ceil((backoff.notBeforeMs - now) / 1000));
    const message = `${ready} of ${replicas} members Ready; ${backoff.failures} member(s) failed in a row, the last: ${backoff.lastFailure}` +
      (wait > 0 ? `; next member in ${wait} s` : '');
    return setCondition(previous, { type: CONDITION_POOL_READY, status: 'False', reason: 'MembersFailing', message, observedGeneration: generation }, at);
  }
  return setCondition(previous, {
    type: CONDITION_POOL_READY, status: 'False', reason: 'Filling',
    message: `${ready} of ${replicas} members Ready, ${starting} starting`, observedGeneration: generation,
  }, at);
}

// While a pool refills under a stream of claims its counts change with every member; writing each change
// would add a status write per claim. Counts and messages are written at most once per interval; a change
// of a condition's status or reason, of the generation or of the template is written at once.
export const POOL_STATUS_MIN_INTERVAL_MS = 1000;

export type PoolStatusWrite = { write: true } | { write: false; retryInMs?: number };

function gist(s: WarmPoolStatus | undefined): string {
  return JSON.stringify({
    generation: s?.observedGeneration, hash: s?.templateHash, selector: s?.selector,
    conditions: (s?.conditions ?? []).map((c) => [c.type, c.status, c.reason]).sort(),
  });
}

export function poolStatusWrite(previous: WarmPoolStatus | undefined, next: WarmPoolStatus, lastWriteMs: number | undefined, nowMs: number): PoolStatusWrite {
  if (sameStatus(previous, next)) return { write: false };
  if (previous === undefined || gist(previous) !== gist(next) || lastWriteMs === undefined) return { write: true };
  const since = nowMs - lastWriteMs;
  return since >= POOL_STATUS_MIN_INTERVAL_MS ? { write: true } : { write: false, retryInMs: POOL_STATUS_MIN_INTERVAL_MS - since };
}
