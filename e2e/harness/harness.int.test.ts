// Proves the harness's cluster is a working control plane for the operator's suite: pinned version,
// scheduling to kwok nodes with pods turning Ready, garbage collection, namespace deletion, CRD field
// selectors (the sweeper lists by .status.nodeName) and service-account impersonation under RBAC.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { PatchStrategy, VersionApi, setHeaderOptions } from '@kubernetes/client-node';
import type { KubeConfig, V1Pod } from '@kubernetes/client-node';
import { pinnedVersions } from './binaries.ts';
import { down, up } from './cluster.ts';
import { apiClients, impersonating, kubectl, loadKubeConfig, statusOf, waitFor } from './kube.ts';

// Until jest.config.ts runs jest-global-setup.ts for the integration project, bring a cluster up
// here when none is given; a given KUBECONFIG is used as it is and left alone.
let broughtUp = false;
let kc: KubeConfig;
let clients: ReturnType<typeof apiClients>;
const namespace = `harness-${process.pid}-${Date.now().toString(36)}`;
const timeoutMs = 120_000;

beforeAll(async () => {
  if (!process.env.KUBECONFIG) {
    const info = await up();
    process.env.KUBECONFIG = info.kubeconfig;
    process.env.SPAWNER_TEST_KUBECTL = info.kubectl;
    broughtUp = true;
  }
  kc = loadKubeConfig();
  clients = apiClients(kc);
  await clients.core.createNamespace({ body: { metadata: { name: namespace } } });
  // Pods are refused until the namespace's default service account exists.
  await waitFor(() => clients.core.readNamespacedServiceAccount({ name: 'default', namespace }), {
    what: `the default service account in ${namespace}`,
    timeoutMs,
  });
}, 60 * 60_000);

afterAll(async () => {
  if (clients) {
    await clients.core.deleteNamespace({ name: namespace }).catch(() => undefined);
  }
  if (broughtUp) {
    await down();
    delete process.env.KUBECONFIG;
  }
}, 120_000);

const podReady = (p: V1Pod) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

describe('the harness cluster', () => {
  test('/version reports the pinned Kubernetes release', async () => {
    const version = await kc.makeApiClient(VersionApi).getCode();
    expect(version.gitVersion).toBe(pinnedVersions().kubernetes);
    expect(`v${version.major}.${version.minor}`).toBe(pinnedVersions().kubernetes.split('.').slice(0, 2).join('.'));
  });

  test('kubectl reaches it', async () => {
    const out = await kubectl(['get', 'nodes', '-l', 'type=kwok', '-o', 'name']);
    expect(out.split('\n').filter(Boolean).length).toBeGreaterThanOrEqual(1);
  });

  test('a pod owned by a ConfigMap runs Ready on a kwok node and is collected when the owner goes', async () => {
    const owner = await clients.core.createNamespacedConfigMap({
      namespace,
      body: { metadata: { name: 'owner' }, data: { k: 'v' } },
    });
    await clients.core.createNamespacedPod({
      namespace,
      body: {
        metadata: {
          name: 'owned',
          ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata!.uid! }],
        },
        spec: { containers: [{ name: 'main', image: 'example.invalid/never-pulled:1' }] },
      },
    });
    const ready = await waitFor(
      async () => {
        const p = await clients.core.readNamespacedPod({ name: 'owned', namespace });
        return podReady(p) ? p : undefined;
      },
      { what: 'the owned pod to be Ready', timeoutMs },
    );
    expect(ready.spec?.nodeName).toMatch(/^kwok-node-\d+$/);
    expect(ready.status?.phase).toBe('Running');
    expect(ready.status?.podIP).toMatch(/^\d+\.\d+\.\d+\.\d+$/);

    await clients.core.deleteNamespacedConfigMap({ name: 'owner', namespace });
    await waitFor(
      async () => {
        try {
          await clients.core.readNamespacedPod({ name: 'owned', namespace });
          return false;
        } catch (err) {
          if (statusOf(err) === 404) return true;
          throw err;
        }
      },
      { what: 'the garbage collector to delete the owned pod', timeoutMs },
    );
  }, 2 * timeoutMs + 30_000);

  test('a CRD with selectableFields on .status.nodeName can be listed by that field', async () => {
    const group = 'harness.spawner.dev';
    const plural = `probes${process.pid}`;
    const crdName = `${plural}.${group}`;
    await clients.apiextensions.createCustomResourceDefinition({
      body: {
        metadata: { name: crdName },
        spec: {
          group,
          scope: 'Namespaced',
          names: { plural, singular: `probe${process.pid}`, kind: `Probe${process.pid}`, listKind: `Probe${process.pid}List` },
          versions: [
            {
              name: 'v1',
              served: true,
              storage: true,
              subresources: { status: {} },
              selectableFields: [{ jsonPath: '.status.nodeName' }],
              schema: {
                openAPIV3Schema: {
                  type: 'object',
                  properties: {
                    spec: { type: 'object', properties: { note: { type: 'string' } } },
                    status: { type: 'object', properties: { nodeName: { type: 'string' } } },
                  },
                },
              },
            },
          ],
        },
      },
    });
    try {
      await waitFor(
        async () => {
          const crd = await clients.apiextensions.readCustomResourceDefinition({ name: crdName });
          return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
        },
        { what: `${crdName} to be established`, timeoutMs },
      );
      const coords = { group, version: 'v1', namespace, plural };
      const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
      for (const [name, nodeName] of [['a', 'kwok-node-0'], ['b', 'kwok-node-1'], ['c', 'kwok-node-0']] as const) {
        // The new resource may take a moment to be served after Established.
        await waitFor(
          () => clients.custom.createNamespacedCustomObject({ ...coords, body: { apiVersion: `${group}/v1`, kind: `Probe${process.pid}`, metadata: { name }, spec: { note: name } } }),
          { what: `creating ${name}`, timeoutMs },
        );
        await clients.custom.patchNamespacedCustomObjectStatus({ ...coords, name, body: { status: { nodeName } } }, mergePatch);
      }
      const list = (await clients.custom.listNamespacedCustomObject({ ...coords, fieldSelector: 'status.nodeName=kwok-node-0' })) as {
        items: { metadata: { name: string } }[];
      };
      expect(list.items.map((i) => i.metadata.name).sort()).toEqual(['a', 'c']);

      // A field that is not declared selectable is refused, so the selector above was really applied.
      const refused = await clients.custom
        .listNamespacedCustomObject({ ...coords, fieldSelector: 'spec.note=a' })
        .then(() => undefined, (err: unknown) => statusOf(err));
      expect(refused).toBe(400);
    } finally {
      await clients.apiextensions.deleteCustomResourceDefinition({ name: crdName }).catch(() => undefined);
    }
  }, 3 * timeoutMs);

  test('a service account is impersonated and held to its RBAC', async () => {
    await clients.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'robot' } } });
    const robot = apiClients(impersonating(kc, namespace, 'robot'));
    const forbidden = await robot.core.listNamespacedConfigMap({ namespace }).then(() => undefined, (err: unknown) => statusOf(err));
    expect(forbidden).toBe(403);

    await clients.rbac.createNamespacedRole({
      namespace,
      body: { metadata: { name: 'read-configmaps' }, rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['list'] }] },
    });
    await clients.rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: 'robot-reads-configmaps' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'read-configmaps' },
        subjects: [{ kind: 'ServiceAccount', name: 'robot', namespace }],
      },
    });
    // RBAC is read from the API server's cache: allow it a moment.
    await waitFor(() => robot.core.listNamespacedConfigMap({ namespace }), { what: 'the role binding to take effect', timeoutMs });
    const stillForbidden = await robot.core.listNamespacedPod({ namespace }).then(() => undefined, (err: unknown) => statusOf(err));
    expect(stillForbidden).toBe(403);
  }, 2 * timeoutMs);

  test('deleting a namespace removes it with its pods', async () => {
    const ns = `${namespace}-gone`;
    await clients.core.createNamespace({ body: { metadata: { name: ns } } });
    await waitFor(() => clients.core.readNamespacedServiceAccount({ name: 'default', namespace: ns }), {
      what: `the default service account in ${ns}`,
      timeoutMs,
    });
    await clients.core.createNamespacedPod({
      namespace: ns,
      body: { metadata: { name: 'p' }, spec: { containers: [{ name: 'main', image: 'example.invalid/never-pulled:1' }] } },
    });
    await waitFor(async () => podReady(await clients.core.readNamespacedPod({ name: 'p', namespace: ns })), {
      what: 'the pod to be Ready',
      timeoutMs,
    });
    await clients.core.deleteNamespace({ name: ns });
    await waitFor(
      async () => {
        try {
          await clients.core.readNamespace({ name: ns });
          return false;
        } catch (err) {
          if (statusOf(err) === 404) return true;
          throw err;
        }
      },
      { what: `namespace ${ns} to be gone`, timeoutMs },
    );
  }, 3 * timeoutMs);
});
