import { describe, expect, test } from '@jest/globals';
import { javaScriptPath, rewriteSpecifiers, toJavaScript } from '../compile.ts';

describe('rewriteSpecifiers', () => {
  test.each([
    ["import { a } from './a.ts';", "import { a } from './a.js';"],
    ["export { x } from '../x.ts';", "export { x } from '../x.js';"],
    ["import './side-effect.ts';", "import './side-effect.js';"],
    ["const m = await import('./lazy.ts');", "const m = await import('./lazy.js');"],
    // Packages and builtins are resolved by Node, never rewritten; nor are names that only look alike.
    ["import x from 'pkg/file.ts';", "import x from 'pkg/file.ts';"],
    ["import http from 'node:http';", "import http from 'node:http';"],
    ["import d from './data.json' with { type: 'json' };", "import d from './data.json' with { type: 'json' };"],
    ["const s = 'see ./a.ts';", "const s = 'see ./a.ts';"],
  ])('%j', (source, expected) => {
    expect(rewriteSpecifiers(source)).toBe(expected);
  });
});

describe('toJavaScript', () => {
  const source = [
    "import http, { type IncomingMessage } from 'node:http';",
    "import type { Clock } from './activity.ts';",
    "import { ActivityTracker } from './activity.ts';",
    'export function f(req: IncomingMessage, clock: Clock): number {',
    '  return (req.headers as Record<string, string>).x!.length + clock();',
    '}',
  ].join('\n');
  const js = toJavaScript(source);

  test('types are erased, type-only imports vanish, relative imports point at .js', () => {
    expect(js).not.toMatch(/IncomingMessage|Clock|Record|: number/);
    expect(js).toContain("import { ActivityTracker } from './activity.js';");
    expect(js).toContain("import http, {");
  });

  test('every line and column stays where it was, so stack traces point into the source', () => {
    expect(js.length).toBe(source.length);
    const at = (text: string, needle: string) => {
      const i = text.indexOf(needle);
      return [text.slice(0, i).split('\n').length, i - text.lastIndexOf('\n', i - 1)];
    };
    expect(at(js, 'clock()')).toEqual(at(source, 'clock()'));
    expect(at(js, 'ActivityTracker')).toEqual(at(source, 'ActivityTracker'));
  });
});

test.each([
  ['sidecar/src/main.ts', 'sidecar/src/main.js'],
  ['./a.ts', './a.js'],
  ['types.d.ts', 'types.d.ts'],
  ['public/app.js', 'public/app.js'],
])('javaScriptPath(%j) = %j', (file, expected) => {
  expect(javaScriptPath(file)).toBe(expected);
});
