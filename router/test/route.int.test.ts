// The route service against the real API server, with the operator running beside it (both as local
// processes impersonating their service accounts, held to the RBAC of the manifests) and kwok nodes
// making Pods Ready: a client that has seen Ready is routed on its first request, Failed and deleted
// backends are ended at once, the service reads nothing but the routed namespace's backends (and the Pod
// of one that is starting), and a starting backend whose marked Pod listens is routed before Ready.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import type { CoreV1Api, CustomObjectsApi, KubeConfig, V1Service } from '@kubernetes/client-node';
import { createInformer } from '../../common/kube/informer.ts';
import { memoryLogger } from '../../common/kube/testing/memlog.ts';
import { apiClients, impersonating, kubectl, loadKubeConfig, waitFor, writeKubeconfig } from '../../e2e/harness/kube.ts';
import { repoRoot } from '../../e2e/harness/paths.ts';
import { mintAccessToken, parseAccessKey } from '../../common/spawner/access.ts';
import {
  createNamespace, deleteNamespaceWithBackends, installOperatorRbac, operatorKubeconfig, startOperator, tempDir, type OperatorProcess,
} from '../../operator/test/support/operator-process.ts';
import { createPool, listMembers, poolManifest } from '../../operator/test/support/pools.ts';
import { createSlb, deleteSlb, getPod, getSlb, slbManifest, type Slb } from '../../operator/test/support/slbs.ts';
import { startRouterProcess, type RouterProcess } from './support/process.ts';

jest.setTimeout(300_000);
const ROUTER_RBAC = path.join(repoRoot, 'manifests/backends/router-rbac.yaml');

let kc: KubeConfig;
let core: CoreV1Api;
let custom: CustomObjectsApi;
let ns = '';
let otherNs = '';
let dir = '';
let operator: OperatorProcess | undefined;
let router: RouterProcess | undefined;
const keyHex = randomBytes(32).toString('hex');
const key = parseAccessKey(Buffer.from(keyHex));

const tokenOf = (slb: Slb, namespace = ns) => mintAccessToken(key, { namespace, name: slb.metadata.name!, uid: slb.metadata.uid! });

async function route(name: string, token?: string): Promise<{ status: number; upstream: string | null; verdict: string | null }> {
  const res = await fetch(`http://${router!.address}/route`, {
    headers: { 'x-spawner-name': name, 'x-spawner-rest': token ? `/?token=${token}` : '/' },
  });
  return { status: res.status, upstream: res.headers.get('x-spawner-upstream'), verdict: res.headers.get('x-spawner-verdict') };
}

beforeAll(async () => {
  kc = loadKubeConfig();
  ({ core, custom } = apiClients(kc));
  dir = await tempDir('spawner-router-');
  ns = await createNamespace(core, 'routed');
  otherNs = await createNamespace(core, 'unrouted');
  await installOperatorRbac();
  // The route service's Role and RoleBinding, as shipped, in this test's routed namespace.
  await kubectl(['apply', '-f', '-'], { input: readFileSync(ROUTER_RBAC, 'utf8').replaceAll('namespace: spawner-backends', `namespace: ${ns}`) });
  operator = await startOperator({ kubeconfig: await operatorKubeconfig(kc, dir), dir, identity: 'router-test', watchNamespace: ns, leaderElect: false });
  const keyFile = path.join(dir, 'access-key');
  writeFileSync(keyFile, keyHex, { mode: 0o600 });
  const routerKubeconfig = await writeKubeconfig(impersonating(kc, 'spawner-system', 'spawner-router'), path.join(dir, 'router.kubeconfig'));
  router = await startRouterProcess([`--kubeconfig=${routerKubeconfig}`, `--namespace=${ns}`, `--access-key-file=${keyFile}`]);
  await Promise.all([operator.ready(120_000), router.ready(60_000)]);
}, 300_000);

afterAll(async () => {
  if (core && ns) await deleteNamespaceWithBackends(core, ns);
  if (core && otherNs) await deleteNamespaceWithBackends(core, otherNs);
  await operator?.stop();
  await router?.stop();
}, 180_000);

async function untilPhase(name: string, phase: string, namespace = ns): Promise<Slb> {
  // A client polling as fast as it can: the moment it sees the phase, it acts.
  return waitFor(
    async () => {
      const slb = await getSlb(custom, namespace, name);
      return slb?.status?.phase === phase ? slb : undefined;
    },
    { what: `${name} to be ${phase}`, timeoutMs: 120_000, intervalMs: 5 },
  );
}

describe('Ready means routable', () => {
  test('20 backends created at once: the first request after each one is seen Ready is routed to its Pod', async () => {
    const names = Array.from({ length: 20 }, (_, i) => `burst-${i}`);
    await Promise.all(names.map((name) => createSlb(custom, slbManifest(ns, name))));
    const first = await Promise.all(
      names.map(async (name) => {
        const slb = await untilPhase(name, 'Ready');
        return { slb, answer: await route(name, tokenOf(slb)) };
      }),
    );
    for (const { slb, answer } of first) {
      expect(answer).toEqual({ status: 200, verdict: 'route', upstream: `${slb.status!.podIP}:9090` });
    }
  });

  test('one at a time, 5 backends in a row', async () => {
    for (let i = 0; i < 5; i++) {
      const name = `single-${i}`;
      await createSlb(custom, slbManifest(ns, name, { spec: { sidecar: { enabled: false }, httpPort: 3000 } }));
      const slb = await untilPhase(name, 'Ready');
      expect(await route(name, tokenOf(slb))).toEqual({ status: 200, verdict: 'route', upstream: `${slb.status!.podIP}:3000` });
    }
  });
});

// Fresh reads of backends the route service has made so far (its own metric).
async function lookups(): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${router!.healthPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('spawner_router_lookup_seconds_count{outcome="ok"}'));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('refused the same way, and without asking the API server', () => {
  let room: Slb;
  let before = 0;
  beforeAll(async () => {
    await createSlb(custom, slbManifest(ns, 'room'));
    room = await untilPhase('room', 'Ready');
    await createSlb(custom, slbManifest(otherNs, 'room'));
    before = await lookups();
  });

  test.each<[string, () => [string, string | undefined]]>([
    ['no token', () => ['room', undefined]],
    ['a wrong token', () => ['room', 'A'.repeat(44)]],
    ['a token of the same name in another namespace', () => ['room', tokenOf(room, otherNs)]],
    ['an unknown name', () => ['nobody', tokenOf(room)]],
  ])('%s: 401 ended', async (_what, make) => {
    const [name, token] = make();
    expect(await route(name, token)).toEqual({ status: 401, verdict: 'ended', upstream: null });
  });

  test('a backend in a namespace the router does not serve is unknown to it, even with a valid token', async () => {
    const elsewhere = (await getSlb(custom, otherNs, 'room'))!;
    expect(await route('room', tokenOf(elsewhere, otherNs))).toMatchObject({ status: 401 });
  });

  test('none of these refusals read anything from the API server', async () => {
    expect(await lookups()).toBe(before);
  });
});

describe('ended means ended', () => {
  test('a Failed backend stops being routable as soon as its status says so', async () => {
    await createSlb(custom, slbManifest(ns, 'doomed'));
    const slb = await untilPhase('doomed', 'Ready');
    const token = tokenOf(slb);
    expect((await route('doomed', token)).status).toBe(200);
    // The app container fails (kwok would keep it running): the operator turns the backend Failed.
    await kubectl(['delete', 'pod', '-n', ns, 'doomed', '--wait=false']);
    await untilPhase('doomed', 'Failed');
    // The route service follows its watch; a few milliseconds later at most.
    await waitFor(async () => (await route('doomed', token)).status === 401, { what: 'doomed to be ended', timeoutMs: 5_000, intervalMs: 5 });
  });

  test('a deleted backend’s link stays dead when the name is used again; the new backend has its own link', async () => {
    await createSlb(custom, slbManifest(ns, 'again'));
    const first = await untilPhase('again', 'Ready');
    await deleteSlb(custom, ns, 'again');
    await waitFor(async () => ((await getSlb(custom, ns, 'again')) ? undefined : true), { what: 'again to be gone', timeoutMs: 120_000 });
    await createSlb(custom, slbManifest(ns, 'again'));
    const second = await untilPhase('again', 'Ready');
    expect(second.metadata.uid).not.toBe(first.metadata.uid);
    expect(await route('again', tokenOf(first))).toMatchObject({ status: 401 });
    expect(await route('again', tokenOf(second))).toMatchObject({ status: 200 });
  });
});

// Decision B end to end: nothing of a backend's life needs a Service, and none is ever made.
test('create → routed to podIP:port → deleted → ended, with no Service in the namespace at any moment', async () => {
  // Every Service the namespace ever shows from here on, by the API server's own watch.
  const services: string[] = [];
  const watch = createInformer<V1Service>({ kubeConfig: kc, path: `/api/v1/namespaces/${ns}/services`, log: memoryLogger().log });
  watch.onEvent((ev) => { services.push(`${ev.type} ${ev.obj.metadata!.name}`); });
  await watch.start();
  expect(watch.list()).toEqual([]); // none from any test before this one either

  await createSlb(custom, slbManifest(ns, 'no-service'));
  const slb = await untilPhase('no-service', 'Ready');
  expect(slb.status!.serviceName).toBeUndefined();
  expect(await route('no-service', tokenOf(slb))).toEqual({ status: 200, verdict: 'route', upstream: `${slb.status!.podIP}:9090` });
  await deleteSlb(custom, ns, 'no-service');
  await waitFor(async () => ((await getSlb(custom, ns, 'no-service')) ? undefined : true), { what: 'no-service to be gone', timeoutMs: 120_000 });
  await waitFor(async () => (await route('no-service', tokenOf(slb))).status === 401 || undefined, { what: 'no-service to be ended', timeoutMs: 5_000, intervalMs: 5 });
  expect((await core.listNamespacedService({ namespace: ns })).items).toEqual([]);
  watch.stop();
  expect(services).toEqual([]);
});

// Pool invariant 3: a WarmPool member has no backend until it is claimed, so nothing routes to it — not
// its Pod's name, not even with a token that verifies (minted with the cluster's key for the Pod's own
// namespace, name and uid); once claimed, its backend's link reaches that Pod at once.
describe('a WarmPool member is unreachable until claimed', () => {
  test('unclaimed members are refused by name with or without a valid token; a claim routes to its member on the first request', async () => {
    await createPool(custom, poolManifest(ns, 'games', { replicas: 2, sidecar: { enabled: false }, httpPort: 3000 }));
    const members = await waitFor(
      async () => {
        const ready = (await listMembers(core, ns, 'games')).filter((p) => p.status?.podIP && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
        return ready.length === 2 ? ready : undefined;
      },
      { what: 'two Ready members', timeoutMs: 120_000 },
    );
    const memberToken = (name: string) => {
      const pod = members.find((p) => p.metadata!.name === name)!;
      return mintAccessToken(key, { namespace: ns, name, uid: pod.metadata!.uid! });
    };
    const refused = { status: 401, verdict: 'ended', upstream: null };
    for (const pod of members) {
      expect(await route(pod.metadata!.name!)).toEqual(refused);
      expect(await route(pod.metadata!.name!, memberToken(pod.metadata!.name!))).toEqual(refused);
    }

    await createSlb(custom, { apiVersion: 'spawner.dev/v1', kind: 'SessionLivedBackend', metadata: { name: 'claimed', namespace: ns }, spec: { poolRef: { name: 'games' } } });
    const slb = await untilPhase('claimed', 'Ready');
    const taken = members.find((p) => p.metadata!.name === slb.status!.pool?.member);
    expect(taken).toBeDefined(); // claimed warm, from the members seen above
    expect(await route('claimed', tokenOf(slb))).toEqual({ status: 200, verdict: 'route', upstream: `${taken!.status!.podIP}:3000` });
    // The member's own name still routes nowhere, and neither does the one left in the pool.
    for (const pod of members) expect(await route(pod.metadata!.name!, memberToken(pod.metadata!.name!))).toEqual(refused);
  });
});

// Listening is routable before Ready (router/README.md). The operator makes the Pod (marked or not, as
// desiredPod decides); no node ever takes it (unschedulable), so it never turns Ready and the backend stays
// Pending; the test plays the kubelet's part of giving it an address (status subresource) — 127.0.0.1,
// where the test's own listener plays the app. The route service reads that Pod through the shipped Role.
describe('listening is routable before Ready', () => {
  let app: net.Server;
  let appPort = 0;
  beforeAll(async () => {
    app = net.createServer((s) => s.destroy());
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    appPort = (app.address() as AddressInfo).port;
  });
  afterAll(async () => new Promise((resolve) => app.close(resolve)));

  async function startingWithAddress(name: string, spec: Partial<Slb['spec']>): Promise<{ slb: Slb; annotations: Record<string, string> }> {
    const created = await createSlb(custom, slbManifest(ns, name, { unschedulable: true, spec }));
    const pod = await waitFor(async () => getPod(core, ns, name), { what: `${name}'s Pod`, timeoutMs: 60_000 });
    const token = tokenOf(created);
    // No address yet: starting, whatever the Pod says.
    expect(await route(name, token)).toMatchObject({ status: 403, verdict: 'starting' });
    await kubectl(['patch', 'pod', '-n', ns, name, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { podIP: '127.0.0.1', podIPs: [{ ip: '127.0.0.1' }] } })]);
    return { slb: created, annotations: pod.metadata?.annotations ?? {} };
  }

  async function earlyRoutes(): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${router!.healthPort}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('spawner_router_answers_total{verdict="route",source="listening"}'));
    return line ? Number(line.split(' ').pop()) : 0;
  }

  test('node mode: the operator marks the Pod, and once its port accepts a connection the Pending backend is routed to it', async () => {
    const before = await earlyRoutes();
    const { slb, annotations } = await startingWithAddress('early', { sidecar: { enabled: false }, httpPort: appPort });
    expect(annotations['spawner.dev/routable-when-listening']).toBe(String(appPort));
    const answer = await waitFor(
      async () => {
        const a = await route('early', tokenOf(slb));
        return a.status === 200 ? a : undefined;
      },
      { what: 'early to be routed', timeoutMs: 10_000, intervalMs: 50 },
    );
    expect(answer).toEqual({ status: 200, verdict: 'route', upstream: `127.0.0.1:${appPort}` });
    // Routed before any Ready: the backend and its Pod are still not Ready.
    const now = (await getSlb(custom, ns, 'early'))!;
    expect(now.status?.phase ?? 'Pending').toBe('Pending');
    const pod = (await getPod(core, ns, 'early'))!;
    expect(pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false).toBe(false);
    expect(await earlyRoutes()).toBeGreaterThan(before);
  });

  test('sidecar mode: listening on the app’s port says nothing (no mark), so the backend stays starting until Ready', async () => {
    const { slb, annotations } = await startingWithAddress('early-sidecar', { sidecar: { enabled: true }, httpPort: appPort });
    expect(annotations['spawner.dev/routable-when-listening']).toBeUndefined();
    for (let i = 0; i < 3; i++) expect(await route('early-sidecar', tokenOf(slb))).toMatchObject({ status: 403, verdict: 'starting' });
  });
});

test('the route service logs no token and no key', () => {
  const output = router!.out() + router!.err();
  expect(output).not.toContain(keyHex);
  expect(output).not.toMatch(/[A-Za-z0-9_-]{44}/);
});
