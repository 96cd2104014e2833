// The operator against a real API server, as its service account: a backend's whole life (create →
// Pod, and no Service (decision B) → Pending → Ready → delete → Terminating → Pod gone → finalizer
// released), the Pod taken from under it, the startup deadline, garbage collection after a forced
// deletion, and a backend from before decision B whose Service still goes with it.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { CoreV1Api, CustomObjectsApi, KubeConfig, V1Pod, V1Service } from '@kubernetes/client-node';
import { FINALIZER, KIND, SIDECAR_CONTAINER, SIDECAR_PROXY_PORT } from '../../common/contract.ts';
import { createInformer, type Informer } from '../../common/kube/informer.ts';
import { memoryLogger } from '../../common/kube/testing/memlog.ts';
import { apiClients, kubectl, loadKubeConfig, waitFor } from '../../e2e/harness/kube.ts';
import {
  createNamespace, deleteNamespace, installOperatorRbac, operatorKubeconfig, startOperator, tempDir,
  invitation, type OperatorProcess,
} from './support/operator-process.ts';
import { createSlb, describeSlb, getPod, getService, getSlb, slbManifest, type Slb } from './support/slbs.ts';

const timeoutMs = 120_000;
let kc: KubeConfig;
let core: CoreV1Api;
let custom: CustomObjectsApi;
let namespace = '';
let dir = '';
let operator: OperatorProcess | undefined;
let operatorKc = '';

// Everything that happens to backends, Pods and Services in the namespace: lets a test check the order
// of deletions, not only the end state. Three independent watches: arrival order means nothing across
// kinds, the resourceVersions of one etcd do order them (a harness fact; the API calls them opaque).
type Seen = { kind: string; type: string; name: string; uid: string; phase?: string; rv: number };
const seen: Seen[] = [];
const informers: Informer<Slb | V1Pod | V1Service>[] = [];

function watchNamespace(): Promise<unknown> {
  const { log } = memoryLogger();
  const paths: Array<[string, string]> = [
    ['SessionLivedBackend', `/apis/spawner.dev/v1/namespaces/${namespace}/sessionlivedbackends`],
    ['Pod', `/api/v1/namespaces/${namespace}/pods`],
    ['Service', `/api/v1/namespaces/${namespace}/services`],
  ];
  return Promise.all(
    paths.map(([kind, path]) => {
      const inf = createInformer<Slb | V1Pod | V1Service>({ kubeConfig: kc, path, log });
      inf.onEvent((ev) => {
        const obj = ev.obj;
        seen.push({ kind, type: ev.type, name: obj.metadata!.name!, uid: obj.metadata!.uid!, phase: (obj as Slb).status?.phase, rv: Number(obj.metadata!.resourceVersion) });
      });
      informers.push(inf);
      return inf.start();
    }),
  );
}

const slbPhase = (name: string, phase: string) =>
  waitFor(
    async () => {
      const slb = await getSlb(custom, namespace, name);
      if (slb?.status?.phase === phase) return slb;
      throw new Error(describeSlb(slb));
    },
    { what: `${namespace}/${name} to be ${phase}`, timeoutMs, failFast: operatorDied },
  );

const gone = (what: string, read: () => Promise<unknown>) =>
  waitFor(async () => (await read()) === undefined, { what, timeoutMs, failFast: operatorDied });

// The operator records an Event on each phase change without holding up the status write: poll for them.
const eventReasons = (name: string, reasons: string[]) =>
  waitFor(
    async () => {
      const events = await core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name},involvedObject.kind=${KIND}` });
      const have = events.items.map((e) => e.reason);
      if (!reasons.every((r) => have.includes(r))) throw new Error(`Events so far: ${have.join(', ') || 'none'}`);
      return true;
    },
    { what: `Events ${reasons.join(', ')} for ${name}`, timeoutMs, failFast: operatorDied },
  );

function operatorDied(): string | undefined {
  const why = operator?.exited();
  return why ? `the operator ${why}; last log lines:\n${operator!.tail()}` : undefined;
}

beforeAll(async () => {
  kc = loadKubeConfig();
  ({ core, custom } = apiClients(kc));
  dir = await tempDir('spawner-lifecycle-');
  await installOperatorRbac();
  namespace = await createNamespace(core, 'lifecycle');
  operatorKc = await operatorKubeconfig(kc, dir);
  await watchNamespace();
  operator = await startOperator({ kubeconfig: operatorKc, dir, identity: 'lifecycle', watchNamespace: namespace, leaseName: `lifecycle-${namespace}` });
  await operator.ready();
}, 10 * 60_000);

afterAll(async () => {
  await operator?.stop();
  for (const i of informers) i.stop();
  if (core && namespace) await deleteNamespace(core, namespace);
}, 120_000);

// The operator runs as its service account; this shows that account can do what the operator does and
// nothing broader (a leaked token cannot read Secrets or rewrite workloads). Creating backends is left
// out: the optional HTTP API's RBAC (manifests/operator/api-rbac.yaml) grants it to the same account.
test.each([
  ['patch', 'sessionlivedbackends.spawner.dev', 'yes'],
  ['patch', 'sessionlivedbackends.spawner.dev/status', 'yes'],
  ['create', 'pods', 'yes'],
  // Only the Services of backends created before decision B are left to delete; none is made.
  ['delete', 'services', 'yes'],
  ['create', 'services', 'no'],
  ['create', 'events', 'yes'],
  ['update', 'sessionlivedbackends.spawner.dev', 'no'],
  ['update', 'pods', 'no'],
  // A claim hands a WarmPool member to its backend with one conditional patch of the Pod.
  ['patch', 'pods', 'yes'],
  ['get', 'secrets', 'no'],
  ['list', 'configmaps', 'no'],
  ['create', 'deployments.apps', 'no'],
  ['delete', 'nodes', 'no'],
] as const)('the operator\'s account: can-i %s %s → %s', async (verb, resource, expected) => {
  const answer = await kubectl(['auth', 'can-i', verb, resource, '-n', namespace], { kubeconfig: operatorKc }).catch((err: { stdout?: string }) => err.stdout ?? '');
  expect(answer.trim()).toBe(expected);
});

describe('a backend from creation to deletion', () => {
  const name = 'life';

  test('create: a Pod owned by the backend and no Service, the sidecar injected, Pending, then Ready with a url', async () => {
    const created = await createSlb(custom, slbManifest(namespace, name, { spec: { httpPort: 8000 } }));
    const uid = created.metadata.uid!;

    const ready = await slbPhase(name, 'Ready');
    expect(ready.metadata.finalizers).toContain(FINALIZER);
    expect(ready.status).toMatchObject({ url: invitation(namespace, name, uid), podName: name, podPort: SIDECAR_PROXY_PORT });
    expect(ready.status?.podIP).toBeDefined();
    expect(ready.status?.serviceName).toBeUndefined();
    expect(ready.status?.nodeName).toMatch(/^kwok-node-/);
    expect(ready.status?.readyTime).toBeDefined();
    expect(ready.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True' });

    const pod = (await getPod(core, namespace, name))!;
    expect(pod.metadata?.ownerReferences).toEqual([
      expect.objectContaining({ apiVersion: 'spawner.dev/v1', kind: KIND, name, uid, controller: true, blockOwnerDeletion: true }),
    ]);
    expect(await getService(core, namespace, name)).toBeUndefined();
    expect(pod.spec?.containers.map((c) => c.name)).toEqual(['app', SIDECAR_CONTAINER]);
    expect(pod.spec?.containers[0]?.env).toContainEqual({ name: 'PORT', value: '8000' });
    expect(pod.spec?.containers[1]?.args).toContain('--upstream-port=8000');

    // Pending came first (the phase the CRD defaults to, or a written one), Ready after it, nothing else.
    const phases = seen.filter((s) => s.kind === 'SessionLivedBackend' && s.name === name).map((s) => s.phase ?? 'Pending');
    expect(phases[0]).toBe('Pending');
    expect([...new Set(phases)]).toEqual(['Pending', 'Ready']);
  }, 2 * timeoutMs);

  test('kubectl get slbs shows Phase, URL, Node and Age', async () => {
    const out = await kubectl(['get', 'slbs', '-n', namespace]);
    const [header, ...rows] = out.trim().split('\n');
    expect(header!.split(/\s+/)).toEqual(['NAME', 'PHASE', 'URL', 'NODE', 'AGE']);
    const row = rows.find((r) => r.startsWith(`${name} `))!.split(/\s+/);
    const uid = (await getSlb(custom, namespace, name))!.metadata.uid!;
    expect(row.slice(0, 4)).toEqual([name, 'Ready', invitation(namespace, name, uid), expect.stringMatching(/^kwok-node-/)]);
  });

  test('kubectl delete: Terminating, Pod deleted, then the finalizer released and the backend gone', async () => {
    await expectDeletedInOrder(name, ['Pod']);
  }, 3 * timeoutMs);
});

// Deletes the backend with kubectl and checks, by the resourceVersions the watches saw, that it turned
// Terminating, then each of its children went, and only then the backend (the finalizer held it, not
// garbage collection after it).
async function expectDeletedInOrder(name: string, kinds: Array<'Pod' | 'Service'>): Promise<void> {
  const before = (await getSlb(custom, namespace, name))!;
  const read = { Pod: () => getPod(core, namespace, name), Service: () => getService(core, namespace, name) };
  const childUids = await Promise.all(kinds.map(async (kind) => (await read[kind]())!.metadata!.uid!));
  const mark = seen.length;

  await kubectl(['delete', 'slb', name, '-n', namespace, '--wait=true', `--timeout=${timeoutMs / 1000}s`]);
  expect(await getSlb(custom, namespace, name)).toBeUndefined();
  for (const kind of kinds) await gone(`the ${kind} to be gone`, read[kind]);
  // The watches lag the API a little: wait until they have seen everything go.
  await waitFor(
    () => ['SessionLivedBackend', ...kinds].every((kind) => seen.slice(mark).some((s) => s.kind === kind && s.name === name && s.type === 'delete')),
    { what: `the watches to see the backend and its ${kinds.join(' and ')} deleted`, timeoutMs },
  );

  const after = seen.slice(mark);
  const at = (pred: (s: Seen) => boolean) => after.find(pred)?.rv ?? -1;
  const terminating = at((s) => s.kind === 'SessionLivedBackend' && s.phase === 'Terminating');
  const backendGone = at((s) => s.kind === 'SessionLivedBackend' && s.uid === before.metadata.uid && s.type === 'delete');
  expect(terminating).toBeGreaterThanOrEqual(0);
  kinds.forEach((kind, i) => {
    const childGone = at((s) => s.kind === kind && s.uid === childUids[i] && s.type === 'delete');
    expect({ kind, afterTerminating: childGone > terminating, beforeBackend: backendGone > childGone }).toEqual({ kind, afterTerminating: true, beforeBackend: true });
  });
}

test('a backend created before decision B: its Service (as the operator used to make it) is never remade, and goes with it', async () => {
  const name = 'from-before';
  const created = await createSlb(custom, slbManifest(namespace, name));
  await slbPhase(name, 'Ready');
  // What the operator made per backend until decision B: controlled by the backend, labelled as its child.
  await core.createNamespacedService({
    namespace,
    body: {
      metadata: {
        name, labels: { 'app.kubernetes.io/managed-by': 'spawner', 'spawner.dev/backend': name },
        ownerReferences: [{ apiVersion: 'spawner.dev/v1', kind: KIND, name, uid: created.metadata.uid!, controller: true, blockOwnerDeletion: true }],
      },
      spec: { selector: { 'spawner.dev/backend': name }, ports: [{ name: 'http', port: 80, targetPort: SIDECAR_PROXY_PORT }] },
    },
  });
  await expectDeletedInOrder(name, ['Pod', 'Service']);
}, 3 * timeoutMs);


describe('children taken away', () => {
  test('a Pending backend gets its deleted Pod back', async () => {
    const name = 'pending-children';
    await createSlb(custom, slbManifest(namespace, name, { unschedulable: true }));
    const pod = await waitFor(() => getPod(core, namespace, name), { what: 'the Pod', timeoutMs, failFast: operatorDied });
    expect((await getSlb(custom, namespace, name))!.status?.phase ?? 'Pending').toBe('Pending');

    await core.deleteNamespacedPod({ namespace, name });

    const newPod = await waitFor(
      async () => {
        const p = await getPod(core, namespace, name);
        return p && p.metadata!.uid !== pod.metadata!.uid ? p : undefined;
      },
      { what: 'a new Pod', timeoutMs, failFast: operatorDied },
    );
    const slb = (await getSlb(custom, namespace, name))!;
    expect(newPod.metadata?.ownerReferences?.[0]?.uid).toBe(slb.metadata.uid);
    expect(slb.status?.phase ?? 'Pending').toBe('Pending');
  }, 4 * timeoutMs);

  test('a Ready backend whose Pod is deleted becomes Failed and gets no new Pod', async () => {
    const name = 'pod-lost';
    await createSlb(custom, slbManifest(namespace, name));
    await slbPhase(name, 'Ready');
    const podUid = (await getPod(core, namespace, name))!.metadata!.uid!;

    await core.deleteNamespacedPod({ namespace, name });
    const failed = await slbPhase(name, 'Failed');
    expect(failed.status?.reason).toBe('PodLost');
    expect(failed.status?.message).toMatch(/session/);
    await gone('the old Pod to be gone', async () => {
      const p = await getPod(core, namespace, name);
      return p?.metadata?.uid === podUid ? p : undefined;
    });
    // A backend created after the Pod went is Ready only once the operator has worked through the events
    // before it, the Pod's disappearance included; by then a wrongly recreated Pod would exist.
    await createSlb(custom, slbManifest(namespace, `${name}-later`));
    await slbPhase(`${name}-later`, 'Ready');
    expect(await getPod(core, namespace, name)).toBeUndefined();
    expect(seen.filter((s) => s.kind === 'Pod' && s.name === name && s.type === 'add')).toHaveLength(1);
    expect((await getSlb(custom, namespace, name))!.status?.phase).toBe('Failed');
    await eventReasons(name, ['Ready', 'PodLost']);
  }, 3 * timeoutMs);
});

test('startupTimeoutSeconds passes before the Pod is Ready: Failed with reason StartupTimeout', async () => {
  const name = 'slow-start';
  await createSlb(custom, slbManifest(namespace, name, { unschedulable: true, spec: { startupTimeoutSeconds: 3 } }));
  const failed = await slbPhase(name, 'Failed');
  expect(failed.status?.reason).toBe('StartupTimeout');
  expect(failed.status?.message).toMatch(/startupTimeoutSeconds \(3 s\).*scheduled/);
  expect(failed.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'StartupTimeout' });
  await eventReasons(name, ['StartupTimeout']);
}, 2 * timeoutMs);

test('a forced deletion (finalizer removed by hand while no operator runs): garbage collection removes the children', async () => {
  const name = 'forced';
  const created = await createSlb(custom, slbManifest(namespace, name));
  await slbPhase(name, 'Ready');
  // Without a running operator nobody but the garbage collector can remove the children.
  await operator!.stop();
  operator = undefined;

  await kubectl(['delete', 'slb', name, '-n', namespace, '--wait=false']);
  await kubectl(['patch', 'slb', name, '-n', namespace, '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
  await gone('the backend to be gone', () => getSlb(custom, namespace, name));
  const pod = await getPod(core, namespace, name);
  expect(pod?.metadata?.ownerReferences?.[0]?.uid ?? created.metadata.uid).toBe(created.metadata.uid);

  // The garbage collector re-reads discovery every 30 s and may not know the CRD yet: poll generously.
  const gcTimeout = 5 * 60_000;
  await waitFor(async () => (await getPod(core, namespace, name)) === undefined, { what: 'the garbage collector to delete the Pod', timeoutMs: gcTimeout });
}, 12 * 60_000);

// Last: covers every test above.
test('no Service was made for any backend in this suite (only the one made by hand as before decision B)', () => {
  expect([...new Set(seen.filter((s) => s.kind === 'Service').map((s) => s.name))].filter((n) => n !== 'from-before')).toEqual([]);
});
