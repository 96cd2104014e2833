// The CRD as the real API server serves it: installed and Established, short names and printer columns,
// and bad backends refused at admission (schema, CEL, strict field validation) with the field named.
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
    ['no template', '{httpPort: 8080}', /spec\.template: Required/],
    ['a negative grace period', `{template: {containers: [${app}]}, gracePeriodSeconds: -1}`, /spec\.gracePeriodSeconds.*greater than or equal to 0/],
    ['a port out of range', `{template: {containers: [${app}]}, httpPort: 70000}`, /spec\.httpPort.*less than or equal to 65535/],
    ['port 0', `{template: {containers: [${app}]}, httpPort: 0}`, /spec\.httpPort.*greater than or equal to 1/],
    ['statusPort with the sidecar enabled', `{template: {containers: [${app}]}, sidecar: {enabled: true, statusPort: 8081}}`, /spec\.sidecar\.statusPort/],
    ['httpPort on the sidecar\'s proxy port', `{template: {containers: [${app}]}, httpPort: 9090}`, /spec\.httpPort/],
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

  test('the good counterpart is accepted, with the defaults filled in', async () => {
    const out = await kubectl(['create', '-o', 'json', '-f', '-'], {
      input: manifest('good', `{template: {containers: [${app}]}, sidecar: {enabled: false, statusPort: 8081}}`).replace('NS', namespace),
    });
    const created = JSON.parse(out) as { spec: Record<string, unknown> };
    expect(created.spec).toMatchObject({ httpPort: 8080, gracePeriodSeconds: 300, startupTimeoutSeconds: 300, sidecar: { enabled: false, statusPort: 8081 } });
  });
});
