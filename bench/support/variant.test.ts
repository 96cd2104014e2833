// The one parser of benchmarks' --variant: every field, values holding '=' and ':', and what it refuses.
import { describe, expect, test } from '@jest/globals';
import { describeVariant, parseVariant } from './variant.ts';

describe('parseVariant', () => {
  test.each([
    ['image', { name: 'image', ref: undefined, nodeArgs: undefined, env: {} }],
    ['defaults args=', { name: 'defaults', ref: undefined, nodeArgs: [], env: {} }],
    ['opt1 args=--max-semi-space-size=2,--max-opt=1', { name: 'opt1', ref: undefined, nodeArgs: ['--max-semi-space-size=2', '--max-opt=1'], env: {} }],
    ['old ref=abc123', { name: 'old', ref: 'abc123', nodeArgs: undefined, env: {} }],
    [
      '  trim env=GLIBC_TUNABLES=glibc.malloc.arena_max=1:glibc.malloc.trim_threshold=131072,X=1  ',
      { name: 'trim', ref: undefined, nodeArgs: undefined, env: { GLIBC_TUNABLES: 'glibc.malloc.arena_max=1:glibc.malloc.trim_threshold=131072', X: '1' } },
    ],
    ['late env=FLAGS=--no-maglev,--no-turbofan,LOG=info', { name: 'late', ref: undefined, nodeArgs: undefined, env: { FLAGS: '--no-maglev,--no-turbofan', LOG: 'info' } }],
  ])('%s', (spec, parsed) => {
    expect(parseVariant(spec)).toEqual(parsed);
  });

  test.each([
    ['', /a name first/],
    ['opt1=--max-opt=1', /a name first/], // the sidecar bench's former NAME=FLAGS form
    ['x flags=--jitless', /unknown field 'flags=--jitless'/],
    ['x args', /unknown field 'args'/],
    ['x env=NOVALUE', /env takes K=V/],
  ])('refuses %j', (spec, message) => {
    expect(() => parseVariant(spec)).toThrow(message);
  });

  test('a field the benchmark does not support is refused, naming those it does', () => {
    expect(() => parseVariant('old ref=HEAD~1', ['args', 'env'])).toThrow("unknown field 'ref=HEAD~1' (args=, env=)");
  });
});

test('describeVariant: its environment, then Node with its flags or the image\'s', () => {
  expect(describeVariant(parseVariant('t env=A=1 args=--max-opt=1'), ['--max-semi-space-size=2'])).toBe('A=1 node --max-opt=1');
  expect(describeVariant(parseVariant('t'), ['--max-semi-space-size=2'])).toBe('node --max-semi-space-size=2');
});
