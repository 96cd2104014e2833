import { beforeAll, describe, expect, test } from '@jest/globals';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { crdFileName, crdFromSource, loadFragments, loadSources, resolveUses, typesSchema, type SchemaSource } from '../crd.ts';
import { structuralProblems } from '../structural.ts';

let sources: SchemaSource[];
const kind = (name: string) => sources.find((s) => s.names.kind === name)!;
beforeAll(async () => {
  sources = await loadSources();
});

describe('the generated CRDs', () => {
  test('the committed manifests, kustomization and types are what the generator writes', async () => {
    const run = promisify(execFile);
    const { stdout } = await run(process.execPath, ['schema/generate.ts', '--check'], { cwd: new URL('../..', import.meta.url).pathname });
    expect(stdout).toContain('up to date');
  });

  test.each(['SessionLivedBackend', 'WarmPool'])('the committed %s manifest is the CRD built from the source', async (name) => {
    const source = kind(name);
    const committed = parse(await readFile(new URL(`../../manifests/crd/${crdFileName(source)}`, import.meta.url), 'utf8'));
    expect(committed).toEqual(crdFromSource(source));
  });

  test.each(['SessionLivedBackend', 'WarmPool'])('%s is a structural schema without generator-only keys', (name) => {
    const crd = crdFromSource(kind(name)) as any;
    expect(structuralProblems(crd.spec.versions[0].schema.openAPIV3Schema)).toEqual([]);
    expect(JSON.stringify(crd)).not.toMatch(/tsType|x-spawner-|\$use/);
  });

  test('SessionLivedBackend: names, short names, printer columns and the node selectable field follow the contract', () => {
    const crd = crdFromSource(kind('SessionLivedBackend')) as any;
    expect(crd.metadata.name).toBe('sessionlivedbackends.spawner.dev');
    expect(crd.spec.scope).toBe('Namespaced');
    expect(crd.spec.names.shortNames).toEqual(['slb', 'slbs']);
    const version = crd.spec.versions[0];
    expect(version.subresources).toEqual({ status: {} });
    expect(version.additionalPrinterColumns.filter((c: any) => !c.priority).map((c: any) => c.name)).toEqual(['Phase', 'URL', 'Node', 'Age']);
    expect(version.selectableFields).toEqual([{ jsonPath: '.status.nodeName' }]);
  });

  test('WarmPool: short name, printer columns Desired/Ready/Age, status and scale subresources', () => {
    const crd = crdFromSource(kind('WarmPool')) as any;
    expect(crd.metadata.name).toBe('warmpools.spawner.dev');
    expect(crd.spec.scope).toBe('Namespaced');
    expect(crd.spec.names.shortNames).toEqual(['wp']);
    expect(crd.spec.names.categories).toEqual(['spawner']);
    const version = crd.spec.versions[0];
    expect(version.subresources).toEqual({
      status: {},
      scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.status.selector' },
    });
    expect(version.additionalPrinterColumns.filter((c: any) => !c.priority).map((c: any) => c.name)).toEqual(['Desired', 'Ready', 'Age']);
    expect(version.selectableFields).toBeUndefined();
    expect(version.schema.openAPIV3Schema['x-kubernetes-validations'][0].rule).toContain('self.metadata.name');
  });

  test('the backend fields are one definition: a WarmPool and a SessionLivedBackend carry the same template, httpPort and sidecar', () => {
    const slb = kind('SessionLivedBackend').spec.properties as any;
    const pool = kind('WarmPool').spec.properties as any;
    for (const field of ['template', 'httpPort', 'sidecar']) expect({ field, schema: pool[field] }).toEqual({ field, schema: slb[field] });
    // startupTimeoutSeconds differs only in what its description says of a pool.
    expect({ ...pool.startupTimeoutSeconds, description: '' }).toEqual({ ...slb.startupTimeoutSeconds, description: '' });
    const rules = (s: SchemaSource) => (s.spec['x-kubernetes-validations'] as any[]).map((r) => r.rule);
    expect(rules(kind('SessionLivedBackend'))).toEqual(expect.arrayContaining(rules(kind('WarmPool'))));
  });

  test('the types declare each shared part once', async () => {
    const schema = typesSchema([{ names: { kind: 'A' }, spec: { type: 'object', properties: { s: { $use: 'part' } } }, status: { type: 'object' } }, { names: { kind: 'B' }, spec: { type: 'object', properties: { s: { $use: 'part' } } }, status: { type: 'object' } }], { part: { type: 'object', title: 'Part', properties: { x: { type: 'string' } } } }) as any;
    expect(schema.properties.ASpec.properties.s).toEqual({ $ref: '#/definitions/part' });
    expect(schema.properties.BSpec.properties.s).toEqual({ $ref: '#/definitions/part' });
    expect(schema.definitions.part).toEqual({ type: 'object', title: 'Part', properties: { x: { type: 'string' } }, additionalProperties: false });
  });

  test.each([
    ['a node without a type', { type: 'object', properties: { a: { description: 'x' } } }, 'every schema node needs a type'],
    ['closed objects', { type: 'object', additionalProperties: false }, 'additionalProperties: false'],
    ['properties beside additionalProperties', { type: 'object', properties: {}, additionalProperties: true }, 'mutually exclusive'],
    ['a $ref', { type: 'object', $ref: '#/x' }, "'$ref' is not allowed"],
    ['an array without items', { type: 'array' }, 'needs items'],
    ['a map list whose key is optional', { type: 'array', 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['k'], items: { type: 'object', properties: { k: { type: 'string' } } } }, "'k' must be required"],
    ['a rule without a message', { type: 'object', 'x-kubernetes-validations': [{ rule: 'true' }] }, 'needs a message'],
  ])('the structural check rejects %s', (_what, schema, problem) => {
    expect(structuralProblems(schema as any).join('\n')).toContain(problem);
  });
});

describe('resolveUses', () => {
  const fragments = { port: { type: 'integer', minimum: 1 }, pair: { type: 'object', properties: { p: { $use: 'port' } } } };
  test.each([
    ['a fragment in place', { a: { $use: 'port' } }, { a: { type: 'integer', minimum: 1 } }],
    ['keys beside $use override the fragment', { a: { $use: 'port', minimum: 2, description: 'x' } }, { a: { type: 'integer', minimum: 2, description: 'x' } }],
    ['fragments using fragments', { a: { $use: 'pair' } }, { a: { type: 'object', properties: { p: { type: 'integer', minimum: 1 } } } }],
    ['in arrays', [{ $use: 'port' }], [{ type: 'integer', minimum: 1 }]],
    ['default data untouched', { default: { $use: 'port' } }, { default: { $use: 'port' } }],
  ])('%s', (_what, node, expected) => {
    expect(resolveUses(node as any, fragments as any)).toEqual(expected);
  });
  test('each use is a copy', () => {
    const out = resolveUses({ a: { $use: 'port' }, b: { $use: 'port' } }, fragments) as any;
    out.a.minimum = 5;
    expect(out.b.minimum).toBe(1);
  });
  test('an unknown fragment is an error naming it', () => {
    expect(() => resolveUses({ a: { $use: 'nope' } }, fragments)).toThrow(/unknown schema fragment 'nope'/);
  });
  test('the shipped fragments all resolve', async () => {
    const all = await loadFragments();
    for (const name of Object.keys(all)) expect(JSON.stringify(resolveUses({ $use: name }, all))).not.toContain('$use');
  });
});
