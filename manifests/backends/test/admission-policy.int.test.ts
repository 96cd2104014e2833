// The admission policies of manifests/backends against the real API server: in a namespace labelled
// spawner.dev/backends, a user bound to the `edit` ClusterRole (plus rights on backends and on
// EndpointSlices, so that the policy, not RBAC, is what stops them) cannot make the router serve
// anything of theirs, while the operator's service account does its work unhindered.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import {
  CoreV1Api,
  CustomObjectsApi,
  DiscoveryV1Api,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Pod,
  type V1Service,
} from '@kubernetes/client-node';
import { apiClients, impersonating, kubectl, loadKubeConfig, statusOf, waitFor } from '../../../e2e/harness/kube.ts';
import { repoRoot } from '../../../e2e/harness/paths.ts';
import { createNamespace, deleteNamespace, installOperatorRbac, operatorNamespace, operatorServiceAccount } from '../../../operator/test/support/operator-process.ts';

jest.setTimeout(180_000);
const POLICY = path.join(repoRoot, 'manifests/backends/admission-policy.yaml');
const USER = 'mallory-the-editor';

let admin: KubeConfig;
let adminCore: CoreV1Api;
let ns = ''; // labelled spawner.dev/backends
let plainNs = ''; // not labelled: the policies do not apply
let mallory: { core: CoreV1Api; custom: CustomObjectsApi; discovery: DiscoveryV1Api };
let operator: { core: CoreV1Api; custom: CustomObjectsApi };

// A user of the API server as the harness's admin impersonates them (RBAC as for a real user).
function asUser(base: KubeConfig, user: string): KubeConfig {
  const cluster = base.getCurrentCluster()!;
  const creds = base.getCurrentUser()!;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [cluster],
    users: [{ ...creds, name: user, impersonateUser: user }],
    contexts: [{ name: user, cluster: cluster.name, user }],
    currentContext: user,
  });
  return kc;
}

const labelled = { 'spawner.dev/backends': 'true', 'pod-security.kubernetes.io/enforce': 'restricted' };

// A Pod that Pod Security `restricted` admits, so only the Spawner policy can refuse it.
function pod(name: string, meta: Partial<V1Pod['metadata']> = {}): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, ...meta },
    spec: {
      securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [{ name: 'app', image: 'example.invalid/app:1', securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }],
    },
  };
}

function service(name: string, labels: Record<string, string> = {}): V1Service {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, labels }, spec: { selector: { app: name }, ports: [{ port: 80 }] } };
}

// The API server's answer to a request: 'allowed', or the refusal's status code and message.
async function outcome(request: () => Promise<unknown>): Promise<'allowed' | { code: number | undefined; message: string }> {
  try {
    await request();
    return 'allowed';
  } catch (err) {
    const body = (err as { body?: unknown }).body;
    const message = typeof body === 'string' ? body : JSON.stringify(body ?? String(err));
    return { code: statusOf(err), message };
  }
}

const refusedBySpawner = (what: RegExp) => ({ code: 403, message: expect.stringMatching(what) });

beforeAll(async () => {
  admin = loadKubeConfig();
  ({ core: adminCore } = apiClients(admin));
  await installOperatorRbac();
  await kubectl(['apply', '-f', POLICY]);
  ns = await createNamespace(adminCore, 'backends-policy');
  plainNs = await createNamespace(adminCore, 'plain-policy');
  for (const n of [ns, plainNs]) {
    // `edit`, plus what a cluster might add for backends (and EndpointSlices, which `edit` cannot write),
    // so that each refusal below comes from the admission policy, not from RBAC.
    await kubectl(['create', 'rolebinding', 'mallory-edit', `--clusterrole=edit`, `--user=${USER}`, '-n', n]);
    await kubectl(['create', 'role', 'mallory-more', '-n', n,
      '--verb=get,list,watch,create,update,patch,delete',
      '--resource=sessionlivedbackends.spawner.dev,sessionlivedbackends.spawner.dev/status,endpointslices.discovery.k8s.io,endpoints']);
    await kubectl(['create', 'rolebinding', 'mallory-more', '--role=mallory-more', `--user=${USER}`, '-n', n]);
  }
  await kubectl(['label', 'namespace', ns, ...Object.entries(labelled).map(([k, v]) => `${k}=${v}`)]);
  const m = asUser(admin, USER);
  mallory = { core: m.makeApiClient(CoreV1Api), custom: m.makeApiClient(CustomObjectsApi), discovery: m.makeApiClient(DiscoveryV1Api) };
  const o = impersonating(admin, operatorNamespace, operatorServiceAccount);
  operator = { core: o.makeApiClient(CoreV1Api), custom: o.makeApiClient(CustomObjectsApi) };

  // A new policy takes a moment to reach the API server's admission chain: wait until it refuses.
  await waitFor(
    async () => {
      const r = await outcome(() => mallory.core.createNamespacedPod({ namespace: ns, body: pod('probe', { labels: { 'spawner.dev/backend': 'probe' } }), dryRun: 'All' }));
      return r !== 'allowed' && r.code === 403;
    },
    { what: 'the Spawner admission policies to be in force', timeoutMs: 60_000, intervalMs: 500 },
  );
}, 300_000);

afterAll(async () => {
  if (adminCore) {
    await deleteNamespace(adminCore, ns);
    await deleteNamespace(adminCore, plainNs);
  }
});

describe('Pods and Services carrying Spawner’s marks', () => {
  const slbOwner = (uid = '0b6f1c2e-8f51-4a57-9a43-1d2e3f4a5b6c') => [{ apiVersion: 'spawner.dev/v1', kind: 'SessionLivedBackend', name: 'room', uid }];
  test.each<[string, Partial<V1Pod['metadata']>, RegExp]>([
    ['the backend label', { labels: { 'spawner.dev/backend': 'room' } }, /only the Spawner operator may give a pods the label spawner.dev\/backend/],
    ['managed-by=spawner', { labels: { 'app.kubernetes.io/managed-by': 'spawner' } }, /app.kubernetes.io\/managed-by=spawner/],
    ['an owner that is a backend', { ownerReferences: slbOwner() }, /owned by a SessionLivedBackend/],
  ])('an editor cannot create a Pod with %s', async (_what, meta, message) => {
    expect(await outcome(() => mallory.core.createNamespacedPod({ namespace: ns, body: pod('fake-room', meta), dryRun: 'All' }))).toEqual(refusedBySpawner(message));
  });

  test('an editor cannot create a Service with the backend label', async () => {
    expect(await outcome(() => mallory.core.createNamespacedService({ namespace: ns, body: service('room', { 'spawner.dev/backend': 'room' }), dryRun: 'All' }))).toEqual(
      refusedBySpawner(/only the Spawner operator may give a services the label spawner.dev\/backend/),
    );
  });

  test('an editor cannot have a controller make such Pods for them (a Deployment’s ReplicaSet is refused too)', async () => {
    // The ReplicaSet controller creates the Pods as itself, which is not the operator.
    const rs = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name: 'sneaky' },
      spec: { replicas: 1, selector: { matchLabels: { 'spawner.dev/backend': 'sneaky' } }, template: { metadata: { labels: { 'spawner.dev/backend': 'sneaky' } }, spec: pod('x').spec } },
    };
    await kubectl(['apply', '-n', ns, '--as', USER, '-f', '-'], { input: JSON.stringify(rs) });
    const events = await waitFor(
      async () => {
        const out = await kubectl(['get', 'events', '-n', ns, '--field-selector', 'involvedObject.name=sneaky,reason=FailedCreate', '-o', 'jsonpath={.items[*].message}']);
        return out.includes('spawner.dev/backend') ? out : undefined;
      },
      { what: 'the ReplicaSet controller to be refused', timeoutMs: 60_000 },
    );
    expect(events).toContain('only the Spawner operator may give a pods the label spawner.dev/backend');
    expect((await adminCore.listNamespacedPod({ namespace: ns, labelSelector: 'spawner.dev/backend=sneaky' })).items).toEqual([]);
  });

  test('an editor may still create plain Pods and Services there', async () => {
    expect(await outcome(() => mallory.core.createNamespacedPod({ namespace: ns, body: pod('plain', { labels: { app: 'mine' } }), dryRun: 'All' }))).toBe('allowed');
    expect(await outcome(() => mallory.core.createNamespacedService({ namespace: ns, body: service('plain'), dryRun: 'All' }))).toBe('allowed');
  });

  test('outside a backends namespace the policy does not apply', async () => {
    expect(
      await outcome(() => mallory.core.createNamespacedPod({ namespace: plainNs, body: pod('elsewhere', { labels: { 'spawner.dev/backend': 'room' } }), dryRun: 'All' })),
    ).toBe('allowed');
  });

  // The operator creates only Pods now (backends have no Service: decision B); Services keep the same rule.
  test('the operator creates them; an editor cannot re-point or re-label them, but may add labels of their own', async () => {
    const made = await operator.core.createNamespacedPod({
      namespace: ns,
      body: pod('operator-made', { labels: { 'spawner.dev/backend': 'operator-made', 'app.kubernetes.io/managed-by': 'spawner' } }),
    });
    expect(made.metadata?.labels?.['spawner.dev/backend']).toBe('operator-made');
    const patch = (labels: Record<string, string | null>) => () =>
      mallory.core.patchNamespacedPod(
        { name: 'operator-made', namespace: ns, body: { metadata: { labels } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    expect(await outcome(patch({ 'spawner.dev/backend': 'someone-else' }))).toEqual(refusedBySpawner(/spawner.dev\/backend/));
    expect(await outcome(patch({ team: 'red' }))).toBe('allowed');
    // Removing a mark makes nothing routable.
    expect(await outcome(patch({ 'app.kubernetes.io/managed-by': null }))).toBe('allowed');
    // A plain Pod of the editor cannot be made into a backend's afterwards.
    await mallory.core.createNamespacedPod({ namespace: ns, body: pod('mine') });
    expect(
      await outcome(() =>
        mallory.core.patchNamespacedPod(
          { name: 'mine', namespace: ns, body: { metadata: { labels: { 'spawner.dev/backend': 'mine' } } } },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        ),
      ),
    ).toEqual(refusedBySpawner(/spawner.dev\/backend/));
  });
});

describe('a backend’s routing status', () => {
  const slb = { apiVersion: 'spawner.dev/v1', kind: 'SessionLivedBackend', metadata: { name: 'room' }, spec: { template: { containers: [{ name: 'app', image: 'example.invalid/app:1' }] } } };
  const patchStatus = (who: { custom: CustomObjectsApi }, status: Record<string, unknown>) => () =>
    who.custom.patchNamespacedCustomObjectStatus(
      { group: 'spawner.dev', version: 'v1', namespace: ns, plural: 'sessionlivedbackends', name: 'room', body: { status } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );

  beforeAll(async () => {
    await mallory.custom.createNamespacedCustomObject({ group: 'spawner.dev', version: 'v1', namespace: ns, plural: 'sessionlivedbackends', body: slb });
  });

  test('an editor with RBAC on the status cannot point it at an address of their choosing', async () => {
    for (const status of [{ podIP: '10.96.0.1' }, { podPort: 443 }, { phase: 'Ready' }, { url: 'http://evil.example/' }, { podName: 'fake-room' }, { nodeName: 'elsewhere' }]) {
      expect(await outcome(patchStatus(mallory, status))).toEqual(refusedBySpawner(/only the Spawner operator may change status.phase, status.podIP/));
    }
  });

  test('the operator writes it; others may still add conditions (the sweeper’s Swept)', async () => {
    expect(await outcome(patchStatus(operator, { phase: 'Ready', podIP: '10.0.0.7', podName: 'room' }))).toBe('allowed');
    const swept = { conditions: [{ type: 'Swept', status: 'True', reason: 'Idle', message: 'idle for 300 s', lastTransitionTime: '2026-01-01T00:00:00Z' }] };
    expect(await outcome(patchStatus(mallory, swept))).toBe('allowed');
    expect(await outcome(patchStatus(mallory, { podIP: '10.0.0.8' }))).toEqual(refusedBySpawner(/status.podIP/));
  });
});

describe('Endpoints and EndpointSlices', () => {
  test('even with RBAC to write them, an editor cannot point a Service anywhere', async () => {
    const slice = {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'room-hijack', labels: { 'kubernetes.io/service-name': 'room' } },
      addressType: 'IPv4' as const,
      endpoints: [{ addresses: ['10.96.0.1'] }],
      ports: [{ port: 443 }],
    };
    expect(await outcome(() => mallory.discovery.createNamespacedEndpointSlice({ namespace: ns, body: slice, dryRun: 'All' }))).toEqual(
      refusedBySpawner(/only the control plane writes endpointslices/),
    );
    const endpoints = { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'room' }, subsets: [{ addresses: [{ ip: '10.96.0.1' }], ports: [{ port: 443 }] }] };
    expect(await outcome(() => mallory.core.createNamespacedEndpoints({ namespace: ns, body: endpoints, dryRun: 'All' }))).toEqual(
      refusedBySpawner(/only the control plane writes endpoints/),
    );
    expect(await outcome(() => mallory.discovery.createNamespacedEndpointSlice({ namespace: plainNs, body: slice, dryRun: 'All' }))).toBe('allowed');
  });
});
