// The backend name rule has one definition (common/spawner/names.ts) and two enforcers: the TypeScript
// check the CLI and the HTTP API run before they send anything, and the CEL rules the CRD carries. This
// evaluates both on one table of names and proves they agree with each other and with the expectation.
import { beforeAll, describe, expect, test } from '@jest/globals';
import { Environment, Optional } from '@marcbachmann/cel-js';
import { GENERATE_NAME_MESSAGE, isBackendName, isGenerateNamePrefix, NAME_CEL_RULES, NAME_MESSAGE } from '../../common/spawner/names.ts';
import { loadSource, openApiSchema } from '../crd.ts';

type Rule = { rule: string; message: string; optionalOldSelf?: boolean };
let rules: Rule[] = [];
beforeAll(async () => {
  rules = openApiSchema(await loadSource('SessionLivedBackend'))['x-kubernetes-validations'] as unknown as Rule[];
});

const cel = new Environment({ enableOptionalTypes: true, unlistedVariablesAreDyn: true });
const doc = (metadata: Record<string, string>) => new Map<string, unknown>([['metadata', new Map(Object.entries(metadata))], ['spec', new Map()]]);

// What admission says about a document (create: no old object; update: the stored one).
function refusals(metadata: Record<string, string>, update = false): string[] {
  return rules
    .filter((r) => r.optionalOldSelf)
    .filter((r) => cel.evaluate(r.rule, { self: doc(metadata), oldSelf: update ? Optional.of(doc(metadata)) : Optional.none() }) !== true)
    .map((r) => r.message);
}

const n = (length: number) => 'a'.repeat(length);

describe('the CRD carries the rules of common/spawner/names.ts', () => {
  test('both name rules, evaluated on create and skipped on update', () => {
    for (const r of NAME_CEL_RULES) expect(rules).toContainEqual(r);
  });
});

describe('metadata.name: the TypeScript check and the CRD agree', () => {
  test.each<[string, string, boolean]>([
    ['a good name', 'room-7', true],
    ['one letter', 'a', true],
    ['63 characters', n(63), true],
    ['64 characters', n(64), false],
    ['70 characters', n(70), false],
    ['starting with a digit', '1game', false],
    ['a dot', 'a.b', false],
    ['uppercase', 'Game', false],
    ['a trailing dash', 'game-', false],
    ['a leading dash', '-game', false],
    ['an underscore', 'my_game', false],
    ['digits after a letter', 'g2048', true],
  ])('%s (%s) → %s', (_what, name, valid) => {
    expect(isBackendName(name)).toBe(valid);
    expect(refusals({ name })).toEqual(valid ? [] : [NAME_MESSAGE]);
  });

  test('an object stored before the rule existed can still be updated (status writes, finalizer removal)', () => {
    expect(refusals({ name: '1game' }, true)).toEqual([]);
  });
});

describe('metadata.generateName: the TypeScript check and the CRD agree', () => {
  // The API server has filled in metadata.name from the prefix by the time CEL runs.
  const generated = (prefix: string) => `${prefix.slice(0, 58)}x7k2p`;
  test.each<[string, string, boolean]>([
    ['a usual prefix', 'room-', true],
    ['no dash', 'room', true],
    ['58 characters', n(58), true],
    ['59 characters: no room for the 5 random ones', n(59), false],
    ['70 characters', n(70), false],
    ['starting with a digit', '1room-', false],
    ['uppercase', 'Room-', false],
    ['a dot', 'a.b-', false],
  ])('%s (%s) → %s', (_what, prefix, valid) => {
    expect(isGenerateNamePrefix(prefix)).toBe(valid);
    const said = refusals({ generateName: prefix, name: generated(prefix) });
    expect(said.includes(GENERATE_NAME_MESSAGE)).toBe(!valid);
  });

  test('the messages name the field, the rule and what to do', () => {
    expect(NAME_MESSAGE).toMatch(/^metadata\.name must be .*at most 63 characters.*choose such a name$/);
    expect(GENERATE_NAME_MESSAGE).toMatch(/^metadata\.generateName must be .*at most 58 characters.*shorten or fix the prefix$/);
  });
});
