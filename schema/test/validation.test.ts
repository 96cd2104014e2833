import { beforeAll, describe, expect, test } from '@jest/globals';
import { Ajv, type ValidateFunction } from 'ajv';
import { Environment, Optional } from '@marcbachmann/cel-js';
import { loadSources, openApiSchema, validationSchema, type Json, type SchemaSource } from '../crd.ts';

// Documents are checked by a real JSON Schema validator (ajv), and the CEL rules by a CEL evaluator, the
// same two steps the API server takes at admission; the integration suite repeats the tables there.
type Kind = 'SessionLivedBackend' | 'WarmPool';
const sources = new Map<Kind, SchemaSource>();
const validators = new Map<Kind, ValidateFunction>();
beforeAll(async () => {
  const ajv = new Ajv({ strict: false, allErrors: true, useDefaults: true });
  ajv.addFormat('date-time', { validate: (s: string) => !Number.isNaN(Date.parse(s)) });
  ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isSafeInteger(n) });
  ajv.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && Math.abs(n) < 2 ** 31 });
  for (const source of await loadSources()) {
    const kind = source.names.kind as Kind;
    sources.set(kind, source);
    validators.set(kind, ajv.compile(validationSchema(source)));
  }
});

type Rule = { rule: string; message: string; optionalOldSelf?: boolean };

// As the API server's CEL: optional types on, so a rule with optionalOldSelf sees oldSelf as an optional.
const cel = new Environment({ enableOptionalTypes: true, unlistedVariablesAreDyn: true });
type Node = { [key: string]: Json };

// CEL sees JSON objects as maps and JSON integers as int (BigInt in this evaluator).
function toCel(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toCel);
  if (value !== null && typeof value === 'object') return new Map(Object.entries(value).map(([k, v]) => [k, toCel(v)]));
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  return value;
}

// Every CEL rule of the schema, evaluated where the document has a value, like the API server does after
// defaulting. Transition rules (oldSelf) run only on an update, when the old value exists too, unless
// they say optionalOldSelf: then they run on create as well, with oldSelf an empty optional.
function celFailures(schema: Node, value: unknown, old: unknown): string[] {
  if (value === undefined) return [];
  const failures: string[] = [];
  for (const r of (schema['x-kubernetes-validations'] ?? []) as Rule[]) {
    const transition = r.rule.includes('oldSelf');
    if (transition && old === undefined && !r.optionalOldSelf) continue;
    const oldSelf = r.optionalOldSelf ? (old === undefined ? Optional.none() : Optional.of(toCel(old))) : toCel(old);
    const vars = transition ? { self: toCel(value), oldSelf } : { self: toCel(value) };
    if (cel.evaluate(r.rule, vars) !== true) failures.push(r.message);
  }
  const props = (schema.properties ?? {}) as Record<string, Node>;
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [key, child] of Object.entries(props)) {
      failures.push(...celFailures(child, (value as any)[key], (old as any)?.[key]));
    }
  }
  if (Array.isArray(value) && schema.items) value.forEach((v) => failures.push(...celFailures(schema.items as Node, v, undefined)));
  return failures;
}

function admit(kind: Kind, doc: unknown, oldDoc?: unknown): string[] {
  // A JSON round trip, not structuredClone: jest's sandbox has its own Array, and the CEL evaluator checks for it.
  const copy: any = JSON.parse(JSON.stringify(doc));
  const validate = validators.get(kind)!;
  if (!validate(copy)) return (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
  const schema = openApiSchema(sources.get(kind)!) as Node;
  return celFailures({ ...schema, properties: { ...(schema.properties as Node), metadata: { type: 'object' } } }, copy, oldDoc === undefined ? undefined : JSON.parse(JSON.stringify(oldDoc)));
}

const app = { name: 'app', image: 'localhost/demo:1' };
const slb = (spec: object) => ({ apiVersion: 'spawner.dev/v1', kind: 'SessionLivedBackend', metadata: { name: 'x' }, spec });
const pool = (spec: object, name = 'games') => ({ apiVersion: 'spawner.dev/v1', kind: 'WarmPool', metadata: { name }, spec });

describe('admission of SessionLivedBackend documents', () => {
  test.each([
    ['the minimal backend', { template: { containers: [app] } }],
    ['every field', { template: { containers: [app, { name: 'cache', image: 'redis' }], volumes: [{ name: 'v', emptyDir: {} }], nodeSelector: { a: 'b' } }, httpPort: 3000, gracePeriodSeconds: 0, maxLifetimeSeconds: 3600, startupTimeoutSeconds: 60, sidecar: { enabled: true } }],
    ['no sidecar with a status port', { template: { containers: [app] }, sidecar: { enabled: false, statusPort: 8081 } }],
    ['no sidecar on the sidecar ports', { template: { containers: [app] }, httpPort: 9090, sidecar: { enabled: false } }],
    ["the sidecar left to the operator on its ports (the operator's default decides)", { template: { containers: [app] }, httpPort: 9090 }],
    ['container fields that pass through', { template: { containers: [{ ...app, env: [{ name: 'A', value: '1' }], resources: { limits: { memory: '1Gi' } } }] } }],
    ['a claim from a pool', { poolRef: { name: 'games' } }],
    ['a claim with its own grace period and lifetime', { poolRef: { name: 'games' }, gracePeriodSeconds: 60, maxLifetimeSeconds: 600 }],
  ])('accepts %s', (_what, spec) => {
    expect(admit('SessionLivedBackend', slb(spec))).toEqual([]);
  });

  test.each([
    ['neither template nor poolRef', {}, 'spec.template is required unless spec.poolRef names a WarmPool'],
    ['no containers', { template: {} }, "must have required property 'containers'"],
    ['an empty container list', { template: { containers: [] } }, '/spec/template/containers must NOT have fewer than 1 items'],
    ['a container without an image', { template: { containers: [{ name: 'app' }] } }, "must have required property 'image'"],
    ['a negative grace period', { template: { containers: [app] }, gracePeriodSeconds: -1 }, '/spec/gracePeriodSeconds must be >= 0'],
    ['a port out of range', { template: { containers: [app] }, httpPort: 70000 }, '/spec/httpPort must be <= 65535'],
    ['a fractional port', { template: { containers: [app] }, httpPort: 80.5 }, '/spec/httpPort must be integer'],
    ['a zero max lifetime', { template: { containers: [app] }, maxLifetimeSeconds: 0 }, '/spec/maxLifetimeSeconds must be >= 1'],
    ['an unknown spec field', { template: { containers: [app] }, gracePeriod: 5 }, 'must NOT have additional properties'],
    ['a restart policy other than Never', { template: { containers: [app], restartPolicy: 'Always' } }, '/spec/template/restartPolicy must be equal to one of the allowed values'],
    ['statusPort with the sidecar enabled', { template: { containers: [app] }, sidecar: { enabled: true, statusPort: 8081 } }, 'spec.sidecar.statusPort is only used when spec.sidecar.enabled is false'],
    ['statusPort with the sidecar left to the default', { template: { containers: [app] }, sidecar: { statusPort: 8081 } }, 'spec.sidecar.statusPort is only used when spec.sidecar.enabled is false'],
    ['the app on the sidecar port', { template: { containers: [app] }, httpPort: 9091, sidecar: { enabled: true } }, 'spec.httpPort must not be 9090 or 9091'],
    ['the reserved container name', { template: { containers: [app, { name: 'spawner-sidecar', image: 'x' }] } }, 'spawner-sidecar is reserved'],
    // Per-session settings need a cold start: a pooled member was started before the session existed.
    ['per-session environment variables on a claim', { poolRef: { name: 'games' }, template: { containers: [{ ...app, env: [{ name: 'ROOM', value: '7' }] }] } }, 'per-session settings (environment variables, image, resources) need a cold start'],
    ['a claim with its own port', { poolRef: { name: 'games' }, httpPort: 3000 }, "spec.httpPort cannot be combined with spec.poolRef; the WarmPool's httpPort applies"],
    ['a claim with its own sidecar settings', { poolRef: { name: 'games' }, sidecar: { enabled: false } }, "spec.sidecar cannot be combined with spec.poolRef"],
    ['a claim with its own startup timeout', { poolRef: { name: 'games' }, startupTimeoutSeconds: 5 }, 'spec.startupTimeoutSeconds cannot be combined with spec.poolRef'],
    ['a pool name that is no DNS label', { poolRef: { name: 'Games.1' } }, '/spec/poolRef/name must match pattern'],
    ['a poolRef without a name', { poolRef: {} }, "must have required property 'name'"],
  ])('rejects %s', (_what, spec, problem) => {
    expect(admit('SessionLivedBackend', slb(spec)).join('\n')).toContain(problem);
  });

  test.each([
    ['the pool changed', { poolRef: { name: 'games' } }, { poolRef: { name: 'other' } }, 'spec.poolRef cannot be changed once the backend exists'],
    ['a pool added to a cold backend', { template: { containers: [app] } }, { template: { containers: [app] }, poolRef: { name: 'games' } }, 'spec.poolRef cannot be added or removed'],
    ['the pool removed', { poolRef: { name: 'games' } }, { template: { containers: [app] } }, 'spec.poolRef cannot be added or removed'],
  ])('an update is refused when %s', (_what, before, after, problem) => {
    expect(admit('SessionLivedBackend', slb(after), slb(before)).join('\n')).toContain(problem);
  });

  test('an update that keeps the pool is accepted', () => {
    expect(admit('SessionLivedBackend', slb({ poolRef: { name: 'games' }, gracePeriodSeconds: 5 }), slb({ poolRef: { name: 'games' } }))).toEqual([]);
  });

  test('only gracePeriodSeconds is defaulted by the API server; readers apply the other documented defaults', () => {
    const doc = slb({ template: { containers: [app] } }) as any;
    expect(validators.get('SessionLivedBackend')!(doc)).toBe(true);
    expect(doc.spec).toEqual({ template: { containers: [app] }, gracePeriodSeconds: 300 });
  });
});

describe('admission of WarmPool documents', () => {
  test.each([
    ['the minimal pool', { template: { containers: [app] } }],
    ['every field', { replicas: 20, template: { containers: [app], nodeSelector: { a: 'b' } }, httpPort: 3000, startupTimeoutSeconds: 60, sidecar: { enabled: false, statusPort: 3001 } }],
    ['an empty pool', { replicas: 0, template: { containers: [app] } }],
  ])('accepts %s', (_what, spec) => {
    expect(admit('WarmPool', pool(spec))).toEqual([]);
  });

  test.each([
    ['no template', {}, "must have required property 'template'"],
    ['negative replicas', { replicas: -1, template: { containers: [app] } }, '/spec/replicas must be >= 0'],
    ['an unknown field', { template: { containers: [app] }, gracePeriodSeconds: 5 }, 'must NOT have additional properties'],
    ['the app on the sidecar port', { template: { containers: [app] }, httpPort: 9090, sidecar: { enabled: true } }, 'spec.httpPort must not be 9090 or 9091'],
    ['statusPort with the sidecar enabled', { template: { containers: [app] }, sidecar: { statusPort: 1 } }, 'spec.sidecar.statusPort is only used when spec.sidecar.enabled is false'],
    ['the reserved container name', { template: { containers: [{ name: 'spawner-sidecar', image: 'x' }] } }, 'spawner-sidecar is reserved'],
  ])('rejects %s', (_what, spec, problem) => {
    expect(admit('WarmPool', pool(spec)).join('\n')).toContain(problem);
  });

  test.each([['a name with dots', 'games.eu'], ['a name of 64 characters', `p${'a'.repeat(63)}`], ['a name starting with a digit', '1games']])('rejects %s (it labels every member)', (_what, name) => {
    expect(admit('WarmPool', pool({ template: { containers: [app] } }, name)).join('\n')).toContain('metadata.name of a WarmPool must be a DNS label');
  });

  test('replicas defaults to 1', () => {
    const doc = pool({ template: { containers: [app] } }) as any;
    expect(validators.get('WarmPool')!(doc)).toBe(true);
    expect(doc.spec.replicas).toBe(1);
  });
});
