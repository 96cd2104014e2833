// The Spawner reconcile steps. Each step is idempotent: after a crash at any point, running the whole
// reconcile again converges (the API server's resourceVersion and uid preconditions make the writes safe).
//   reconcile: 1. ensure our finalizer  2. ensure the Pod (a refused or failed create is an
//              observation, not an exception)  3. write status if it changed, whatever the creates
//              did, so the startup deadline fires whatever the children's state  4. a Failed backend
//              lets go of its children  5. a create that failed transiently is retried with backoff
//   finalize:  1. status Terminating    2. delete the Pod (and the Service a backend created before
//              decision B still owns)  3. once they are gone, drop the finalizer
// A backend has no Service of its own (decision B): the route service sends its traffic to the Pod's
// address (status.podIP:podPort), so a cold start creates one object, and Ready waits for nothing else.
// A backend with spec.poolRef first claims a Ready member of its WarmPool (operator/src/pools/): the
// finalizer patch and the hand-over patch go out together, then one status write makes it Ready — three
// writes, and no Event (its PoolClaim condition records the claim). It owns that Pod from then on. An
// empty pool means a cold start from the pool's template through the usual steps; a missing pool means
// Pending (with a condition) until it exists.
import type { V1Pod, V1Service } from '@kubernetes/client-node';
import { FINALIZER } from '../../../common/contract.ts';
import type { ChildCache, LatestWrites } from '../../../common/kube/children.ts';
import { hasFinalizer, withFinalizer, withoutFinalizer } from '../../../common/kube/controller.ts';
import { isAlreadyExists, isNotFound } from '../../../common/kube/errors.ts';
import { isControlledBy, objectKey } from '../../../common/kube/owners.ts';
import { errText, type Logger } from '../../../common/log.ts';
import { CONDITION_CHILDREN_CREATED, CONDITION_FAILED, CONDITION_POOL_CLAIM, CONDITION_READY, findCondition } from '../../../common/spawner/conditions.ts';
import { REASON_FAILED_EXPIRED, type EventSpec } from '../../../common/spawner/events.ts';
import { sidecarPortConflict } from '../../../common/spawner/activity.ts';
import { effectiveSpec } from '../../../common/spawner/spec.ts';
import { timeMs } from '../../../common/spawner/time.ts';
import type { Phase, SessionLivedBackend } from '../../../common/spawner/types.ts';
import type { SpawnerApi } from './api.ts';
import { activitySourceFor, desiredPod } from './desired.ts';
import { classifyCreateError, refusalEvent, refusalRetryInMs, type Refusal } from './refusals.ts';
import { computeStatus, PROGRESS_RETRY_MS, startupDeadlineInMs, statusWriteDecision, type Observed } from './status.ts';
import type { TokenBucket } from '../http-api/limits.ts';
import type { SpawnerConfig } from './types.ts';
import { decideClaim, isClaimedMember, isUnfinishedClaim, phaseEventFor, surplusPods, withPoolClaimCondition, withPoolSpec, type ClaimOutcome } from '../pools/claim.ts';
import { candidatesFor, claimOne, keptPod, podsOfBackend, poolOrigin, type PoolAccess } from '../pools/claiming.ts';
import { templateHash, type WarmPool } from '../pools/members.ts';

export interface Outcome {
  requeueAfterMs?: number;
}

export interface SpawnerDeps {
  api: SpawnerApi;
  pods: ChildCache<V1Pod>;
  services: ChildCache<V1Service>; // Services of backends created before decision B: deleted with them
  backends: LatestWrites<SessionLivedBackend>;
  config: SpawnerConfig;
  now: () => Date;
  log: Logger;
  onPhaseChange?: (slb: SessionLivedBackend, from: Phase | undefined, to: Phase) => void;
  // Shared by all backends: progress writes put off when it is empty (absent: never put off).
  progressWrites?: TokenBucket;
  pools?: PoolAccess; // claims from WarmPools (absent: spec.poolRef is not served)
}

function soonest(...delays: (number | undefined)[]): Outcome {
  const defined = delays.filter((d): d is number => d !== undefined);
  return defined.length ? { requeueAfterMs: Math.min(...defined) } : {};
}

function conflictMessage(kind: string, slb: SessionLivedBackend): string {
  const { namespace, name } = slb.metadata;
  return `a ${kind} named ${namespace}/${name} already exists and is not controlled by this backend; ` +
    `Spawner never adopts or touches it: delete it, or create the backend under another name`;
}

async function emit(deps: SpawnerDeps, slb: SessionLivedBackend, event: EventSpec | undefined): Promise<void> {
  if (!event) return;
  try {
    await deps.api.recordEvent(slb, event);
  } catch (err) {
    // An Event is a courtesy; failing to record one must not block the backend.
    deps.log.warn({ err: errText(err), reason: event.reason }, 'could not record event');
  }
}

async function ensureFinalizer(slb: SessionLivedBackend, deps: SpawnerDeps): Promise<SessionLivedBackend> {
  if (hasFinalizer(slb, FINALIZER)) return slb;
  const updated = await deps.api.patchFinalizers(slb, withFinalizer(slb, FINALIZER));
  deps.backends.remember(slb, updated);
  return updated;
}

// What became of one child: there (ours), a same-named object that is not ours, a create the API server
// refused, or an error worth retrying as it is.
interface ChildOutcome<T> {
  child?: T;
  conflict?: string;
  refusal?: Refusal;
  transient?: unknown;
}

// Finds the child of the backend's name; creates it if missing and allowed. A same-named object the
// backend does not control is reported as a conflict, never adopted. Never throws: a failed create is
// part of what is observed, so the status is written (and the startup deadline checked) whatever happens.
async function ensurePod(
  slb: SessionLivedBackend,
  cache: ChildCache<V1Pod>,
  allowCreate: boolean,
  create: () => Promise<V1Pod>,
  fetch: () => Promise<V1Pod | undefined>,
): Promise<ChildOutcome<V1Pod>> {
  const kind = 'Pod';
  const { namespace, name } = slb.metadata as { namespace: string; name: string };
  const existing = cache.get(namespace, name);
  if (existing) return isControlledBy(existing, slb) ? { child: existing } : { conflict: conflictMessage(kind, slb) };
  if (!allowCreate) return {};
  try {
    const created = await create();
    cache.rememberCreated(created);
    return { child: created };
  } catch (err) {
    if (!isAlreadyExists(err)) return classifyCreateError(kind, `${namespace}/${name}`, err);
    try {
      // Not in our (label-filtered) cache but present: either someone else's, or ours not seen yet.
      const found = await fetch();
      if (found && isControlledBy(found, slb)) {
        cache.rememberCreated(found);
        return { child: found };
      }
      return found ? { conflict: conflictMessage(kind, slb) } : {};
    } catch (fetchErr) {
      return { transient: fetchErr };
    }
  }
}

// `claim`: what a pooled backend's claim came to, recorded in its PoolClaim condition with this write,
// which then is not put off (it says which happened).
async function writeStatus(slb: SessionLivedBackend, observed: Observed, deps: SpawnerDeps, claim?: ClaimOutcome): Promise<{ slb: SessionLivedBackend; retryInMs?: number }> {
  const now = deps.now();
  const next = computeStatus(slb, observed, now, deps.config);
  if (claim) next.conditions = withPoolClaimCondition(next.conditions ?? [], claim, slb.metadata.generation, now);
  const decision = claim ? { write: true as const } : statusWriteDecision(slb, next, now, observed.pod);
  if (!decision.write) return { slb, retryInMs: decision.retryInMs };
  if (decision.progress && deps.progressWrites && !deps.progressWrites.take(now.getTime()).ok) return { slb, retryInMs: PROGRESS_RETRY_MS };
  const updated = await deps.api.patchStatus(slb, next);
  deps.backends.remember(slb, updated);
  const refused = refusalEvent(findCondition(slb, CONDITION_CHILDREN_CREATED), findCondition(updated, CONDITION_CHILDREN_CREATED));
  if (refused) {
    deps.log.warn({ refusal: refused.message }, 'a child create was refused');
    void emit(deps, updated, refused);
  }
  const from = slb.status?.phase;
  const to = next.phase!;
  if (from !== to) {
    deps.log.info({ from: from ?? null, to, reason: next.reason }, 'phase changed');
    deps.onPhaseChange?.(updated, from, to);
    const readyCondition = next.conditions?.find((c) => c.type === CONDITION_READY);
    // Not awaited: the Event is a courtesy (emit logs its failure), and under load its round trip would
    // hold a worker that the next backend is waiting for. A warm claim records none (phaseEventFor says why).
    void emit(deps, updated, phaseEventFor(from, to, next.reason ?? readyCondition?.reason ?? to, next.message ?? readyCondition?.message ?? '', claim));
  }
  return { slb: updated };
}

// When a Failed backend failed: its Failed condition, written with the phase (a backend that failed
// before the condition existed gets it on its next reconcile, dated then: late, never early).
export function failedAt(slb: SessionLivedBackend): number | undefined {
  const failed = findCondition(slb, CONDITION_FAILED);
  return failed?.status === 'True' ? timeMs(failed.lastTransitionTime) : undefined;
}

// The operator is the one owner of Failed backends' expiry (the sweeper leaves them alone, and a backend
// that never got a node has no sweeper anyway): a grace period after it failed, it is deleted.
async function expireFailed(slb: SessionLivedBackend, deps: SpawnerDeps): Promise<Outcome> {
  if (slb.status?.phase !== 'Failed') return {};
  const since = failedAt(slb);
  if (since === undefined) return {};
  const { gracePeriodSeconds } = effectiveSpec(slb);
  const dueInMs = since + gracePeriodSeconds * 1000 - deps.now().getTime();
  if (dueInMs > 0) return { requeueAfterMs: dueInMs };
  await emit(deps, slb, {
    type: 'Normal',
    reason: REASON_FAILED_EXPIRED,
    message: `deleted ${gracePeriodSeconds} s after it failed (${slb.status.reason})`,
  });
  await deps.api.deleteBackend(slb);
  return {};
}

// A 404 on the backend itself means it is gone (deleted before it had our finalizer, or released and
// collected while a requeue waited): there is nothing left to do, and a retry would only log errors.
async function unlessGone<T>(work: () => Promise<T>, gone: T): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (isNotFound(err)) return gone;
    throw err;
  }
}

export function reconcile(cached: SessionLivedBackend, deps: SpawnerDeps): Promise<Outcome> {
  return unlessGone(() => reconcileSteps(cached, deps), {});
}

export function finalize(cached: SessionLivedBackend, deps: SpawnerDeps): Promise<Outcome | 'done'> {
  return unlessGone(() => finalizeSteps(cached, deps), 'done' as const);
}

async function reconcileSteps(cached: SessionLivedBackend, deps: SpawnerDeps): Promise<Outcome> {
  const started = deps.now();
  const startedAt = performance.now(); // for the claim's log line (claimOne), whatever clock deps.now is
  const resolved = deps.backends.resolve(cached);
  if (resolved.spec.poolRef && deps.pools) return reconcilePooled(resolved, deps.pools, deps, started, startedAt);
  // The finalizer first, then the children: a child never outlives its backend, not even for the moment
  // the garbage collector would need (children created beside a finalizer that then found the backend
  // gone were measured outliving it; operator/test/crash.int.test.ts).
  const slb = await ensureFinalizer(resolved, deps);
  return reconcileChildren(slb, slb, deps);
}

// The Pod of a backend built from `built` (itself, or for a pooled cold start itself with its pool's
// template), then status.
async function reconcileChildren(slb: SessionLivedBackend, built: SessionLivedBackend, deps: SpawnerDeps, claim?: ClaimOutcome): Promise<Outcome> {
  const { pod, refused } = await ensureChildren(slb, built, deps);
  const observed: Observed = { pod: pod.child, conflict: pod.conflict, refusals: pod.refusal ? [pod.refusal] : [], refused };
  const outcome = await writeStatusAndExpire(slb, observed, deps, claim);
  // A create that failed for a reason retrying may fix (5xx, 429, the network) goes through the work
  // queue's backoff, now that the status (and its deadline) is written.
  if (pod.transient !== undefined) throw pod.transient;
  return outcome;
}

// `claimed`: the pool member a claim handed the backend (not named after it), released if it fails.
async function writeStatusAndExpire(slb: SessionLivedBackend, observed: Observed, deps: SpawnerDeps, claim?: ClaimOutcome, claimed?: V1Pod): Promise<Outcome> {
  const written = await writeStatus(slb, observed, deps, claim);
  slb = written.slb;
  if (slb.status?.phase === 'Failed') await releaseChildren(slb, deps, claimed);
  const expiry = await expireFailed(slb, deps);
  return soonest(written.retryInMs, startupDeadlineInMs(slb, deps.now()), refusalRetryInMs(slb, deps.now()), expiry.requeueAfterMs);
}

// How often a backend waiting for its WarmPool to exist looks again (its creation wakes it sooner).
const POOL_WAIT_RECHECK_MS = 5_000;

async function reconcilePooled(slb: SessionLivedBackend, pa: PoolAccess, deps: SpawnerDeps, started: Date, startedAt: number): Promise<Outcome> {
  const { namespace } = slb.metadata as { namespace: string };
  const pool = pa.pool(namespace, slb.spec.poolRef!.name);
  const pods = podsOfBackend(slb, pa, deps.pods);
  const kept = keptPod(pods, slb);
  // Two claims for one backend can only come from two leaders (each safe on its own): keep one.
  for (const extra of surplusPods(pods, { ...slb, status: { ...slb.status, podName: kept?.metadata?.name } })) {
    if (extra.metadata?.deletionTimestamp || deps.pods.deleteRequested(extra.metadata!.uid!)) continue;
    deps.log.warn({ pod: extra.metadata!.name }, 'a second Pod for one backend (a claim by an earlier leader); deleting it');
    await deps.api.deletePod(namespace, extra.metadata!.name!, extra.metadata!.uid!);
    deps.pods.rememberDeleted(extra.metadata!.uid!);
  }
  if (kept && isClaimedMember(kept)) {
    slb = await ensureFinalizer(slb, deps);
    if (isUnfinishedClaim(slb, kept, pool, (p) => templateHash(p, deps.config))) return finishWarmClaim(slb, pool!, kept, pa, deps, started);
    return writeStatusAndExpire(slb, { pod: kept }, deps, undefined, kept);
  }

  const now = deps.now();
  const decision = decideClaim({ slb, pool, hasPod: kept !== undefined, candidates: kept || !pool ? [] : candidatesFor(slb, pool, pa, deps.config, now) });
  switch (decision.action) {
    case 'claim': {
      // The two patches overlap: one round trip less before Ready. A backend deleted meanwhile (its
      // finalizer patch answers 404) gives its member straight back to nobody: deleted, not left to the
      // garbage collector.
      const [finalized, claimed] = await Promise.allSettled([ensureFinalizer(slb, deps), claimOne(slb, pool!, decision.candidates, pa, deps.log, startedAt)]);
      if (finalized.status === 'rejected') {
        if (claimed.status === 'fulfilled' && claimed.value && isNotFound(finalized.reason)) {
          await deps.api.deletePod(namespace, claimed.value.metadata!.name!, claimed.value.metadata!.uid!);
        }
        throw finalized.reason; // a claim that won is found again next time (ledger, cache)
      }
      if (claimed.status === 'rejected') throw claimed.reason;
      slb = finalized.value;
      if (claimed.value) return finishWarmClaim(slb, pool!, claimed.value, pa, deps, started);
      return startCold(slb, pool!, pa, deps, { kind: 'cold', reason: 'ClaimsLost', message: `every Ready member of WarmPool ${pool!.metadata.name} tried was claimed by another backend meanwhile; started cold from its template` });
    }
    case 'cold':
      slb = await ensureFinalizer(slb, deps);
      return startCold(slb, pool!, pa, deps, { kind: 'cold', reason: decision.reason, message: decision.message });
    case 'waitForPool': {
      slb = await ensureFinalizer(slb, deps);
      const alreadySaid = findCondition(slb, CONDITION_POOL_CLAIM)?.reason === 'PoolNotFound';
      const outcome = await writeStatusAndExpire(slb, {}, deps, alreadySaid ? undefined : { kind: 'waiting', message: decision.message });
      return soonest(outcome.requeueAfterMs, POOL_WAIT_RECHECK_MS);
    }
    case 'none':
      // Its Pod started cold (or it is settled): the usual steps, built from its pool's template.
      slb = await ensureFinalizer(slb, deps);
      return reconcileChildren(slb, withPoolSpec(slb, pool), deps);
  }
}

// One status write: Ready at once, readyTime the claim (the idle countdown starts here), with the member's
// IP and node, what the pool gave it (status.pool) and the PoolClaim condition.
async function finishWarmClaim(slb: SessionLivedBackend, pool: WarmPool, member: V1Pod, pa: PoolAccess, deps: SpawnerDeps, started: Date): Promise<Outcome> {
  const withOrigin: SessionLivedBackend = { ...slb, status: { ...slb.status, pool: poolOrigin(pool, deps.config, member) } };
  const outcome = await writeStatusAndExpire(withOrigin, { pod: member }, deps, { kind: 'warm', pool: pool.metadata.name!, member: member.metadata!.name! }, member);
  pa.metrics?.claimed('warm', (deps.now().getTime() - started.getTime()) / 1000);
  return outcome;
}

async function startCold(slb: SessionLivedBackend, pool: WarmPool, pa: PoolAccess, deps: SpawnerDeps, why: ClaimOutcome): Promise<Outcome> {
  const withOrigin: SessionLivedBackend = { ...slb, status: { ...slb.status, pool: poolOrigin(pool, deps.config) } };
  deps.log.info({ pool: pool.metadata.name, reason: why.kind === 'cold' ? why.reason : undefined }, 'starting cold from the pool\'s template');
  const outcome = await reconcileChildren(withOrigin, withPoolSpec(withOrigin, pool), deps, why);
  pa.metrics?.claimed('cold');
  return outcome;
}

async function ensureChildren(slb: SessionLivedBackend, built: SessionLivedBackend, deps: SpawnerDeps) {
  // A failed backend gets no new children.
  const failed = slb.status?.phase === 'Failed';
  const wasReady = slb.status?.readyTime !== undefined;
  const canBuild = built.spec.template !== undefined; // a pooled backend whose pool is gone cannot
  const api = deps.api;
  const { namespace, name } = slb.metadata as { namespace: string; name: string };
  // Only a Pod still to be made can meet a spec the operator cannot honour.
  const conflict = deps.pods.get(namespace, name) ? undefined : sidecarPortConflict(built, activitySourceFor(built, deps.config));
  const refused = conflict === undefined ? undefined : { reason: 'SidecarPortConflict', message: conflict };
  const pod = await ensurePod(slb, deps.pods, !failed && !wasReady && !refused && canBuild, () => api.createPod(desiredPod(built, deps.config)), () => api.getPod(namespace, name));
  return { pod, refused };
}

// A Failed backend holds nothing it does not need: its children are deleted once the failure is recorded.
// --keep-failed-pods keeps the Pod (its logs) until the backend itself goes. `claimed`: the member a
// claim handed it (not named after the backend).
async function releaseChildren(slb: SessionLivedBackend, deps: SpawnerDeps, claimed?: V1Pod): Promise<void> {
  const released: string[] = [];
  const deletePod = () => (claimed ? deletePods([claimed], deps, true) : deleteChild(slb, deps.pods, (ns, n, uid) => deps.api.deletePod(ns, n, uid), true));
  if (!deps.config.keepFailedPods && (await deletePod())) released.push('Pod');
  if (await deleteChild(slb, deps.services, (ns, n, uid) => deps.api.deleteService(ns, n, uid), true)) released.push('Service'); // an old backend's
  if (released.length) deps.log.info({ released, reason: slb.status?.reason }, 'failed: children deleted');
}

// Deletes the backend's child (by uid) unless a delete is already under way. True while it still exists;
// with `onlyNew`, true only when this call sent the delete.
async function deleteChild<T extends V1Pod | V1Service>(
  slb: SessionLivedBackend,
  cache: ChildCache<T>,
  remove: (namespace: string, name: string, uid: string) => Promise<void>,
  onlyNew = false,
): Promise<boolean> {
  const { namespace, name } = slb.metadata as { namespace: string; name: string };
  const child = cache.get(namespace, name);
  if (!child || !isControlledBy(child, slb)) return false;
  const uid = child.metadata!.uid!;
  if (!child.metadata?.deletionTimestamp && !cache.deleteRequested(uid)) {
    await remove(namespace, name, uid);
    cache.rememberDeleted(uid);
    return true;
  }
  return !onlyNew; // still there until the informer says it is gone
}

// The cache can be behind a create: one whose answer this process lost (a timeout under load, while the
// API server went on to store the Pod) or one a killed predecessor sent just before it died. So before the
// finalizer goes, the API server itself is asked once: the cache alone let a Pod outlive its backend in
// operator/test/crash.int.test.ts.
async function deletePodNotCachedYet(slb: SessionLivedBackend, deps: SpawnerDeps): Promise<boolean> {
  const { namespace, name } = slb.metadata as { namespace: string; name: string };
  const pod = await deps.api.getPod(namespace, name);
  if (!pod || !isControlledBy(pod, slb)) return false;
  const uid = pod.metadata!.uid!;
  if (!pod.metadata?.deletionTimestamp && !deps.pods.deleteRequested(uid)) {
    await deps.api.deletePod(namespace, name, uid);
    deps.pods.rememberDeleted(uid);
  }
  return true;
}

// A pooled backend's Pods (a claimed member is not named after it): true while any is left; with
// `onlyNew`, true only when this call sent a delete.
async function deletePods(pods: V1Pod[], deps: SpawnerDeps, onlyNew = false): Promise<boolean> {
  let sent = false;
  for (const pod of pods) {
    const uid = pod.metadata!.uid!;
    if (pod.metadata?.deletionTimestamp || deps.pods.deleteRequested(uid)) continue;
    await deps.api.deletePod(pod.metadata!.namespace!, pod.metadata!.name!, uid);
    deps.pods.rememberDeleted(uid);
    sent = true;
  }
  return onlyNew ? sent : pods.length > 0;
}

// Returns 'done' once the finalizer is released; otherwise when to look again.
async function finalizeSteps(cached: SessionLivedBackend, deps: SpawnerDeps): Promise<Outcome | 'done'> {
  let slb = deps.backends.resolve(cached);
  if (!hasFinalizer(slb, FINALIZER)) return 'done';
  if (slb.status?.phase !== 'Terminating') {
    const { namespace, name } = slb.metadata as { namespace: string; name: string };
    slb = (await writeStatus(slb, { pod: deps.pods.get(namespace, name) }, deps)).slb;
  }
  const podLeft = slb.spec.poolRef && deps.pools
    ? await deletePods(podsOfBackend(slb, deps.pools, deps.pods), deps)
    : (await deleteChild(slb, deps.pods, (ns, n, uid) => deps.api.deletePod(ns, n, uid))) || (await deletePodNotCachedYet(slb, deps));
  // Only a backend created before decision B has a Service.
  const serviceLeft = await deleteChild(slb, deps.services, (ns, n, uid) => deps.api.deleteService(ns, n, uid));
  // The children's delete events wake us; the requeue is a safety net for a missed one.
  if (podLeft || serviceLeft) return { requeueAfterMs: 5_000 };
  await deps.api.patchFinalizers(slb, withoutFinalizer(slb, FINALIZER));
  deps.backends.forget(objectKey(slb));
  deps.pools?.ledger.forget(slb.metadata.uid!);
  deps.log.info('finalizer released');
  return 'done';
}
