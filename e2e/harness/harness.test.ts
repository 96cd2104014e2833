// Pure parts of the harness. Runs in the `unit` project once jest.config.ts includes e2e/ there.
import { describe, expect, test } from '@jest/globals';
import { requiredVersion } from './binaries.ts';
import { kwokNode, nodeSchedulable } from './cluster.ts';
import { renderKubeconfig } from './kubeconfig.ts';
import { serverExtensions, subjectFor } from './pki.ts';
import { waitFor } from './wait.ts';

describe('requiredVersion', () => {
  const goMod = [
    'module x',
    '',
    'go 1.24.0',
    '',
    'require k8s.io/kubernetes v1.33.13',
    '',
    'require (',
    '\tgithub.com/a/b v1.2.3 // indirect',
    '\tsigs.k8s.io/kwok v0.8.0',
    ')',
    '',
    'replace k8s.io/api => k8s.io/api v0.33.13',
  ].join('\n');
  test.each([
    ['k8s.io/kubernetes', 'v1.33.13'],
    ['sigs.k8s.io/kwok', 'v0.8.0'],
    ['github.com/a/b', 'v1.2.3'],
    ['k8s.io/api', undefined],
    ['k8s.io/kube', undefined],
  ])('%s -> %s', (module, version) => {
    expect(requiredVersion(goMod, module)).toBe(version);
  });
});

describe('nodeSchedulable', () => {
  const ready = { type: 'Ready', status: 'True' };
  test.each([
    ['ready, no taints', { status: { conditions: [ready] } }, true],
    ['not ready', { status: { conditions: [{ type: 'Ready', status: 'False' }] } }, false],
    ['no conditions', {}, false],
    ['ready but not-ready taint', { spec: { taints: [{ key: 'node.kubernetes.io/not-ready' }] }, status: { conditions: [ready] } }, false],
    ['ready but unreachable taint', { spec: { taints: [{ key: 'node.kubernetes.io/unreachable' }] }, status: { conditions: [ready] } }, false],
    ['ready with an unrelated taint', { spec: { taints: [{ key: 'example.com/x' }] }, status: { conditions: [ready] } }, true],
  ])('%s', (_name, node, expected) => {
    expect(nodeSchedulable(node)).toBe(expected);
  });
});

test('kwokNode carries the annotation kwok selects on and capacity for pods', () => {
  const node = kwokNode('n1') as { metadata: { name: string; annotations: Record<string, string> }; status: { allocatable: { pods: string } } };
  expect(node.metadata.name).toBe('n1');
  expect(node.metadata.annotations['kwok.x-k8s.io/node']).toBe('fake');
  expect(Number(node.status.allocatable.pods)).toBeGreaterThan(0);
});

describe('pki text', () => {
  test.each([
    ['admin', ['system:masters'], '/O=system:masters/CN=admin'],
    ['system:kube-scheduler', [], '/CN=system:kube-scheduler'],
    ['u', ['a', 'b'], '/O=a/O=b/CN=u'],
  ])('subjectFor(%s, %j)', (user, groups, expected) => {
    expect(subjectFor(user, groups)).toBe(expected);
  });
  test('serverExtensions lists every name and address', () => {
    const ext = serverExtensions(['localhost', 'kubernetes'], ['127.0.0.1', '10.96.0.1']);
    expect(ext).toContain('subjectAltName = DNS:localhost,DNS:kubernetes,IP:127.0.0.1,IP:10.96.0.1');
    expect(ext).toContain('extendedKeyUsage = serverAuth');
  });
});

describe('renderKubeconfig', () => {
  test.each([
    ['client cert', { certData: 'Y2VydA==', keyData: 'a2V5' }, { 'client-certificate-data': 'Y2VydA==', 'client-key-data': 'a2V5' }],
    ['token', { token: 't' }, { token: 't' }],
    ['impersonation', { certData: 'c', keyData: 'k', impersonate: 'system:serviceaccount:ns:sa' }, { 'client-certificate-data': 'c', 'client-key-data': 'k', as: 'system:serviceaccount:ns:sa' }],
  ])('%s', (_name, extra, expectedUser) => {
    const parsed = JSON.parse(renderKubeconfig({ server: 'https://127.0.0.1:1', caData: 'Y2E=', user: 'u', ...extra })) as {
      clusters: { cluster: { server: string; 'certificate-authority-data': string } }[];
      users: { name: string; user: unknown }[];
      'current-context': string;
      contexts: { name: string; context: { user: string } }[];
    };
    expect(parsed.clusters[0]!.cluster).toEqual({ server: 'https://127.0.0.1:1', 'certificate-authority-data': 'Y2E=' });
    expect(parsed.users[0]).toEqual({ name: 'u', user: expectedUser });
    expect(parsed.contexts.find((c) => c.name === parsed['current-context'])?.context.user).toBe('u');
  });
});

describe('waitFor', () => {
  test('returns the first truthy value', async () => {
    let n = 0;
    await expect(waitFor(() => (++n >= 3 ? n : undefined), { what: 'three', intervalMs: 1 })).resolves.toBe(3);
  });
  test('quotes the last error when the deadline passes', async () => {
    await expect(
      waitFor(
        () => {
          throw new Error('still broken');
        },
        { what: 'x', timeoutMs: 20, intervalMs: 1 },
      ),
    ).rejects.toThrow(/waiting for x: still broken/);
  });
  test('stops at once when failFast reports', async () => {
    await expect(waitFor(() => false, { what: 'x', timeoutMs: 60_000, failFast: () => 'it died' })).rejects.toThrow(/it died/);
  });
});
