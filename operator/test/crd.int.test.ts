// The CRD as the real API server serves it: installed and Established, short names and printer columns,
// and bad backends refused at admission (schema, CEL, strict field validation) with the field named,
// names included (the root-level CEL rules can read metadata.name and metadata.generateName).
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { GROUP, PLURAL } from '../../common/contract.ts';
import { apiClients, kubectl, loadKubeConfig } from '../../e2e/harness/kube.ts';
import { createNamespace, deleteNamespace } from './support/operator-process.ts';

let kc: KubeConfig;
let core: CoreV1Api;
let namespace = '';

beforeAll(async () => {
  kc = loadKubeConfig();
  ({ core } = apiClients(kc));
  namespace = await createNamespace(core, 'crd');
}, 5 * 60_000);

afterAll(async () => {
  if (core && namespace) await deleteNamespace(core, namespace);
}, 120_000);

const app = '{name: app, image: example.invalid/app:1}';
const manifest = (name: string, spec: string) =>
  `apiVersion: spawner.dev/v1\nkind: SessionLivedBackend\nmetadata: {name: ${name}, namespace: NS}\nspec: ${spec}\n`;

test('the CRD is installed and Established, with short names and the printer columns Phase, URL, Node, Age', async () => {
  const crd = await apiClients(kc).apiextensions.readCustomResourceDefinition({ name: `${PLURAL}.${GROUP}` });
  expect(crd.status?.conditions?.find((c) => c.type === 'Established')?.status).toBe('True');
  expect(crd.spec.names.shortNames).toEqual(expect.arrayContaining(['slb', 'slbs']));
  const columns = crd.spec.versions[0]!.additionalPrinterColumns!.filter((c) => !c.priority).map((c) => c.name);
  expect(columns).toEqual(['Phase', 'URL', 'Node', 'Age']);
  // kubectl resolves both short names through discovery (an unknown name fails).
  for (const shortName of ['slb', 'slbs']) await expect(kubectl(['get', shortName, '-n', namespace])).resolves.toBe('');
});

describe('bad backends are refused, naming the field', () => {
  const cases: Array<[what: string, spec: string, message: RegExp]> = [
    ['no containers', '{template: {containers: []}}', /spec\.template\.containers.*at least 1/],
    ['no containers field at all', '{template: {}}', /spec\.template\.containers: Required/],
    ['neither template nor poolRef', '{gracePeriodSeconds: 60}', /spec\.template: Invalid value.*spec\.template is required unless spec\.poolRef/],
    ['per-session environment variables on a claim', `{poolRef: {name: games}, template: {containers: [{name: app, image: x, env: [{name: ROOM, value: '7'}]}]}}`, /spec\.template.*per-session settings \(environment variables, image, resources\) need a cold start/],
    ['a claim with its own port', '{poolRef: {name: games}, httpPort: 3000}', /spec\.httpPort.*the WarmPool's httpPort applies/],
    ['a negative grace period', `{template: {containers: [${app}]}, gracePeriodSeconds: -1}`, /spec\.gracePeriodSeconds.*greater than or equal to 0/],
    ['a port out of range', `{template: {containers: [${app}]}, httpPort: 70000}`, /spec\.httpPort.*less than or equal to 65535/],
    ['port 0', `{template: {containers: [${app}]}, httpPort: 0}`, /spec\.httpPort.*greater than or equal to 1/],
    ['statusPort with the sidecar enabled', `{template: {containers: [${app}]}, sidecar: {enabled: true, statusPort: 8081}}`, /spec\.sidecar\.statusPort/],
    ['httpPort on the sidecar\'s proxy port with the sidecar asked for', `{template: {containers: [${app}]}, httpPort: 9090, sidecar: {enabled: true}}`, /spec\.httpPort/],
    ['a container named like the sidecar', '{template: {containers: [{name: spawner-sidecar, image: x}]}}', /spawner-sidecar/],
    ['a zero startup timeout', `{template: {containers: [${app}]}, startupTimeoutSeconds: 0}`, /spec\.startupTimeoutSeconds/],
    ['an unknown field', `{template: {containers: [${app}]}, graceSeconds: 10}`, /unknown field "spec\.graceSeconds"/],
  ];
  test.each(cases)('%s', async (_what, spec, message) => {
    const name = `bad-${Math.random().toString(36).slice(2, 8)}`;
    const err = await kubectl(['create', '-f', '-'], { input: manifest(name, spec).replace('NS', namespace) }).then(
      () => undefined,
      (e: Error) => e.message,
    );
    expect(err).toMatch(message);
    await expect(kubectl(['get', 'slb', name, '-n', namespace])).rejects.toThrow(/NotFound|not found/);
  });

  test('the good counterpart is accepted, gracePeriodSeconds defaulted (readers apply the other documented defaults)', async () => {
    const out = await kubectl(['create', '-o', 'json', '-f', '-'], {
      input: manifest('good', `{template: {containers: [${app}]}, sidecar: {enabled: false, statusPort: 8081}}`).replace('NS', namespace),
    });
    const created = JSON.parse(out) as { spec: Record<string, unknown> };
    expect(created.spec).toEqual({ template: { containers: [{ name: 'app', image: 'example.invalid/app:1' }] }, gracePeriodSeconds: 300, sidecar: { enabled: false, statusPort: 8081 } });
  });

  test('a claim from a pool is accepted, and its pool cannot be changed afterwards', async () => {
    await kubectl(['create', '-f', '-'], { input: manifest('claim', '{poolRef: {name: games}, gracePeriodSeconds: 60}').replace('NS', namespace) });
    const err = await kubectl(['patch', 'slb', 'claim', '-n', namespace, '--type=merge', '-p', '{"spec":{"poolRef":{"name":"other"}}}']).then(() => '', (e: Error) => e.message);
    expect(err).toMatch(/spec\.poolRef cannot be changed once the backend exists/);
  });
});

describe('the WarmPool CRD', () => {
  const pool = (name: string, spec: string) =>
    `apiVersion: spawner.dev/v1\nkind: WarmPool\nmetadata: {name: ${name}, namespace: ${namespace}}\nspec: ${spec}\n`;

  test('is Established; `kubectl get warmpools` and `wp` list pools with Desired, Ready and Age', async () => {
    const crd = await apiClients(kc).apiextensions.readCustomResourceDefinition({ name: `warmpools.${GROUP}` });
    expect(crd.status?.conditions?.find((c) => c.type === 'Established')?.status).toBe('True');
    await kubectl(['create', '-f', '-'], { input: pool('listed', `{replicas: 3, template: {containers: [${app}]}}`) });
    const table = await kubectl(['get', 'warmpools', '-n', namespace]);
    expect(table.split('\n')[0]).toMatch(/^NAME\s+DESIRED\s+READY\s+AGE$/);
    expect(table).toMatch(/listed\s+3\s+/);
    await expect(kubectl(['get', 'wp', 'listed', '-n', namespace, '-o', 'name'])).resolves.toBe('warmpool.spawner.dev/listed');
  });

  test('`kubectl scale` sets spec.replicas through the scale subresource', async () => {
    await kubectl(['create', '-f', '-'], { input: pool('scaled', `{template: {containers: [${app}]}}`) });
    await kubectl(['scale', 'wp', 'scaled', '-n', namespace, '--replicas=5']);
    await expect(kubectl(['get', 'wp', 'scaled', '-n', namespace, '-o', 'jsonpath={.spec.replicas}'])).resolves.toBe('5');
  });

  const cases: Array<[what: string, name: string, spec: string, message: RegExp]> = [
    ['no template', 'p1', '{replicas: 1}', /spec\.template: Required/],
    ['negative replicas', 'p2', `{replicas: -1, template: {containers: [${app}]}}`, /spec\.replicas.*greater than or equal to 0/],
    ['the app on the sidecar port', 'p3', `{template: {containers: [${app}]}, httpPort: 9091, sidecar: {enabled: true}}`, /spec\.httpPort must not be 9090 or 9091/],
    ['a name that cannot label its members', 'pool.eu', `{template: {containers: [${app}]}}`, /metadata\.name of a WarmPool must be a DNS label/],
  ];
  test.each(cases)('refuses %s, naming the field', async (_what, name, spec, message) => {
    const err = await kubectl(['create', '-f', '-'], { input: pool(name, spec) }).then(() => '', (e: Error) => e.message);
    expect(err).toMatch(message);
  });
});

// What a user sees from `kubectl create -f`: stdout on success, the API server's refusal otherwise.
async function kubectlCreate(metadata: Record<string, string>): Promise<{ ok: boolean; said: string }> {
  const doc = { apiVersion: 'spawner.dev/v1', kind: 'SessionLivedBackend', metadata: { namespace, ...metadata }, spec: { template: { containers: [{ name: 'app', image: 'example.invalid/app:1' }] } } };
  try {
    return { ok: true, said: await kubectl(['create', '-f', '-'], { input: JSON.stringify(doc) }) };
  } catch (err) {
    return { ok: false, said: String((err as { stderr?: string }).stderr ?? err) };
  }
}

describe('backend names are refused unless they are a DNS-1035 label of at most 63 characters (common/spawner/names.ts)', () => {
  test.each([
    ['starting with a digit', '1game'],
    ['with a dot', 'a.b'],
    ['64 characters', 'a'.repeat(64)],
    ['70 characters', 'a'.repeat(70)],
    ['ending with a dash', 'game-'],
  ])('refuses a name %s, naming metadata.name and the rule', async (_what, name) => {
    const r = await kubectlCreate({ name });
    expect(r.ok).toBe(false);
    expect(r.said).toContain('metadata.name must be lowercase letters, digits and \'-\'');
    expect(r.said).toContain('at most 63 characters');
  });

  test('refuses a generateName prefix with no room left for the 5 random characters, naming metadata.generateName', async () => {
    const r = await kubectlCreate({ generateName: 'b'.repeat(60) });
    expect(r.ok).toBe(false);
    expect(r.said).toContain('metadata.generateName must be');
    expect(r.said).toContain('at most 58 characters');
  });

  test.each([
    ['a 63-character name', { name: 'a'.repeat(63) }],
    ['a usual name', { name: 'room-7' }],
    ['a 58-character prefix', { generateName: 'c'.repeat(58) }],
  ])('accepts %s', async (_what, metadata) => {
    const r = await kubectlCreate(metadata);
    expect(r).toMatchObject({ ok: true });
  });
});
