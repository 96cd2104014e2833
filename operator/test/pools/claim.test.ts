import { describe, expect, test } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import { claimCandidates, claimPatch, ClaimLedger, decideClaim, isClaimedMember, isUnfinishedClaim, phaseEventFor, surplusPods, withPoolClaimCondition, withPoolSpec, type ClaimInput, type ClaimOutcome } from '../../src/pools/claim.ts';
import type { Phase } from '../../../common/spawner/types.ts';
import { templateHash } from '../../src/pools/members.ts';
import { slb } from '../fixtures.ts';
import { at, config, member, pool, T0 } from './fixtures.ts';

const p = pool();
const hash = templateHash(p, config);
const claimer = slb({ spec: { template: undefined, poolRef: { name: 'games' }, gracePeriodSeconds: 60 } });

describe('claimCandidates', () => {
  test('Ready members of the current template, not taken, oldest first', () => {
    const pods: V1Pod[] = [
      member(p, 'ready', { name: 'young', createdAt: 20 }),
      member(p, 'ready', { name: 'old', createdAt: 1 }),
      member(p, 'starting', { name: 'starting' }),
      member(p, 'deleting', { name: 'deleting' }),
      member(p, 'imagePull', { name: 'failed' }),
      member(p, 'ready', { name: 'outdated', hash: 'old' }),
      member(p, 'ready', { name: 'taken' }),
      member(pool({ metadata: { name: 'other', uid: 'uid-other' } }), 'ready', { name: 'other-pool' }),
    ];
    const candidates = claimCandidates(pods, p, hash, (uid) => uid === 'uid-taken');
    expect(candidates.map((c) => c.metadata?.name)).toEqual(['old', 'young']);
  });

  test('a member already claimed (controlled by a backend, pool label gone) is no candidate', () => {
    const claimed = member(p, 'ready', { name: 'claimed' });
    claimed.metadata!.ownerReferences = [{ apiVersion: 'spawner.dev/v1', kind: 'SessionLivedBackend', name: 'x', uid: 'uid-x', controller: true }];
    const relabelled = member(p, 'ready', { name: 'relabelled' });
    delete relabelled.metadata!.labels!['spawner.dev/pool'];
    expect(claimCandidates([claimed, relabelled], p, hash, () => false)).toEqual([]);
  });
});

describe('claimPatch', () => {
  test('one conditional merge patch: the backend becomes the only controller, the pool label goes', () => {
    const m = member(p, 'ready', { name: 'games-abc', rv: '4711' });
    expect(claimPatch(m, claimer, p)).toEqual({
      metadata: {
        resourceVersion: '4711',
        ownerReferences: [{ apiVersion: 'spawner.dev/v1', kind: 'SessionLivedBackend', name: 'game', uid: 'uid-slb', controller: true, blockOwnerDeletion: true }],
        labels: { 'spawner.dev/pool': null, 'spawner.dev/backend': 'game', 'spawner.dev/claimed-from': 'games' },
      },
    });
  });

  test('a claimed member is recognised by its label', () => {
    const m = member(p, 'ready');
    expect(isClaimedMember(m)).toBe(false);
    m.metadata!.labels!['spawner.dev/claimed-from'] = 'games';
    expect(isClaimedMember(m)).toBe(true);
  });
});

describe('decideClaim', () => {
  const ready = [member(p, 'ready', { name: 'm1' })];
  const input = (o: Partial<ClaimInput>): ClaimInput => ({ slb: claimer, pool: p, hasPod: false, candidates: ready, ...o });
  test.each<[string, Partial<ClaimInput>, string, string | undefined]>([
    ['a backend without poolRef', { slb: slb() }, 'none', undefined],
    ['Ready members wait', {}, 'claim', undefined],
    ['the pool is empty: start cold, never fail', { candidates: [] }, 'cold', 'PoolEmpty'],
    ['the pool is being deleted: start cold from its template', { pool: pool({ metadata: { deletionTimestamp: T0 } }) }, 'cold', 'PoolDeleting'],
    ['the pool does not exist (yet)', { pool: undefined }, 'waitForPool', undefined],
    ['the backend has its Pod already (claimed or cold)', { hasPod: true }, 'none', undefined],
    ['the backend was Ready once (its Pod is gone: no second member for one session)', { slb: { ...claimer, status: { phase: 'Ready', readyTime: '2026-01-01T00:00:01Z' } } }, 'none', undefined],
    ['the backend failed', { slb: { ...claimer, status: { phase: 'Failed' } } }, 'none', undefined],
    ['the backend is being deleted', { slb: { ...claimer, metadata: { ...claimer.metadata, deletionTimestamp: T0 } } }, 'none', undefined],
  ])('%s', (_what, o, action, reason) => {
    const d = decideClaim(input(o));
    expect({ action: d.action, reason: 'reason' in d ? d.reason : undefined }).toEqual({ action, reason });
  });

  test('messages name the pool', () => {
    expect(decideClaim(input({ pool: undefined }))).toMatchObject({ message: expect.stringContaining('WarmPool sessions/games does not exist') });
    expect(decideClaim(input({ candidates: [] }))).toMatchObject({ message: 'WarmPool games had no Ready member; started cold from its template' });
  });
});

describe('withPoolSpec', () => {
  test('the pool\'s backend fields with the backend\'s own grace period and lifetime', () => {
    const pp = pool({ spec: { httpPort: 3000, sidecar: { enabled: false }, startupTimeoutSeconds: 20 } });
    const resolved = withPoolSpec({ ...claimer, spec: { ...claimer.spec, maxLifetimeSeconds: 600 } }, pp);
    expect(resolved.spec).toEqual({ poolRef: { name: 'games' }, gracePeriodSeconds: 60, maxLifetimeSeconds: 600, template: pp.spec.template, httpPort: 3000, sidecar: { enabled: false }, startupTimeoutSeconds: 20 });
    expect(resolved.metadata).toBe(claimer.metadata);
  });
  test('a backend without poolRef, or whose pool is gone, is itself', () => {
    const plain = slb();
    expect(withPoolSpec(plain, p)).toBe(plain);
    expect(withPoolSpec(claimer, undefined)).toBe(claimer);
  });
});

describe('withPoolClaimCondition', () => {
  test.each([
    [{ kind: 'warm' as const, pool: 'games', member: 'games-abc' }, 'True', 'ClaimedWarm', 'claimed member games-abc of WarmPool games'],
    [{ kind: 'cold' as const, reason: 'PoolEmpty' as const, message: 'WarmPool games had no Ready member' }, 'False', 'PoolEmpty', 'WarmPool games had no Ready member'],
    [{ kind: 'waiting' as const, message: 'no pool' }, 'False', 'PoolNotFound', 'no pool'],
  ])('%j', (outcome, status, reason, message) => {
    expect(withPoolClaimCondition([], outcome, 3, at(1))).toEqual([{ type: 'PoolClaim', status, reason, message, observedGeneration: 3, lastTransitionTime: '2026-01-01T00:00:01Z' }]);
  });
});

describe('isUnfinishedClaim', () => {
  const claimed = member(p, 'ready', { name: 'claimed' });
  claimed.metadata!.labels = { ...claimed.metadata!.labels, 'spawner.dev/claimed-from': 'games' };
  const coldPod = member(p, 'ready', { name: 'cold' }); // stands for a cold start's Pod: no claimed-from label
  const withOrigin = { ...claimer, status: { phase: 'Ready' as const, pool: { templateHash: hash, member: 'claimed' } } };
  const hashOf = () => hash;
  test.each<[string, typeof claimer, V1Pod | undefined, typeof p | undefined, () => string, boolean]>([
    ['handed over, status never written, pool as it was: finish the claim', claimer, claimed, p, hashOf, true],
    ['status already written with the claim', withOrigin, claimed, p, hashOf, false],
    ['its pool is gone', claimer, claimed, undefined, hashOf, false],
    ["its pool's template changed since", claimer, claimed, p, () => 'other', false],
    ['a Pod that is no claimed member', claimer, coldPod, p, hashOf, false],
    ['no Pod', claimer, undefined, p, hashOf, false],
  ])('%s', (_, backend, kept, pl, h, want) => {
    expect(isUnfinishedClaim(backend, kept, pl, h)).toBe(want);
  });
});

describe('phaseEventFor: which transitions record an Event', () => {
  const warm: ClaimOutcome = { kind: 'warm', pool: 'games', member: 'games-abc' };
  const empty: ClaimOutcome = { kind: 'cold', reason: 'PoolEmpty', message: 'WarmPool games had no Ready member' };
  const lost: ClaimOutcome = { kind: 'cold', reason: 'ClaimsLost', message: 'every Ready member was claimed' };
  const waiting: ClaimOutcome = { kind: 'waiting', message: 'no pool' };
  test.each<[string, Phase | undefined, Phase, ClaimOutcome | undefined, string | undefined]>([
    ['a warm claim, Ready in its first status write', undefined, 'Ready', warm, undefined],
    ['a warm claim after a Pending status (its pool was missing)', 'Pending', 'Ready', warm, undefined],
    ['a warm claim whose member failed: the failure is recorded', undefined, 'Failed', warm, 'Warning Why'],
    ['a cold start from an empty pool: Pending, as any first status', undefined, 'Pending', empty, undefined],
    ['a cold start that lost every member: Ready, as any cold start', 'Pending', 'Ready', lost, 'Normal Ready'],
    ['a pooled cold start becoming Ready later (no claim in that write)', 'Pending', 'Ready', undefined, 'Normal Ready'],
    ['waiting for the pool', 'Pending', 'Pending', waiting, undefined],
    ['a claimed backend Ready again after its Pod was Pending', 'Pending', 'Ready', undefined, 'Normal Ready'],
    ['a claimed backend Pending again', 'Ready', 'Pending', undefined, 'Normal Pending'],
    ['a claimed backend failing', 'Ready', 'Failed', undefined, 'Warning Why'],
    ['a claimed backend deleted', 'Ready', 'Terminating', undefined, 'Normal Terminating'],
    ['a plain backend Ready', 'Pending', 'Ready', undefined, 'Normal Ready'],
    ['no change, no Event', 'Ready', 'Ready', warm, undefined],
  ])('%s', (_, from, to, claim, want) => {
    const ev = phaseEventFor(from, to, 'Why', 'msg', claim);
    expect(ev && `${ev.type} ${ev.reason}`).toBe(want);
  });
});

describe('surplusPods', () => {
  const a = member(p, 'ready', { name: 'a', createdAt: 5 });
  const b = member(p, 'ready', { name: 'b', createdAt: 1 });
  test.each<[string, V1Pod[], string | undefined, string[]]>([
    ['one Pod: nothing surplus', [a], undefined, []],
    ['two, status names one: the other goes', [a, b], 'a', ['b']],
    ['two, status names none: the oldest stays', [a, b], undefined, ['a']],
  ])('%s', (_what, owned, podName, surplus) => {
    expect(surplusPods(owned, { ...claimer, status: podName ? { podName } : undefined }).map((x) => x.metadata?.name)).toEqual(surplus);
  });
});

describe('ClaimLedger', () => {
  const m = member(p, 'ready', { name: 'm' });
  test('a member reserved by one reconcile is taken for the others until released', () => {
    const ledger = new ClaimLedger();
    expect(ledger.reserve('uid-m')).toBe(true);
    expect(ledger.reserve('uid-m')).toBe(false);
    expect(ledger.taken('uid-m')).toBe(true);
    ledger.release('uid-m');
    expect(ledger.taken('uid-m')).toBe(false);
  });
  test('a won claim stays taken and names the backend\'s Pod until the cache has caught up (ttl)', () => {
    const ledger = new ClaimLedger(1000);
    ledger.reserve('uid-m');
    ledger.won('uid-slb', m, 0);
    expect(ledger.taken('uid-m', 500)).toBe(true);
    expect(ledger.claimedFor('uid-slb', 500)).toBe(m);
    expect(ledger.taken('uid-m', 1500)).toBe(false);
    expect(ledger.claimedFor('uid-slb', 1500)).toBeUndefined();
  });
});
