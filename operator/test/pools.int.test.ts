// WarmPools against a real API server, with the operator as its service account: a pool fills with
// members it owns; a claim hands one to its backend (Ready at once, the pool refills); an empty pool
// means a cold start; a template change rolls the unclaimed members only; scale-down and deleting the
// pool remove unclaimed members only, and claimed backends outlive their pool; a backend waits for a
// pool that does not exist yet.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { CoreV1Api, CustomObjectsApi, KubeConfig, V1Pod } from '@kubernetes/client-node';
import { kubectl, loadKubeConfig, apiClients, waitFor } from '../../e2e/harness/kube.ts';
import {
  createNamespace, deleteNamespaceWithBackends, installOperatorRbac, operatorKubeconfig, startOperator, tempDir,
  type OperatorProcess,
} from './support/operator-process.ts';
import { createSlb, describeSlb, getPod, getSlb, type Slb } from './support/slbs.ts';
import { createPool, getPool, listMembers, patchPool, poolManifest, type Pool } from './support/pools.ts';

const timeoutMs = 120_000;
let kc: KubeConfig;
let core: CoreV1Api;
let custom: CustomObjectsApi;
let namespace = '';
let operator: OperatorProcess | undefined;

beforeAll(async () => {
  kc = loadKubeConfig();
  ({ core, custom } = apiClients(kc));
  const dir = await tempDir('spawner-pools-');
  await installOperatorRbac();
  namespace = await createNamespace(core, 'pools');
  operator = await startOperator({ kubeconfig: await operatorKubeconfig(kc, dir), dir, identity: 'pools', watchNamespace: namespace, leaseName: `pools-${namespace}` });
  await operator.ready();
  await operator.leading();
}, 5 * 60_000);

afterAll(async () => {
  if (core && namespace) await deleteNamespaceWithBackends(core, namespace);
  await operator?.stop();
}, 180_000);

const operatorDied = () => (operator?.exited() ? `the operator ${operator.exited()}; log:\n${operator.tail()}` : undefined);

const poolReady = (name: string, ready: number) =>
  waitFor(async () => {
    const p = await getPool(custom, namespace, name);
    if (p?.status?.readyReplicas === ready && p.status.observedGeneration === p.metadata.generation) return p;
    throw new Error(`status ${JSON.stringify(p?.status ?? {})}`);
  }, { what: `pool ${name} with ${ready} Ready members`, timeoutMs, failFast: operatorDied });

const slbPhase = (name: string, phase: string) =>
  waitFor(async () => {
    const slb = await getSlb(custom, namespace, name);
    if (slb?.status?.phase === phase) return slb;
    throw new Error(describeSlb(slb));
  }, { what: `${namespace}/${name} to be ${phase}`, timeoutMs, failFast: operatorDied });

const claimOf = (slb: Slb) => slb.status?.conditions?.find((c) => c.type === 'PoolClaim');
const claim = (name: string, pool: string, spec: Partial<Slb['spec']> = {}) =>
  createSlb(custom, { apiVersion: 'spawner.dev/v1', kind: 'SessionLivedBackend', metadata: { name, namespace }, spec: { poolRef: { name: pool }, ...spec } });
const controllerUid = (p: V1Pod | undefined) => p?.metadata?.ownerReferences?.find((r) => r.controller)?.uid;

describe('a WarmPool', () => {
  let pool: Pool;
  test('fills with Ready members it owns, labelled with the pool and the template hash; kubectl shows it', async () => {
    await createPool(custom, poolManifest(namespace, 'games', { replicas: 3 }));
    pool = await poolReady('games', 3);
    expect(pool.status).toMatchObject({ replicas: 3, readyReplicas: 3, startingReplicas: 0, selector: 'spawner.dev/pool=games' });
    expect(pool.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True', reason: 'Full' });
    expect(pool.metadata.finalizers).toContain('spawner.dev/members');
    const members = await listMembers(core, namespace, 'games');
    expect(members).toHaveLength(3);
    for (const m of members) {
      expect(controllerUid(m)).toBe(pool.metadata.uid);
      expect(m.metadata?.labels).toMatchObject({ 'spawner.dev/pool': 'games', 'spawner.dev/template-hash': pool.status!.templateHash });
    }
    expect(await kubectl(['get', 'wp', 'games', '-n', namespace, '--no-headers'])).toMatch(/^games\s+3\s+3\s+/);
  });

  test('a claim: Ready at once with the member\'s address and node; the member is the backend\'s now; the pool refills', async () => {
    const before = new Set((await listMembers(core, namespace, 'games')).map((m) => m.metadata!.name));
    await claim('room-1', 'games', { gracePeriodSeconds: 600 });
    const slb = await slbPhase('room-1', 'Ready');
    expect(claimOf(slb)).toMatchObject({ status: 'True', reason: 'ClaimedWarm' });
    const member = slb.status!.podName!;
    expect(before.has(member)).toBe(true);
    const pod = (await getPod(core, namespace, member))!;
    expect(controllerUid(pod)).toBe(slb.metadata.uid);
    expect(pod.metadata?.labels).toMatchObject({ 'spawner.dev/backend': 'room-1', 'spawner.dev/claimed-from': 'games' });
    expect(pod.metadata?.labels?.['spawner.dev/pool']).toBeUndefined();
    expect(slb.status).toMatchObject({ podIP: pod.status!.podIP, nodeName: pod.spec!.nodeName, url: expect.stringMatching(/^http:\/\/spawner\.test\/p\/room-1\/\?token=[\w-]{44}$/), pool: { member } });
    expect(slb.status!.serviceName).toBeUndefined();
    // Ready counts from the claim (the idle countdown with it), not from when the member started.
    expect(Date.parse(slb.status!.readyTime!)).toBeGreaterThanOrEqual(Date.parse(slb.metadata.creationTimestamp as unknown as string));
    const refilled = await poolReady('games', 3);
    const now = (await listMembers(core, namespace, 'games')).map((m) => m.metadata!.name);
    expect(now).not.toContain(member);
    expect(refilled.status?.replicas).toBe(3);
  });

  test('a template change rolls the unclaimed members, never a claimed one', async () => {
    const claimed = (await getSlb(custom, namespace, 'room-1'))!;
    const claimedPod = (await getPod(core, namespace, claimed.status!.podName!))!;
    const oldHash = (await getPool(custom, namespace, 'games'))!.status!.templateHash;
    await patchPool(custom, namespace, 'games', { spec: { template: { containers: [{ name: 'app', image: 'example.invalid/app:2' }] } } });
    const rolled = await waitFor(async () => {
      const p = await getPool(custom, namespace, 'games');
      const members = await listMembers(core, namespace, 'games');
      const current = members.filter((m) => m.metadata?.labels?.['spawner.dev/template-hash'] === p?.status?.templateHash && !m.metadata?.deletionTimestamp);
      if (p?.status?.templateHash !== oldHash && p?.status?.readyReplicas === 3 && current.length === 3 && members.length === 3) return members;
      throw new Error(`${members.length} members, ${current.length} current, status ${JSON.stringify(p?.status ?? {})}`);
    }, { what: 'the pool rolled to the new template', timeoutMs, failFast: operatorDied });
    for (const m of rolled) expect(m.spec?.containers[0]?.image).toBe('example.invalid/app:2');
    const after = (await getPod(core, namespace, claimedPod.metadata!.name!))!;
    expect(after.metadata?.uid).toBe(claimedPod.metadata?.uid);
    expect(after.metadata?.deletionTimestamp).toBeUndefined();
    expect(after.metadata?.labels?.['spawner.dev/template-hash']).toBe(oldHash);
    expect((await getSlb(custom, namespace, 'room-1'))?.status?.phase).toBe('Ready');
  });

  test('scale-down removes unclaimed members only; `kubectl scale` works', async () => {
    await kubectl(['scale', 'wp', 'games', '-n', namespace, '--replicas=1']);
    await poolReady('games', 1);
    await waitFor(async () => (await listMembers(core, namespace, 'games')).filter((m) => !m.metadata?.deletionTimestamp).length === 1 || undefined, { what: 'one member left', timeoutMs });
    const claimed = (await getSlb(custom, namespace, 'room-1'))!;
    expect((await getPod(core, namespace, claimed.status!.podName!))?.metadata?.deletionTimestamp).toBeUndefined();
  });

  test('deleting the pool removes its unclaimed members; claimed backends outlive it', async () => {
    const claimed = (await getSlb(custom, namespace, 'room-1'))!;
    await kubectl(['delete', 'wp', 'games', '-n', namespace, '--wait=true', '--timeout=120s']);
    expect(await getPool(custom, namespace, 'games')).toBeUndefined();
    await waitFor(async () => (await listMembers(core, namespace, 'games')).length === 0 || undefined, { what: 'the unclaimed members gone', timeoutMs });
    const pod = (await getPod(core, namespace, claimed.status!.podName!))!;
    expect(pod.metadata?.deletionTimestamp).toBeUndefined();
    expect(controllerUid(pod)).toBe(claimed.metadata.uid);
    expect((await getSlb(custom, namespace, 'room-1'))?.status?.phase).toBe('Ready');
    // Its backend's deletion takes it.
    await kubectl(['delete', 'slb', 'room-1', '-n', namespace, '--wait=true', '--timeout=120s']);
    await waitFor(async () => (await getPod(core, namespace, pod.metadata!.name!)) === undefined || undefined, { what: 'the claimed member gone with its backend', timeoutMs });
  });
});

test('an empty pool: the backend starts cold from the pool\'s template and says so', async () => {
  await createPool(custom, poolManifest(namespace, 'empty', { replicas: 0, httpPort: 3000 }));
  await claim('cold-1', 'empty');
  const slb = await slbPhase('cold-1', 'Ready');
  expect(claimOf(slb)).toMatchObject({ status: 'False', reason: 'PoolEmpty' });
  expect(slb.status).toMatchObject({ podName: 'cold-1', pool: { httpPort: 3000 } });
  expect(slb.status!.serviceName).toBeUndefined(); // no Service (decision B)
  const pod = (await getPod(core, namespace, 'cold-1'))!;
  expect(pod.spec?.containers[0]?.env).toContainEqual({ name: 'PORT', value: '3000' });
  expect(controllerUid(pod)).toBe(slb.metadata.uid);
});

test('a backend naming a pool that does not exist waits with a condition, then claims once the pool is there', async () => {
  await claim('early', 'later');
  await waitFor(async () => {
    const slb = await getSlb(custom, namespace, 'early');
    return claimOf(slb!)?.reason === 'PoolNotFound' || undefined;
  }, { what: 'the PoolNotFound condition', timeoutMs, failFast: operatorDied });
  expect((await getSlb(custom, namespace, 'early'))?.status?.phase).toBe('Pending');
  await createPool(custom, poolManifest(namespace, 'later', { replicas: 1 }));
  const slb = await slbPhase('early', 'Ready');
  // The pool may still have been filling when it first saw the backend: warm or cold, never failed.
  expect(['ClaimedWarm', 'PoolEmpty']).toContain(claimOf(slb)?.reason);
});

test('per-session environment variables on a claim are refused, saying they need a cold start', async () => {
  const err = await kubectl(['create', '-f', '-'], {
    input: `apiVersion: spawner.dev/v1\nkind: SessionLivedBackend\nmetadata: {name: env-claim, namespace: ${namespace}}\nspec: {poolRef: {name: games}, template: {containers: [{name: app, image: x, env: [{name: ROOM, value: '7'}]}]}}\n`,
  }).then(() => '', (e: Error) => e.message);
  expect(err).toMatch(/spec\.template.*per-session settings \(environment variables, image, resources\) need a cold start/);
});
