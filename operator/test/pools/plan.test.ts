import { describe, expect, test } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import { templateHash } from '../../src/pools/members.ts';
import { BACKOFF_MAX_MS, backoffDelayMs, membersLeftUnasked, NO_BACKOFF, planPool, poolStatusWrite, refillYieldMs, REFILL_YIELD_MS, SHORT_HOLD_MS, claimStreak, type Backoff, type PoolObservation } from '../../src/pools/plan.ts';
import { at, config, member, pool, T0 } from './fixtures.ts';

const p3 = pool({ spec: { replicas: 3, startupTimeoutSeconds: 120 } });
const hash = templateHash(p3, config);
const observe = (members: V1Pod[], o: Partial<PoolObservation> = {}): PoolObservation => ({
  pool: p3, hash, members, pendingCreates: 0, deleteRequested: () => false, backoff: NO_BACKOFF, now: at(30), ...o,
});
const names = (pods: Array<{ pod: V1Pod }>) => pods.map((r) => r.pod.metadata?.name);

describe('planPool: how many to create and which to remove', () => {
  const r = (name: string, createdAt = 0) => member(p3, 'ready', { name, createdAt });
  const s = (name: string, createdAt = 0) => member(p3, 'starting', { name, createdAt });
  test.each<[string, V1Pod[], Partial<PoolObservation>, number, Array<[string, string]>]>([
    ['an empty pool fills up', [], {}, 3, []],
    ['a full pool does nothing', [r('a'), r('b'), r('c')], {}, 0, []],
    ['starting members count: no duplicate creates', [r('a'), s('b'), s('c')], {}, 0, []],
    ['creates issued but not seen yet count too', [r('a')], { pendingCreates: 2 }, 0, []],
    ['a claim took one: refill it', [r('a'), r('b')], {}, 1, []],
    ['a member being deleted is not counted', [r('a'), r('b'), member(p3, 'deleting', { name: 'd' })], {}, 1, []],
    ['a delete we requested, not seen yet, is not counted', [r('a'), r('b'), r('c')], { deleteRequested: (uid) => uid === 'uid-c' }, 1, []],
    ['a failed member is removed and replaced', [r('a'), r('b'), member(p3, 'imagePull', { name: 'f' })], {}, 1, [['f', 'Failed']]],
    ['a member not Ready in time is removed and replaced', [r('a'), r('b'), s('slow', -200)], {}, 1, [['slow', 'StartupTimeout']]],
    ['members of an older template are removed and replaced', [r('a'), member(p3, 'ready', { name: 'old1', hash: 'old' }), member(p3, 'starting', { name: 'old2', hash: 'old' })], {}, 2, [['old1', 'Outdated'], ['old2', 'Outdated']]],
    ['scale down removes starting members first, youngest first', [r('a', 1), r('b', 2), s('c', 3), s('d', 4), r('e', 5)], { pool: { ...p3, spec: { ...p3.spec, replicas: 2 } } }, 0, [['d', 'ScaledDown'], ['c', 'ScaledDown'], ['e', 'ScaledDown']]],
    ['scale to zero removes every member', [r('a'), s('b')], { pool: { ...p3, spec: { ...p3.spec, replicas: 0 } } }, 0, [['b', 'ScaledDown'], ['a', 'ScaledDown']]],
    ['scale down never removes more than it sees (creates in flight are removed when seen)', [r('a')], { pool: { ...p3, spec: { ...p3.spec, replicas: 0 } }, pendingCreates: 2 }, 0, [['a', 'ScaledDown']]],
    ['a big deficit is created in slices', [], { pool: { ...p3, spec: { ...p3.spec, replicas: 250 } } }, 100, []],
  ])('%s', (_what, members, o, create, removed) => {
    const plan = planPool(observe(members, o));
    expect({ create: plan.create, removed: plan.remove.map((x) => [x.pod.metadata?.name, x.reason]) }).toEqual({ create, removed });
  });

  test('what is left of a big deficit is created on the very next pass', () => {
    expect(planPool(observe([], { pool: { ...p3, spec: { ...p3.spec, replicas: 250 } } })).requeueAfterMs).toBe(0);
  });

  test('replicas defaults to 1 (as the CRD does)', () => {
    const noReplicas = { ...p3, spec: { template: p3.spec.template } };
    expect(planPool(observe([], { pool: noReplicas })).create).toBe(1);
  });
});

describe('refill yields to claims (rule 5)', () => {
  const now = 10_000;
  // A streak whose last claim was `agoMs` ago and that began `startedMs` ago.
  const streak = (agoMs: number, startedMs = agoMs) => ({ lastMs: now - agoMs, startMs: now - startedMs });
  test.each<[string, { replicas: number; ready: number; claims?: { lastMs: number; startMs: number } }, number | undefined]>([
    ['no claim ever seen: refill now', { replicas: 10, ready: 9 }, undefined],
    ['a claim just now, 9 of 10 Ready: wait the whole quiet time', { replicas: 10, ready: 9, claims: streak(0) }, REFILL_YIELD_MS],
    ['a claim 200 ms ago: wait the rest', { replicas: 10, ready: 9, claims: streak(200) }, REFILL_YIELD_MS - 200],
    ['the last claim REFILL_YIELD_MS ago: refill now', { replicas: 10, ready: 9, claims: streak(REFILL_YIELD_MS) }, undefined],
    ['exactly half Ready still yields', { replicas: 10, ready: 5, claims: streak(0) }, REFILL_YIELD_MS],
    ['half or more Ready: a long streak keeps the refill waiting for its pause', { replicas: 10, ready: 5, claims: streak(0, 60_000) }, REFILL_YIELD_MS],
    ['fewer than half Ready, the streak just began: wait out the burst', { replicas: 10, ready: 4, claims: streak(0, 0) }, REFILL_YIELD_MS],
    ['fewer than half Ready, a burst begun 800 ms ago: only to SHORT_HOLD_MS from its start', { replicas: 10, ready: 4, claims: streak(0, 800) }, SHORT_HOLD_MS - 800],
    ['fewer than half Ready, the streak began SHORT_HOLD_MS ago: refill now, claims or not', { replicas: 10, ready: 4, claims: streak(0, SHORT_HOLD_MS) }, undefined],
    ['a pool of one whose member was just claimed: waits only the quiet time', { replicas: 1, ready: 0, claims: streak(0) }, REFILL_YIELD_MS],
    ['a pool of one, its claim REFILL_YIELD_MS ago: refill now', { replicas: 1, ready: 0, claims: streak(REFILL_YIELD_MS) }, undefined],
  ])('%s', (_what, o, ms) => {
    expect(refillYieldMs({ ...o, nowMs: now })).toBe(ms);
  });

  test.each<[string, { lastMs: number; startMs: number } | undefined, number, { lastMs: number; startMs: number } | undefined]>([
    ['no claim, none before: nothing', undefined, 0, undefined],
    ['no claim this pass: the streak is kept as it was', { lastMs: now - 900, startMs: now - 2000 }, 0, { lastMs: now - 900, startMs: now - 2000 }],
    ['the first claim ever starts a streak', undefined, 1, { lastMs: now, startMs: now }],
    ['a claim within the quiet time continues the streak', { lastMs: now - 100, startMs: now - 700 }, 2, { lastMs: now, startMs: now - 700 }],
    ['a claim after a pause starts a new streak', { lastMs: now - REFILL_YIELD_MS, startMs: now - 5000 }, 1, { lastMs: now, startMs: now }],
  ])('claimStreak: %s', (_what, previous, claims, next) => {
    expect(claimStreak(previous, claims, now)).toEqual(next);
  });

  test('planPool holds the creates and asks to come back when the quiet time is over', () => {
    const members = ['a', 'b'].map((n) => member(p3, 'ready', { name: n }));
    const plan = planPool(observe(members, { claims: { lastMs: at(30).getTime() - 100, startMs: at(30).getTime() - 100 } }));
    expect({ create: plan.create, requeueAfterMs: plan.requeueAfterMs }).toEqual({ create: 0, requeueAfterMs: REFILL_YIELD_MS - 100 });
    const past = at(30).getTime() - REFILL_YIELD_MS;
    expect(planPool(observe(members, { claims: { lastMs: past, startMs: past } })).create).toBe(1);
  });

  const m = (uid: string, deleting = false): V1Pod => ({ metadata: { uid, ...(deleting ? { deletionTimestamp: new Date(0) } : {}) } });
  test.each<[string, string[] | undefined, V1Pod[], string[], number]>([
    ['the first pass has nothing to compare with', undefined, [m('a')], [], 0],
    ['a member gone from view left unasked (a claim)', ['a', 'b'], [m('a')], [], 1],
    ['a member we asked to delete is not a claim', ['a', 'b'], [m('a')], ['b'], 0],
    ['a member being deleted is out of view, and its going is not a claim', ['a', 'b'], [m('a'), m('b', true)], [], 0],
    ['new members are not departures', ['a'], [m('a'), m('c')], [], 0],
  ])('membersLeftUnasked: %s', (_what, previous, members, asked, left) => {
    const r = membersLeftUnasked(previous && new Set(previous), members, (uid) => asked.includes(uid));
    expect(r.left).toBe(left);
  });
});

describe('planPool: failures back off and say why', () => {
  test.each<[number, number]>([[1, 0], [2, 1000], [3, 2000], [6, 16_000], [20, BACKOFF_MAX_MS]])('after %i failure(s) in a row the next member waits %i ms', (failures, ms) => {
    expect(backoffDelayMs(failures)).toBe(ms);
  });

  test('a second failure in a row is removed, counted, warned about, and delays the replacement', () => {
    const failed = member(p3, 'imagePull', { name: 'f' });
    const plan = planPool(observe([member(p3, 'ready', { name: 'a' }), failed], { backoff: { failures: 1, notBeforeMs: 0, lastFailure: 'earlier' } }));
    expect(plan.create).toBe(0);
    expect(plan.requeueAfterMs).toBe(1000);
    expect(plan.backoff).toMatchObject({ failures: 2, notBeforeMs: at(31).getTime() });
    expect(plan.warnings).toEqual([{ reason: 'MemberFailed', message: 'member f: ErrImagePull: container app: pull access denied' }]);
    const ready = plan.status.conditions?.find((c) => c.type === 'Ready');
    expect(ready).toMatchObject({ status: 'False', reason: 'MembersFailing' });
    expect(ready?.message).toBe('1 of 3 members Ready; 2 member(s) failed in a row, the last: member f: ErrImagePull: container app: pull access denied; next member in 1 s');
  });

  test('once the backoff has passed, the missing members are created', () => {
    const backoff: Backoff = { failures: 3, notBeforeMs: at(29).getTime(), lastFailure: 'member f: ErrImagePull: x' };
    const plan = planPool(observe([member(p3, 'ready', { name: 'a' })], { backoff }));
    expect(plan.create).toBe(2);
    expect(plan.backoff).toEqual(backoff); // kept until the pool is full again
  });

  test('a full pool forgets earlier failures', () => {
    const backoff: Backoff = { failures: 3, notBeforeMs: at(29).getTime(), lastFailure: 'x' };
    const members = ['a', 'b', 'c'].map((n) => member(p3, 'ready', { name: n }));
    expect(planPool(observe(members, { backoff })).backoff).toEqual(NO_BACKOFF);
  });
});

describe('planPool: status', () => {
  test('counts, selector, template hash and generation', () => {
    const plan = planPool(observe([member(p3, 'ready'), member(p3, 'starting'), member(p3, 'deleting'), member(p3, 'ready', { hash: 'old' })]));
    expect(plan.status).toMatchObject({ replicas: 2, readyReplicas: 1, startingReplicas: 1, selector: 'spawner.dev/pool=games', templateHash: hash, observedGeneration: 2 });
  });

  test.each<[string, V1Pod[], Partial<PoolObservation>, string, string, string]>([
    ['full', ['a', 'b', 'c'].map((n) => member(p3, 'ready', { name: n })), {}, 'True', 'Full', '3 of 3 members Ready'],
    ['filling, with creates of this pass counted as starting', [member(p3, 'ready', { name: 'a' })], {}, 'False', 'Filling', '1 of 3 members Ready, 2 starting'],
    ['empty by choice', [], { pool: { ...p3, spec: { ...p3.spec, replicas: 0 } } }, 'True', 'Full', 'the pool keeps no members (replicas 0)'],
  ])('the Ready condition when %s', (_what, members, o, status, reason, message) => {
    const ready = planPool(observe(members, o)).status.conditions?.find((c) => c.type === 'Ready');
    expect(ready).toMatchObject({ status, reason, message, observedGeneration: 2, lastTransitionTime: '2026-01-01T00:00:30Z' });
  });

  test('a condition keeps its transition time while its status holds', () => {
    const before = { conditions: [{ type: 'Ready', status: 'False' as const, reason: 'Filling', message: 'old', lastTransitionTime: T0.toISOString() }] };
    const plan = planPool(observe([], { pool: { ...p3, status: before } }));
    expect(plan.status.conditions?.[0]?.lastTransitionTime).toBe(T0.toISOString());
  });
});

describe('poolStatusWrite', () => {
  const cond = (status: 'True' | 'False', reason: string, message = 'm') => ({ type: 'Ready', status, reason, message, lastTransitionTime: T0.toISOString() });
  const base = { replicas: 3, readyReplicas: 2, startingReplicas: 1, selector: 'spawner.dev/pool=games', templateHash: 'h1', observedGeneration: 2, conditions: [cond('False', 'Filling', '2 of 3')] };
  const now = 10_000;
  test.each<[string, object | undefined, object, number | undefined, object]>([
    ['nothing changed', base, base, 0, { write: false }],
    ['the first status', undefined, base, undefined, { write: true }],
    ['counts changed, last write long ago', base, { ...base, readyReplicas: 3 }, 5_000, { write: true }],
    ['counts changed, written 300 ms ago: later', base, { ...base, readyReplicas: 3, conditions: [cond('False', 'Filling', '3 of 3')] }, 9_700, { write: false, retryInMs: 700 }],
    ['the condition flips: at once', base, { ...base, readyReplicas: 3, conditions: [cond('True', 'Full')] }, 9_900, { write: true }],
    ['a new generation: at once', base, { ...base, observedGeneration: 3 }, 9_900, { write: true }],
    ['a new template: at once', base, { ...base, templateHash: 'h2' }, 9_900, { write: true }],
    ['nothing written by this replica yet', base, { ...base, readyReplicas: 3 }, undefined, { write: true }],
  ])('%s', (_what, previous, next, lastWrite, decision) => {
    expect(poolStatusWrite(previous as any, next as any, lastWrite, now)).toEqual(decision);
  });
});
