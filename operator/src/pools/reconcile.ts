// The pool's reconcile steps, a thin I/O layer around planPool. Idempotent: after a crash at any point
// the next pass recomputes the plan from the cache.
//   reconcile: 1. ensure the pool's finalizer  2. remove what the plan removes  3. create what it creates
//              4. Events for failed members  5. write status if it changed (counts at most once a second)
//   finalize:  1. delete every unclaimed member (resourceVersion precondition)  2. once none is left,
//              release the finalizer. Claimed members are controlled by their backends and stay.
import type { V1Pod } from '@kubernetes/client-node';
import { POOL_FINALIZER } from '../../../common/contract.ts';
import { LatestWrites } from '../../../common/kube/children.ts';
import { withoutFinalizer } from '../../../common/kube/controller.ts';
import { httpStatus } from '../../../common/kube/errors.ts';
import { objectKey } from '../../../common/kube/owners.ts';
import type { Logger } from '../../../common/log.ts';
import type { SpawnerConfig } from '../spawner/types.ts';
import type { PoolApi } from './api.ts';
import type { MemberExpectations } from './expectations.ts';
import { desiredMember, type WarmPool } from './members.ts';
import { backoffDelayMs, claimStreak, membersLeftUnasked, NO_BACKOFF, planPool, poolStatusWrite, type Backoff, type ClaimStreak } from './plan.ts';

// What the pool saw of its members on its last pass: to notice claims (members leaving unasked).
export interface ClaimsSeen {
  inView: Set<string>; // member uids
  claims?: ClaimStreak;
}

export interface PoolDeps {
  api: PoolApi;
  config: SpawnerConfig;
  pools: LatestWrites<WarmPool>;
  expectations: MemberExpectations;
  backoffs: Map<string, Backoff>; // pool key → failures in a row
  statusWrites: Map<string, number>; // pool key → when this replica last wrote its status
  claimsSeen: Map<string, ClaimsSeen>; // pool key → its members last pass, when one last left unasked
  members: (pool: WarmPool) => V1Pod[]; // the unclaimed members the cache shows
  now: () => Date;
  log: Logger;
  writeConcurrency?: number;
}

export interface PoolOutcome {
  requeueAfterMs?: number;
}

const DEFAULT_WRITE_CONCURRENCY = 16;

// Runs `work` over `items` with at most `limit` in flight; every item runs, the first error is rethrown.
async function eachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let firstError: unknown;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      try {
        await work(item);
      } catch (err) {
        firstError ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (firstError !== undefined) throw firstError;
}

// A create refused for a reason retrying soon cannot fix (quota, admission policy, invalid spec): a
// member failure for the backoff and the condition, not an error the queue retries in milliseconds.
function refusal(err: unknown): string | undefined {
  const code = httpStatus(err);
  if (code === undefined || code < 400 || code >= 500 || code === 409 || code === 429) return undefined;
  const e = err as { status?: { message?: string }; message?: string };
  return `cannot create a member (HTTP ${code}): ${e.status?.message ?? e.message ?? String(err)}`;
}

async function ensureFinalizer(pool: WarmPool, deps: PoolDeps): Promise<WarmPool> {
  const finalizers = pool.metadata.finalizers ?? [];
  if (finalizers.includes(POOL_FINALIZER)) return pool;
  const updated = await deps.api.patchPoolFinalizers(pool, [...finalizers, POOL_FINALIZER]);
  deps.pools.remember(pool, updated);
  return updated;
}

export async function reconcilePool(cached: WarmPool, deps: PoolDeps): Promise<PoolOutcome> {
  let pool = deps.pools.resolve(cached);
  pool = await ensureFinalizer(pool, deps);
  const key = objectKey(pool);
  const now = deps.now();
  const members = deps.members(pool);
  const { pod: template, hash } = desiredMember(pool, deps.config);
  const deleteRequested = (uid: string) => deps.expectations.deleteRequested(uid, now.getTime());
  const seen = deps.claimsSeen.get(key);
  const { left, inView } = membersLeftUnasked(seen?.inView, members, deleteRequested);
  const claims = claimStreak(seen?.claims, left, now.getTime());
  deps.claimsSeen.set(key, { inView, claims });
  const plan = planPool({
    pool, hash, members, now,
    pendingCreates: deps.expectations.pendingCreates(key, members, now.getTime()),
    deleteRequested,
    backoff: deps.backoffs.get(key) ?? NO_BACKOFF,
    claims,
  });
  let backoff = plan.backoff;
  const limit = deps.writeConcurrency ?? DEFAULT_WRITE_CONCURRENCY;

  await eachLimited(plan.remove, limit, async (r) => {
    const result = await deps.api.deleteMember(r.pod);
    deps.expectations.deleteIssued(r.pod.metadata!.uid!, now.getTime());
    deps.log.info({ member: r.pod.metadata?.name, reason: r.reason, result }, result === 'changed' ? 'member changed meanwhile (claimed?): kept' : 'member removed');
  });

  let refused: string | undefined;
  await eachLimited(Array.from({ length: plan.create }), limit, async () => {
    try {
      const created = await deps.api.createMember(structuredClone(template));
      deps.expectations.created(key, created.metadata!.name!, deps.now().getTime());
    } catch (err) {
      const why = refusal(err);
      if (why === undefined) throw err;
      refused = why;
    }
  });
  if (plan.create > 0) deps.log.debug({ created: plan.create, hash }, 'members created');
  if (refused) {
    const failures = backoff.failures + 1;
    backoff = { failures, notBeforeMs: now.getTime() + Math.max(1000, backoffDelayMs(failures)), lastFailure: refused };
    deps.log.warn({ err: refused }, 'member creation refused');
    plan.warnings.push({ reason: 'MemberCreateRefused', message: refused });
  }
  deps.backoffs.set(key, backoff);

  for (const w of plan.warnings) {
    // Not awaited: an Event is a courtesy and must not hold the pool's refill.
    void deps.api.recordPoolEvent(pool, { type: 'Warning', reason: w.reason, message: w.message }).catch((err: unknown) => deps.log.warn({ err: String(err), reason: w.reason }, 'could not record event'));
  }

  const decision = poolStatusWrite(pool.status, plan.status, deps.statusWrites.get(key), now.getTime());
  if (decision.write) {
    const updated = await deps.api.patchPoolStatus(pool, plan.status);
    deps.pools.remember(pool, updated);
    deps.statusWrites.set(key, now.getTime());
  }
  const delays = [plan.requeueAfterMs, decision.write ? undefined : decision.retryInMs, refused ? backoff.notBeforeMs - now.getTime() : undefined]
    .filter((d): d is number => d !== undefined);
  return delays.length ? { requeueAfterMs: Math.max(0, Math.min(...delays)) } : {};
}

export async function finalizePool(cached: WarmPool, deps: PoolDeps): Promise<PoolOutcome | 'done'> {
  const pool = deps.pools.resolve(cached);
  if (!(pool.metadata.finalizers ?? []).includes(POOL_FINALIZER)) return 'done';
  const now = deps.now().getTime();
  const members = deps.members(pool);
  const toDelete = members.filter((m) => !m.metadata?.deletionTimestamp && !deps.expectations.deleteRequested(m.metadata!.uid!, now));
  await eachLimited(toDelete, deps.writeConcurrency ?? DEFAULT_WRITE_CONCURRENCY, async (m) => {
    const result = await deps.api.deleteMember(m);
    deps.expectations.deleteIssued(m.metadata!.uid!, now);
    deps.log.info({ member: m.metadata?.name, result }, result === 'changed' ? 'member changed meanwhile (claimed?): kept' : 'member removed with its pool');
  });
  // The members' delete events wake us; the requeue is a safety net for a missed one.
  if (members.length > 0) return { requeueAfterMs: 5_000 };
  await deps.api.patchPoolFinalizers(pool, withoutFinalizer(pool, POOL_FINALIZER));
  const key = objectKey(pool);
  deps.pools.forget(key);
  deps.expectations.forget(key);
  deps.backoffs.delete(key);
  deps.statusWrites.delete(key);
  deps.claimsSeen.delete(key);
  deps.log.info('pool finalizer released');
  return 'done';
}
