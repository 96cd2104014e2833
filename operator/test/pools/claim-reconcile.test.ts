// The backend reconcile for spec.poolRef, call by call, against recording fakes of the API: a warm claim
// takes three writes; lost members are skipped; an empty, deleting or missing pool; a crash between the
// claim and the status write; a second Pod from an earlier leader; teardown of a claimed member.
import { describe, expect, test } from '@jest/globals';
import type { V1Pod, V1Service } from '@kubernetes/client-node';
import { ChildCache, LatestWrites } from '../../../common/kube/children.ts';
import { isControlledBy } from '../../../common/kube/owners.ts';
import { createLogger } from '../../../common/log.ts';
import type { SessionLivedBackend } from '../../../common/spawner/types.ts';
import { ClaimLedger } from '../../src/pools/claim.ts';
import type { WarmPool } from '../../src/pools/members.ts';
import { finalize, reconcile, type SpawnerDeps } from '../../src/spawner/reconcile.ts';
import { RecordingApi } from '../fake-api.ts';
import { config, slb } from '../fixtures.ts';
import { RecordingPoolApi } from './fake-pool-api.ts';
import { at, member, pool } from './fixtures.ts';

const FIN = 'spawner.dev/teardown';
const games = pool({ spec: { replicas: 3, httpPort: 3000, template: { containers: [{ name: 'app', image: 'localhost/game:7' }] } } });

function world(o: { pools?: WarmPool[]; members?: V1Pod[] } = {}) {
  const api = new RecordingApi();
  const poolApi = new RecordingPoolApi();
  const cachedPods = new Map<string, V1Pod>();
  for (const m of o.members ?? []) {
    cachedPods.set(`${m.metadata!.namespace}/${m.metadata!.name}`, m);
    poolApi.pods.set(m.metadata!.name!, m);
  }
  const pools = new Map((o.pools ?? [games]).map((p) => [`${p.metadata.namespace}/${p.metadata.name}`, p]));
  let now = at(30);
  const ledger = new ClaimLedger();
  const claims: string[] = [];
  const deps: SpawnerDeps = {
    api,
    pods: new ChildCache<V1Pod>((ns, n) => cachedPods.get(`${ns}/${n}`)),
    services: new ChildCache<V1Service>(() => undefined),
    backends: new LatestWrites<SessionLivedBackend>(),
    config,
    now: () => now,
    log: createLogger('test', 'silent'),
    pools: {
      pool: (ns, name) => pools.get(`${ns}/${name}`),
      members: (ns, name) => [...cachedPods.values()].filter((p) => p.metadata?.namespace === ns && p.metadata?.labels?.['spawner.dev/pool'] === name),
      owned: (b) => [...cachedPods.values()].filter((p) => isControlledBy(p, b)),
      claimMember: async (pod, patch) => {
        const claimed = await poolApi.claimMember(pod, patch);
        claims.push(pod.metadata!.name!);
        return claimed;
      },
      ledger,
      metrics: { claimed: (outcome) => void claims.push(`metric ${outcome}`) },
    },
  };
  // Writes in the order they were sent, across both fakes.
  const writes = () => [...api.actions, ...poolApi.actions].filter((a) => !a.startsWith('event'));
  return {
    api, poolApi, deps, cachedPods, pools, claims, writes,
    advance: (s: number) => { now = new Date(now.getTime() + s * 1000); },
    // The informer shows what the API holds now.
    catchUp: () => { for (const [name, p] of poolApi.pods) cachedPods.set(`${p.metadata!.namespace}/${name}`, p); },
  };
}

const claimer = (o: Partial<SessionLivedBackend['metadata']> = {}) =>
  slb({ spec: { template: undefined, poolRef: { name: 'games' }, gracePeriodSeconds: 60 }, status: { phase: 'Pending' }, metadata: { creationTimestamp: at(30) as unknown as Date, ...o } });

describe('a warm claim', () => {
  test('three writes (finalizer, hand-over, status), no Event, and the backend is Ready at once with the member\'s address', async () => {
    const m1 = member(games, 'ready', { name: 'games-a1', createdAt: 1 });
    const m2 = member(games, 'ready', { name: 'games-b2', createdAt: 2 });
    const w = world({ members: [m2, m1] });
    await reconcile(claimer(), w.deps);
    expect(w.api.actions).toEqual([`patch finalizers [${FIN}]`, 'patch status Ready']); // the PoolClaim condition records the claim
    expect(w.poolApi.actions).toEqual(['claim games-a1']); // the oldest Ready member
    expect(w.api.actions.some((a) => a.startsWith('create'))).toBe(false); // no Pod, no Service
    const status = w.api.backend!.status!;
    expect(status).toMatchObject({
      phase: 'Ready', podName: 'games-a1', podIP: m1.status!.podIP, nodeName: 'node-1', readyTime: '2026-01-01T00:00:30Z',
      url: expect.stringMatching(/^http:\/\/spawner\.test\/p\/game\/\?token=[\w-]+$/),
      pool: { member: 'games-a1', templateHash: m1.metadata!.labels!['spawner.dev/template-hash'], httpPort: 3000 },
    });
    expect(status.serviceName).toBeUndefined();
    expect(status.conditions?.find((c) => c.type === 'PoolClaim')).toMatchObject({ status: 'True', reason: 'ClaimedWarm', message: 'claimed member games-a1 of WarmPool games' });
    expect(w.claims).toEqual(['games-a1', 'metric warm']);
    // The member now belongs to the backend: controller reference and labels.
    const handed = w.poolApi.pods.get('games-a1')!;
    expect(handed.metadata?.ownerReferences).toEqual([expect.objectContaining({ kind: 'SessionLivedBackend', uid: 'uid-slb', controller: true })]);
    expect(handed.metadata?.labels).toMatchObject({ 'spawner.dev/backend': 'game', 'spawner.dev/claimed-from': 'games' });
    expect(handed.metadata?.labels?.['spawner.dev/pool']).toBeUndefined();
  });

  test('a repeat before the caches catch up writes nothing and claims nothing more', async () => {
    const w = world({ members: [member(games, 'ready', { name: 'games-a1' }), member(games, 'ready', { name: 'games-b2' })] });
    await reconcile(claimer(), w.deps);
    const before = w.writes().length;
    await reconcile(w.api.backend!, w.deps); // the backend as written; the Pod cache still shows the member unclaimed
    expect(w.writes().slice(before)).toEqual([]);
    w.catchUp();
    await reconcile(w.api.backend!, w.deps);
    expect(w.writes().slice(before)).toEqual([]);
  });

  test('a member claimed by someone else meanwhile is skipped (409), the next one is taken', async () => {
    const a = member(games, 'ready', { name: 'games-a1', createdAt: 1 });
    const w = world({ members: [a, member(games, 'ready', { name: 'games-b2', createdAt: 2 })] });
    w.poolApi.pods.set('games-a1', { ...a, metadata: { ...a.metadata, resourceVersion: '99999' } }); // the cache has not seen it
    await reconcile(claimer(), w.deps);
    expect(w.poolApi.actions).toEqual(['claim games-a1: 409', 'claim games-b2']);
    expect(w.api.backend!.status).toMatchObject({ phase: 'Ready', podName: 'games-b2' });
  });

  test('two backends claiming at once in one process never try the same member', async () => {
    const w = world({ members: [member(games, 'ready', { name: 'games-a1', createdAt: 1 }), member(games, 'ready', { name: 'games-b2', createdAt: 2 })] });
    const other = claimer({ name: 'game2', uid: 'uid-slb2' });
    // Each backend's own writes go to its own fake; the pool, the Pods and the ledger are shared.
    const otherDeps = { ...w.deps, api: new RecordingApi(), backends: new LatestWrites<SessionLivedBackend>() };
    await Promise.all([reconcile(claimer(), w.deps), reconcile(other, otherDeps)]);
    expect(w.poolApi.actions.sort()).toEqual(['claim games-a1', 'claim games-b2']);
  });

  test('starting members, members of an older template and members being deleted are never claimed', async () => {
    const w = world({ members: [member(games, 'starting', { name: 's' }), member(games, 'ready', { name: 'old', hash: 'old' }), member(games, 'deleting', { name: 'd' })] });
    await reconcile(claimer(), w.deps);
    expect(w.poolApi.actions).toEqual([]);
    expect(w.api.actions).toContain('create pod game'); // cold
  });
});

describe('a cold start from the pool', () => {
  test('an empty pool: the Pod is built from the pool\'s template, and the first status says so at once', async () => {
    const w = world({ members: [] });
    await reconcile(claimer(), w.deps);
    expect(w.api.actions).toEqual([`patch finalizers [${FIN}]`, 'create pod game', 'patch status Pending']);
    expect(w.api.pods.get('sessions/game')!.spec!.containers[0]).toMatchObject({ image: 'localhost/game:7', env: [{ name: 'PORT', value: '3000' }] });
    const status = w.api.backend!.status!;
    expect(status.conditions?.find((c) => c.type === 'PoolClaim')).toMatchObject({ status: 'False', reason: 'PoolEmpty', message: 'WarmPool games had no Ready member; started cold from its template' });
    expect(status.pool).toMatchObject({ httpPort: 3000 });
    expect(status.pool?.member).toBeUndefined();
    expect(w.claims).toEqual(['metric cold']);
  });

  test('a pool being deleted hands out no member: cold', async () => {
    const deleting = { ...games, metadata: { ...games.metadata, deletionTimestamp: at(10) } };
    const w = world({ pools: [deleting], members: [member(games, 'ready')] });
    await reconcile(claimer(), w.deps);
    expect(w.poolApi.actions).toEqual([]);
    expect(w.api.backend!.status!.conditions?.find((c) => c.type === 'PoolClaim')).toMatchObject({ reason: 'PoolDeleting' });
  });

  test('every member lost to other claims: cold, and the condition says why', async () => {
    const a = member(games, 'ready', { name: 'games-a1' });
    const w = world({ members: [a] });
    w.poolApi.pods.delete('games-a1'); // gone meanwhile
    await reconcile(claimer(), w.deps);
    expect(w.poolApi.actions).toEqual(['claim games-a1: 404']);
    expect(w.api.backend!.status!.conditions?.find((c) => c.type === 'PoolClaim')).toMatchObject({ reason: 'ClaimsLost' });
  });

  test('after the cold start the backend goes on as any other, built from its pool', async () => {
    const w = world({ members: [] });
    await reconcile(claimer(), w.deps);
    const stored = w.api.backend!;
    w.api.actions.length = 0;
    await reconcile(stored, w.deps); // its Pod is known from the create: nothing to do, no claim
    expect(w.api.actions).toEqual([]);
  });
});

describe('a pool that does not exist', () => {
  test('Pending with a condition naming it, looked at again soon; nothing is created', async () => {
    const w = world({ pools: [] });
    const outcome = await reconcile(claimer(), w.deps);
    expect(w.api.actions).toEqual([`patch finalizers [${FIN}]`, 'patch status Pending']);
    expect(outcome.requeueAfterMs).toBeLessThanOrEqual(5000);
    expect(w.api.backend!.status!.conditions?.find((c) => c.type === 'PoolClaim')).toMatchObject({ status: 'False', reason: 'PoolNotFound', message: expect.stringContaining('WarmPool sessions/games does not exist') });
    w.api.actions.length = 0;
    await reconcile(w.api.backend!, w.deps);
    expect(w.api.actions).toEqual([]); // said once
  });
});

describe('after a crash', () => {
  // The hand-over landed, then the process died: only the Pod records the claim.
  const handedOver = async (w: ReturnType<typeof world>) => {
    await w.poolApi.claimMember(w.poolApi.pods.get('games-a1')!, { metadata: { resourceVersion: w.poolApi.pods.get('games-a1')!.metadata!.resourceVersion, ownerReferences: [{ apiVersion: 'spawner.dev/v1', kind: 'SessionLivedBackend', name: 'game', uid: 'uid-slb', controller: true }], labels: { 'spawner.dev/pool': null, 'spawner.dev/claimed-from': 'games', 'spawner.dev/backend': 'game' } } });
    w.catchUp();
    w.poolApi.actions.length = 0;
    return { ...claimer(), metadata: { ...claimer().metadata, finalizers: [FIN] } };
  };

  test('a claim whose status was never written: the next process finds the member by its owner and finishes the claim (status.pool, PoolClaim, metric), claiming nothing', async () => {
    const w = world({ members: [member(games, 'ready', { name: 'games-a1' }), member(games, 'ready', { name: 'games-b2' })] });
    const backend = await handedOver(w);
    await reconcile(backend, w.deps); // a fresh world's ledger: this process never claimed
    expect(w.poolApi.actions).toEqual([]);
    expect(w.api.actions).toEqual(['patch status Ready']); // no Event, as for any warm claim
    // What the pool gave it, which every reader takes for the spec fields a claim leaves unset (effectiveSpec).
    expect(w.api.backend!.status).toMatchObject({ phase: 'Ready', podName: 'games-a1', pool: { member: 'games-a1', httpPort: 3000 } });
    expect(w.api.backend!.status!.conditions?.find((c) => c.type === 'PoolClaim')).toMatchObject({ status: 'True', reason: 'ClaimedWarm', message: 'claimed member games-a1 of WarmPool games' });
    expect(w.claims).toEqual(['metric warm']); // counted once, by the process that finished it
  });

  test('the same after the pool\'s template changed: status from the Pod alone (the pool no longer describes it), with the phase\'s Event', async () => {
    const w = world({ members: [member(games, 'ready', { name: 'games-a1' })] });
    const backend = await handedOver(w);
    w.pools.set('sessions/games', { ...games, spec: { ...games.spec, httpPort: 4000 } });
    await reconcile(backend, w.deps);
    expect(w.api.actions).toEqual(['patch status Ready', 'event Normal Ready']);
    expect(w.api.backend!.status).toMatchObject({ phase: 'Ready', podName: 'games-a1' });
    expect(w.api.backend!.status!.pool).toBeUndefined();
  });

  test('two claims for one backend (two leaders): the Pod its status names stays, the other is deleted', async () => {
    const w = world({ members: [] });
    const owner = [{ apiVersion: 'spawner.dev/v1', kind: 'SessionLivedBackend', name: 'game', uid: 'uid-slb', controller: true }];
    const claimedLabels = { 'spawner.dev/claimed-from': 'games', 'spawner.dev/backend': 'game' };
    for (const name of ['games-a1', 'games-b2']) {
      const m = member(games, 'ready', { name });
      w.cachedPods.set(`sessions/${name}`, { ...m, metadata: { ...m.metadata, ownerReferences: owner, labels: { ...claimedLabels, 'spawner.dev/template-hash': 'h' } } });
    }
    const backend = slb({ spec: { template: undefined, poolRef: { name: 'games' } }, metadata: { finalizers: [FIN] }, status: { phase: 'Ready', podName: 'games-b2', readyTime: '2026-01-01T00:00:20Z' } });
    await reconcile(backend, w.deps);
    expect(w.api.actions[0]).toBe('delete pod games-a1 uid=uid-games-a1');
  });
});

describe('a claimed backend later', () => {
  test('its member deleted from under it: Failed PodLost, naming the member', async () => {
    const w = world({ members: [member(games, 'ready', { name: 'games-a1' })] });
    await reconcile(claimer(), w.deps);
    w.cachedPods.clear();
    w.poolApi.pods.clear();
    w.deps.pools!.ledger.forget('uid-slb');
    await reconcile(w.api.backend!, w.deps);
    expect(w.api.backend!.status).toMatchObject({ phase: 'Failed', reason: 'PodLost', message: expect.stringContaining('games-a1') });
  });

  test('teardown deletes the claimed member (its own name), then releases the finalizer; no Service to delete', async () => {
    const w = world({ members: [member(games, 'ready', { name: 'games-a1' })] });
    await reconcile(claimer(), w.deps);
    w.catchUp();
    const deleting = { ...w.api.backend!, metadata: { ...w.api.backend!.metadata, deletionTimestamp: at(60) } };
    w.api.backend = deleting;
    w.api.actions.length = 0;
    expect(await finalize(deleting, w.deps)).toEqual({ requeueAfterMs: 5000 });
    expect(w.api.actions.filter((a) => a.startsWith('delete'))).toEqual(['delete pod games-a1 uid=uid-games-a1']);
    w.cachedPods.clear();
    w.api.actions.length = 0;
    expect(await finalize(w.api.backend!, w.deps)).toBe('done');
    expect(w.api.actions).toEqual(['patch finalizers []']);
  });
});
