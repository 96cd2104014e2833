// A child the API server refuses ends in a status that says why, never in a backend Pending for ever with
// its Pod running: the operator as its service account against the real API server. A ResourceQuota that
// refuses the Pod keeps it retrying until startupTimeoutSeconds, then Failed carries the quota's message;
// an invalid Pod fails the backend at once with the API server's reason. Either way nothing is left behind.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { KIND } from '../../common/contract.ts';
import { apiClients, loadKubeConfig, waitFor } from '../../e2e/harness/kube.ts';
import {
  createNamespace, deleteNamespaceWithBackends, installOperatorRbac, operatorKubeconfig, startOperator, tempDir,
  type OperatorProcess,
} from './support/operator-process.ts';
import { createSlb, describeSlb, getPod, getService, getSlb, slbManifest } from './support/slbs.ts';

let kc: KubeConfig;
let core: CoreV1Api;
let custom: CustomObjectsApi;
let namespace = '';
let operator: OperatorProcess | undefined;

beforeAll(async () => {
  kc = loadKubeConfig();
  ({ core, custom } = apiClients(kc));
  const dir = await tempDir('spawner-bad-input-');
  await installOperatorRbac();
  namespace = await createNamespace(core, 'bad-input');
  // No Pod may be created in this namespace.
  await core.createNamespacedResourceQuota({ namespace, body: { metadata: { name: 'no-pods' }, spec: { hard: { pods: '0' } } } });
  await waitFor(async () => ((await core.readNamespacedResourceQuota({ namespace, name: 'no-pods' })).status?.hard?.pods === '0' ? true : undefined), {
    what: 'the quota controller to compute the quota',
    timeoutMs: 60_000,
  });
  operator = await startOperator({ kubeconfig: await operatorKubeconfig(kc, dir), dir, identity: 'bad-input', watchNamespace: namespace, leaseName: `bad-input-${namespace}` });
  await operator.ready();
}, 10 * 60_000);

afterAll(async () => {
  if (core && namespace) await deleteNamespaceWithBackends(core, namespace);
  await operator?.stop();
}, 3 * 60_000);

function operatorDied(): string | undefined {
  const why = operator?.exited();
  return why ? `the operator ${why}; last log lines:\n${operator!.tail()}` : undefined;
}

const failed = (name: string, timeoutMs: number) =>
  waitFor(
    async () => {
      const slb = await getSlb(custom, namespace, name);
      if (slb?.status?.phase === 'Failed') return slb;
      throw new Error(describeSlb(slb));
    },
    { what: `${namespace}/${name} to be Failed`, timeoutMs, failFast: operatorDied },
  );

const warnings = async (name: string) =>
  (await core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name},involvedObject.kind=${KIND},type=Warning` })).items;

// Nothing of the backend is left: no Pod (none was ever created), and no Service (none is made).
const nothingLeft = (name: string) =>
  waitFor(async () => ((await getPod(core, namespace, name)) === undefined && (await getService(core, namespace, name)) === undefined ? true : undefined), {
    what: `the children of ${name} to be gone`,
    timeoutMs: 60_000,
    failFast: operatorDied,
  });

describe('a backend whose Pod a ResourceQuota refuses', () => {
  const name = 'over-quota';
  const startupTimeoutSeconds = 5;

  test('records the refusal at once, then turns Failed with StartupTimeout and the quota\'s message, leaving nothing behind', async () => {
    await createSlb(custom, slbManifest(namespace, name, { spec: { startupTimeoutSeconds } }));
    // Recorded at once: a condition with the API server's reason and message, and a Warning Event.
    const refused = await waitFor(
      async () => {
        const slb = await getSlb(custom, namespace, name);
        const c = slb?.status?.conditions?.find((x) => x.type === 'ChildrenCreated');
        if (c?.status === 'False') return { slb: slb!, condition: c };
        throw new Error(describeSlb(slb));
      },
      { what: 'the refusal to be recorded', timeoutMs: 30_000, failFast: operatorDied },
    );
    expect(refused.condition).toMatchObject({ reason: 'Forbidden' });
    expect(refused.condition.message).toMatch(/exceeded quota: no-pods/);

    // The deadline fires although the Pod never exists; the wait allows for a loaded machine, it does not
    // measure anything.
    const slb = await failed(name, (startupTimeoutSeconds + 25) * 1000);
    expect(slb.status).toMatchObject({ reason: 'StartupTimeout' });
    expect(slb.status?.message).toMatch(/^not Ready within startupTimeoutSeconds \(5 s\); last state: the API server refused to create Pod .* \(403 Forbidden\): .*exceeded quota: no-pods/);
    await nothingLeft(name);
    await waitFor(async () => {
      const reasons = (await warnings(name)).map((e) => e.reason);
      return reasons.includes('FailedCreate') && reasons.includes('StartupTimeout') ? true : undefined;
    }, { what: 'the FailedCreate and StartupTimeout Warnings', timeoutMs: 30_000 });
  }, 3 * 60_000);
});

describe('a backend whose Pod the API server finds invalid', () => {
  const name = 'invalid-pod';

  test('is Failed at once with the API server\'s reason, and nothing is left behind', async () => {
    const manifest = slbManifest(namespace, name, { spec: { startupTimeoutSeconds: 300 } });
    // The CRD lets the container through (its fields pass through); the Pod validation refuses a mount of
    // a volume that does not exist.
    manifest.spec.template!.containers[0]!.volumeMounts = [{ name: 'no-such-volume', mountPath: '/data' }];
    await createSlb(custom, manifest);
    const slb = await failed(name, 60_000);
    expect(slb.status).toMatchObject({ reason: 'Invalid' });
    expect(slb.status?.message).toMatch(/volumeMounts\[0\]\.name: Not found: "no-such-volume".*retrying cannot fix this/);
    expect(slb.status?.conditions?.find((c) => c.type === 'ChildrenCreated')).toMatchObject({ status: 'False', reason: 'Invalid' });
    await nothingLeft(name);
  }, 2 * 60_000);
});
