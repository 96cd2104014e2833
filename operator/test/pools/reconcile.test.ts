import { describe, expect, test } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import { createLogger } from '../../../common/log.ts';
import { MemberExpectations } from '../../src/pools/expectations.ts';
import type { WarmPool } from '../../src/pools/members.ts';
import { REFILL_YIELD_MS, SHORT_HOLD_MS, type Backoff } from '../../src/pools/plan.ts';
import { finalizePool, reconcilePool, type ClaimsSeen, type PoolDeps } from '../../src/pools/reconcile.ts';
import { LatestWrites } from '../../../common/kube/children.ts';
import { RecordingPoolApi } from './fake-pool-api.ts';
import { at, config, pool } from './fixtures.ts';

const FIN = 'spawner.dev/members';

// The cache shows what the test puts in `cached`; time moves only by hand.
function world(p: WarmPool) {
  const api = new RecordingPoolApi();
  const cached = new Map<string, V1Pod>();
  let now = at(10);
  const deps: PoolDeps = {
    api, config,
    pools: new LatestWrites<WarmPool>(),
    expectations: new MemberExpectations(),
    backoffs: new Map<string, Backoff>(),
    statusWrites: new Map<string, number>(),
    claimsSeen: new Map<string, ClaimsSeen>(),
    members: () => [...cached.values()].filter((m) => m.metadata?.ownerReferences?.[0]?.uid === p.metadata.uid),
    now: () => now,
    log: createLogger('test', 'silent'),
  };
  const ready = (pod: V1Pod): V1Pod => ({ ...pod, spec: { ...pod.spec!, nodeName: 'n1' }, status: { phase: 'Running', podIP: '10.0.0.9', conditions: [{ type: 'Ready', status: 'True' }] } });
  return {
    api, deps, cached,
    advance: (seconds: number) => { now = new Date(now.getTime() + seconds * 1000); },
    // The informer catches up: every Pod the API holds, Ready.
    catchUp: () => { cached.clear(); for (const [n, pod] of api.pods) cached.set(n, ready(pod)); },
    clear: () => { api.actions.length = 0; },
  };
}

describe('reconcilePool', () => {
  test('a new pool: finalizer, one create per replica, status (5 writes); a repeat before the cache catches up writes nothing', async () => {
    const w = world(pool());
    expect(await reconcilePool(pool(), w.deps)).toEqual({});
    expect(w.api.actions).toEqual([`patch pool finalizers [${FIN}]`, 'create member games-00001', 'create member games-00002', 'create member games-00003', 'patch pool status ready=0 starting=0 Filling']);
    w.clear();
    await reconcilePool(pool(), w.deps);
    expect(w.api.actions).toEqual([]);
  });

  test('members Ready: the status says Full at once; a claim takes one: exactly one create, once claims pause', async () => {
    const w = world(pool());
    await reconcilePool(pool(), w.deps);
    w.catchUp();
    w.clear();
    await reconcilePool(w.api.pool!, w.deps);
    expect(w.api.actions).toEqual(['patch pool status ready=3 starting=0 Full']);

    // A claim: the member leaves the pool's watch (its pool label is gone).
    w.cached.delete('games-00002');
    w.clear();
    w.advance(5);
    // The refill yields to claims while 2 of 3 are Ready: nothing created until no claim for 500 ms.
    expect(await reconcilePool(w.api.pool!, w.deps)).toEqual({ requeueAfterMs: 500 });
    expect(w.api.actions).toEqual(['patch pool status ready=2 starting=0 Filling']);
    w.clear();
    w.advance(0.5);
    await reconcilePool(w.api.pool!, w.deps);
    expect(w.api.actions).toEqual(['create member games-00004']);
  });

  test('claims that leave fewer than half the members Ready: refilled SHORT_HOLD_MS after the first, though claims keep coming', async () => {
    const w = world(pool());
    await reconcilePool(pool(), w.deps);
    w.catchUp();
    await reconcilePool(w.api.pool!, w.deps);
    w.advance(5);
    w.cached.delete('games-00001'); // the streak's first claim
    w.clear();
    expect(await reconcilePool(w.api.pool!, w.deps)).toEqual({ requeueAfterMs: REFILL_YIELD_MS });
    w.advance(0.4);
    w.cached.delete('games-00002'); // a second one, inside the quiet time: 1 of 3 Ready now
    expect(await reconcilePool(w.api.pool!, w.deps)).toEqual({ requeueAfterMs: REFILL_YIELD_MS });
    w.advance(0.4);
    w.cached.delete('games-00003'); // and a third: the quiet time would end 500 ms from now, the hold sooner
    expect(await reconcilePool(w.api.pool!, w.deps)).toEqual({ requeueAfterMs: SHORT_HOLD_MS - 800 });
    expect(w.api.actions.filter((a) => a.startsWith('create'))).toEqual([]);
    w.advance(0.2);
    await reconcilePool(w.api.pool!, w.deps);
    expect(w.api.actions.filter((a) => a.startsWith('create'))).toEqual(['create member games-00004', 'create member games-00005', 'create member games-00006']);
  });

  test('members we deleted ourselves (a template roll) are replaced at once: they were not claims', async () => {
    const w = world(pool());
    await reconcilePool(pool(), w.deps);
    w.catchUp();
    await reconcilePool(w.api.pool!, w.deps);
    w.deps.expectations.deleteIssued(w.cached.get('games-00002')!.metadata!.uid!, w.deps.now().getTime());
    w.cached.delete('games-00002');
    w.clear();
    await reconcilePool(w.api.pool!, w.deps);
    expect(w.api.actions.filter((a) => a.startsWith('create'))).toEqual(['create member games-00004']);
  });

  test('scale down deletes with a resourceVersion precondition; a member claimed meanwhile is kept', async () => {
    const w = world(pool());
    await reconcilePool(pool(), w.deps);
    w.catchUp();
    // games-00003 was claimed after the cache's view: its resourceVersion moved on.
    const claimed = w.api.pods.get('games-00003')!;
    w.api.pods.set('games-00003', { ...claimed, metadata: { ...claimed.metadata, resourceVersion: '9999' } });
    const scaled = { ...w.api.pool!, spec: { ...w.api.pool!.spec, replicas: 0 }, metadata: { ...w.api.pool!.metadata, generation: 3 } };
    w.api.pool = scaled;
    w.clear();
    await reconcilePool(scaled, w.deps);
    expect(w.api.actions.filter((a) => a.startsWith('delete')).map((a) => a.replace(/ \(rv \d+\)/, '')).sort()).toEqual([
      'delete member games-00001: deleted',
      'delete member games-00002: deleted',
      'delete member games-00003: changed',
    ]);
    expect(w.api.pods.has('games-00003')).toBe(true);
  });

  test('creates refused (a quota): no hot loop; the condition and an Event say why', async () => {
    const w = world(pool());
    w.api.refuseCreates = { code: 403, message: 'exceeded quota: pods=10' };
    const first = await reconcilePool(pool(), w.deps);
    expect(first.requeueAfterMs).toBeGreaterThanOrEqual(1000);
    expect(w.api.events).toEqual([{ type: 'Warning', reason: 'MemberCreateRefused', message: 'cannot create a member (HTTP 403): exceeded quota: pods=10' }]);
    w.clear();
    w.advance(0.5);
    await reconcilePool(w.api.pool!, w.deps);
    expect(w.api.actions.filter((a) => a.startsWith('create'))).toEqual([]); // still backing off
    w.advance(1);
    await reconcilePool(w.api.pool!, w.deps);
    const ready = w.api.pool!.status!.conditions!.find((c) => c.type === 'Ready')!;
    expect(ready).toMatchObject({ status: 'False', reason: 'MembersFailing' });
    expect(ready.message).toContain('cannot create a member (HTTP 403): exceeded quota: pods=10');
  });

  test('an error retrying can fix (the API server unreachable) goes to the queue\'s backoff', async () => {
    const w = world(pool());
    w.deps.api.createMember = async () => { throw new Error('connect ECONNREFUSED'); };
    await expect(reconcilePool(pool(), w.deps)).rejects.toThrow('ECONNREFUSED');
  });
});

describe('finalizePool', () => {
  test('deletes every unclaimed member, waits for them, then releases the finalizer', async () => {
    const w = world(pool());
    await reconcilePool(pool(), w.deps);
    w.catchUp();
    const deleting = { ...w.api.pool!, metadata: { ...w.api.pool!.metadata, deletionTimestamp: at(20) } };
    w.api.pool = deleting;
    w.clear();
    expect(await finalizePool(deleting, w.deps)).toEqual({ requeueAfterMs: 5000 });
    expect(w.api.actions.every((a) => /^delete member games-0000[123] \(rv \d+\): deleted$/.test(a))).toBe(true);
    expect(w.api.actions).toHaveLength(3);
    // Deletes are not repeated while the cache still shows the members.
    w.clear();
    await finalizePool(deleting, w.deps);
    expect(w.api.actions).toEqual([]);
    w.cached.clear();
    expect(await finalizePool(deleting, w.deps)).toBe('done');
    expect(w.api.actions).toEqual(['patch pool finalizers []']);
  });
});
