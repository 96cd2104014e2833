import { beforeAll, describe, expect, test } from '@jest/globals';
import { Ajv, type ValidateFunction } from 'ajv';
import { evaluate } from '@marcbachmann/cel-js';
import { loadSource, validationSchema, type SchemaSource } from '../crd.ts';

// The schema is checked by a real JSON Schema validator (ajv), and the CEL rules by a CEL evaluator, the
// same two steps the API server takes at admission; the integration suite repeats the table there.
let source: SchemaSource;
let validate: ValidateFunction;
beforeAll(async () => {
  source = await loadSource();
  const ajv = new Ajv({ strict: false, allErrors: true, useDefaults: true });
  ajv.addFormat('date-time', { validate: (s: string) => !Number.isNaN(Date.parse(s)) });
  ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isSafeInteger(n) });
  validate = ajv.compile(validationSchema(source));
});

type Rule = { rule: string; message: string };

// CEL sees JSON objects as maps and JSON integers as int (BigInt in this evaluator).
function toCel(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toCel);
  if (value !== null && typeof value === 'object') return new Map(Object.entries(value).map(([k, v]) => [k, toCel(v)]));
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  return value;
}

// CEL rules of the spec (and of its containers list), evaluated like the API server does after defaulting.
function celFailures(spec: any): string[] {
  const failures: string[] = [];
  const check = (rules: Rule[] | undefined, self: unknown) => {
    for (const r of rules ?? []) if (evaluate(r.rule, { self: toCel(self) }) !== true) failures.push(r.message);
  };
  check(source.spec['x-kubernetes-validations'] as unknown as Rule[], spec);
  const containersSchema = (source.spec.properties as any).template.properties.containers;
  if (Array.isArray(spec?.template?.containers)) check(containersSchema['x-kubernetes-validations'], spec.template.containers);
  return failures;
}

function admit(doc: unknown): string[] {
  // A JSON round trip, not structuredClone: jest's sandbox has its own Array, and the CEL evaluator checks for it.
  const copy: any = JSON.parse(JSON.stringify(doc));
  if (!validate(copy)) return (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
  return celFailures((copy as { spec: unknown }).spec);
}

const app = { name: 'app', image: 'localhost/demo:1' };
const slb = (spec: object) => ({ apiVersion: 'spawner.dev/v1', kind: 'SessionLivedBackend', metadata: { name: 'x' }, spec });

describe('admission of SessionLivedBackend documents', () => {
  test.each([
    ['the minimal backend', { template: { containers: [app] } }],
    ['every field', { template: { containers: [app, { name: 'cache', image: 'redis' }], volumes: [{ name: 'v', emptyDir: {} }], nodeSelector: { a: 'b' } }, httpPort: 3000, gracePeriodSeconds: 0, maxLifetimeSeconds: 3600, startupTimeoutSeconds: 60, sidecar: { enabled: true } }],
    ['no sidecar with a status port', { template: { containers: [app] }, sidecar: { enabled: false, statusPort: 8081 } }],
    ['no sidecar on the sidecar ports', { template: { containers: [app] }, httpPort: 9090, sidecar: { enabled: false } }],
    ['container fields that pass through', { template: { containers: [{ ...app, env: [{ name: 'A', value: '1' }], resources: { limits: { memory: '1Gi' } } }] } }],
  ])('accepts %s', (_what, spec) => {
    expect(admit(slb(spec))).toEqual([]);
  });

  test.each([
    ['no template', {}, "must have required property 'template'"],
    ['no containers', { template: {} }, "must have required property 'containers'"],
    ['an empty container list', { template: { containers: [] } }, '/spec/template/containers must NOT have fewer than 1 items'],
    ['a container without an image', { template: { containers: [{ name: 'app' }] } }, "must have required property 'image'"],
    ['a negative grace period', { template: { containers: [app] }, gracePeriodSeconds: -1 }, '/spec/gracePeriodSeconds must be >= 0'],
    ['a port out of range', { template: { containers: [app] }, httpPort: 70000 }, '/spec/httpPort must be <= 65535'],
    ['a fractional port', { template: { containers: [app] }, httpPort: 80.5 }, '/spec/httpPort must be integer'],
    ['a zero max lifetime', { template: { containers: [app] }, maxLifetimeSeconds: 0 }, '/spec/maxLifetimeSeconds must be >= 1'],
    ['an unknown spec field', { template: { containers: [app] }, gracePeriod: 5 }, 'must NOT have additional properties'],
    ['a restart policy other than Never', { template: { containers: [app], restartPolicy: 'Always' } }, '/spec/template/restartPolicy must be equal to one of the allowed values'],
    ['statusPort with the sidecar enabled', { template: { containers: [app] }, sidecar: { statusPort: 8081 } }, 'spec.sidecar.statusPort is only used when spec.sidecar.enabled is false'],
    ['the app on the sidecar port', { template: { containers: [app] }, httpPort: 9091 }, 'spec.httpPort must not be 9090 or 9091'],
    ['the reserved container name', { template: { containers: [app, { name: 'spawner-sidecar', image: 'x' }] } }, 'spawner-sidecar is reserved'],
  ])('rejects %s', (_what, spec, problem) => {
    expect(admit(slb(spec)).join('\n')).toContain(problem);
  });

  test('defaults are filled in as the contract says', () => {
    const doc = slb({ template: { containers: [app] } }) as any;
    expect(validate(doc)).toBe(true);
    expect(doc.spec).toMatchObject({ httpPort: 8080, gracePeriodSeconds: 300, startupTimeoutSeconds: 300, sidecar: { enabled: true } });
  });
});
