// Turns a component's TypeScript into the JavaScript its image runs, at image build time, so no
// process in a container strips types at start (measured on the sidecar, loading every module and
// exiting: 78 MB peak RSS and 145 ms CPU from the .ts files, 49 MB and 42 ms from this output).
//
// The transform is the one Node applies at run time and the tests use (scripts/jest-strip-types.cjs):
// `module.stripTypeScriptTypes` in strip mode, which blanks the types out and keeps every other
// character where it was. Relative imports of `.ts` files become `.js` (same length), so line and
// column numbers in a container's stack trace are those of the source file, without source maps.
// Why not `tsc` emit: it re-prints the code (positions change) and took 4.9 s for the sidecar's files
// against 0.33 s for this (e2e/node/README.md, "Images").
//
// usage: node images/compile.ts <repo root> <destination> <file.ts>…   writes <destination>/<file>.js
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import path from 'node:path';
import { importSpecifiers } from './deps.ts';

/** `sidecar/src/main.ts` → `sidecar/src/main.js`; anything else is returned unchanged. */
export function javaScriptPath(file: string): string {
  return file.endsWith('.ts') && !file.endsWith('.d.ts') ? `${file.slice(0, -3)}.js` : file;
}

function isRelative(specifier: string): boolean {
  return specifier.startsWith('./') || specifier.startsWith('../');
}

/** Relative `.ts` specifiers → `.js`, every other byte left where it was. */
export function rewriteSpecifiers(source: string): string {
  let out = '';
  let from = 0;
  for (const { specifier, start, end } of importSpecifiers(source)) {
    if (!isRelative(specifier)) continue;
    out += source.slice(from, start) + javaScriptPath(specifier);
    from = end;
  }
  return out + source.slice(from);
}

export function toJavaScript(typeScript: string): string {
  return rewriteSpecifiers(stripTypeScriptTypes(typeScript, { mode: 'strip' }));
}

if (import.meta.main) {
  const [root, destination, ...files] = process.argv.slice(2);
  if (!root || !destination || files.length === 0) {
    process.stderr.write('usage: node images/compile.ts <repo root> <destination> <file.ts>…\n');
    process.exit(2);
  }
  for (const file of files) {
    if (!file.endsWith('.ts')) {
      process.stderr.write(`compile.ts: ${file} is not a .ts file\n`);
      process.exit(2);
    }
    const target = path.join(destination, javaScriptPath(file));
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(target, toJavaScript(readFileSync(path.join(root, file), 'utf8')));
  }
}
