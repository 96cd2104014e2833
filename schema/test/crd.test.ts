import { beforeAll, describe, expect, test } from '@jest/globals';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { crdFromSource, loadSource, type SchemaSource } from '../crd.ts';
import { structuralProblems } from '../structural.ts';

let source: SchemaSource;
beforeAll(async () => {
  source = await loadSource();
});

describe('the generated CRD', () => {
  test('the committed manifest and types are what the generator writes', async () => {
    const run = promisify(execFile);
    const { stdout } = await run(process.execPath, ['schema/generate.ts', '--check'], { cwd: new URL('../..', import.meta.url).pathname });
    expect(stdout).toContain('up to date');
  });

  test('the committed manifest is the CRD built from the source', async () => {
    const committed = parse(await readFile(new URL('../../manifests/crd/sessionlivedbackends.spawner.dev.yaml', import.meta.url), 'utf8'));
    expect(committed).toEqual(crdFromSource(source));
  });

  test('is a structural schema', () => {
    const crd = crdFromSource(source) as any;
    expect(structuralProblems(crd.spec.versions[0].schema.openAPIV3Schema)).toEqual([]);
  });

  test('names, short names, printer columns and the node selectable field follow the contract', () => {
    const crd = crdFromSource(source) as any;
    expect(crd.metadata.name).toBe('sessionlivedbackends.spawner.dev');
    expect(crd.spec.scope).toBe('Namespaced');
    expect(crd.spec.names.shortNames).toEqual(['slb', 'slbs']);
    const version = crd.spec.versions[0];
    expect(version.subresources).toEqual({ status: {} });
    expect(version.additionalPrinterColumns.filter((c: any) => !c.priority).map((c: any) => c.name)).toEqual(['Phase', 'URL', 'Node', 'Age']);
    expect(version.selectableFields).toEqual([{ jsonPath: '.status.nodeName' }]);
    expect(JSON.stringify(version.schema)).not.toContain('tsType');
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
