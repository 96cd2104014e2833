import { describe, expect, test } from '@jest/globals';
import { packageOf, productionClosure, resolveIn, runtimeSpecifiers } from '../deps.ts';

describe('runtimeSpecifiers', () => {
  test.each([
    ["import { a } from './a.ts';", ['./a.ts']],
    ["import type { T } from './types.ts';", []],
    ["export type { T } from './types.ts';", []],
    ["export { x } from '../x.ts';", ['../x.ts']],
    ["import pino from 'pino';\nimport {\n  a,\n  type B,\n} from '@kubernetes/client-node';", ['pino', '@kubernetes/client-node']],
    ["import './side-effect.ts';", ['./side-effect.ts']],
    ["const m = await import('node:fs');", ['node:fs']],
  ])('%j', (source, expected) => {
    expect(runtimeSpecifiers(source)).toEqual(expected);
  });
});

test.each([
  ['@scope/pkg/sub/path', '@scope/pkg'],
  ['pkg/sub', 'pkg'],
  ['./local.ts', undefined],
  ['node:http', undefined],
])('packageOf(%j) = %j', (spec, expected) => {
  expect(packageOf(spec)).toBe(expected);
});

describe('productionClosure over a lock file', () => {
  const packages = {
    '': {},
    'node_modules/a': { dependencies: { b: '^1', c: '^1' } },
    'node_modules/b': { dependencies: { c: '^2' } },
    'node_modules/b/node_modules/c': {},
    'node_modules/c': { optionalDependencies: { missing: '^1' } },
    'node_modules/dev-only': { dev: true },
  };

  test('nested copies are found from the depending package outwards', () => {
    expect(resolveIn(packages, 'node_modules/b', 'c')).toBe('node_modules/b/node_modules/c');
    expect(resolveIn(packages, 'node_modules/a', 'c')).toBe('node_modules/c');
  });

  test('transitive dependencies, each folder once; absent optional ones skipped; nothing unasked', () => {
    expect(productionClosure(packages, ['a'])).toEqual(['node_modules/a', 'node_modules/b', 'node_modules/b/node_modules/c', 'node_modules/c']);
  });

  test('a required package missing from the lock is an error naming it', () => {
    expect(() => productionClosure(packages, ['nope'])).toThrow(/nope/);
  });
});
