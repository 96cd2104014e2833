// What a component needs at run time, for images/build.sh: starting from its entry file, follows
// the relative imports (type-only ones are erased by Node and skipped) and prints each source file
// reached, then each node_modules folder needed: the packages those files import and their
// dependencies, transitively, as package-lock.json resolves them. Never dev-only packages, never
// test files: an image carries its component's code and production dependencies only.
//
// usage: node images/deps.ts <entry file, e.g. sidecar/src/main.ts>   (paths relative to the repo)
//   prints lines `file <path>` and `package <node_modules/...>`
import { readFileSync } from 'node:fs';
import path from 'node:path';

export interface ImportSpecifier {
  specifier: string;
  start: number; // offset of the specifier's first character (inside the quotes)
  end: number;
}

/**
 * Specifiers a module loads at run time, with where they sit in the source: static imports and
 * re-exports, side-effect imports and `import('…')` with a literal. `import type`/`export type` lines
 * are erased by Node and skipped.
 */
export function importSpecifiers(source: string): ImportSpecifier[] {
  const out: ImportSpecifier[] = [];
  const re = /(?:^|[;\n])\s*(import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s*)?['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)/dg;
  let m: RegExpExecArray | null;
  while ((m = re.exec(source))) {
    const group = m[4] ? 4 : m[3] && !m[2] ? 3 : undefined;
    if (group === undefined) continue;
    const [start, end] = m.indices![group]!;
    out.push({ specifier: m[group]!, start, end });
  }
  return out;
}

/** The specifiers alone, in source order. */
export function runtimeSpecifiers(source: string): string[] {
  return importSpecifiers(source).map((s) => s.specifier);
}

/** `@scope/name/sub` → `@scope/name`, `name/sub` → `name`; undefined for relative and builtin specifiers. */
export function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:')) return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** Source files reachable from `entry` by relative imports, and the packages they import. */
export function traceImports(root: string, entry: string): { files: string[]; packages: string[] } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (rel: string) => {
    if (files.has(rel)) return;
    files.add(rel);
    const source = readFileSync(path.join(root, rel), 'utf8');
    for (const spec of runtimeSpecifiers(source)) {
      const pkg = packageOf(spec);
      if (pkg) packages.add(pkg);
      else if (spec.startsWith('.')) visit(path.normalize(path.join(path.dirname(rel), spec)));
    }
  };
  visit(path.normalize(entry));
  return { files: [...files].sort(), packages: [...packages].sort() };
}

interface LockPackage {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  dev?: boolean;
  link?: boolean;
}

/**
 * Node's resolution as the lock file records it: from the folder `from`, the nearest
 * `<ancestor>/node_modules/<name>` entry that exists.
 */
export function resolveIn(packages: Record<string, LockPackage>, from: string, name: string): string | undefined {
  let dir = from;
  for (;;) {
    const candidate = dir ? `${dir}/node_modules/${name}` : `node_modules/${name}`;
    if (packages[candidate]) return candidate;
    if (!dir) return undefined;
    const i = dir.lastIndexOf('/node_modules/');
    dir = i >= 0 ? dir.slice(0, i) : dir.includes('/') ? dir.slice(0, dir.lastIndexOf('/')) : '';
  }
}

export function productionClosure(packages: Record<string, LockPackage>, roots: string[]): string[] {
  const seen = new Set<string>();
  const visit = (from: string, deps: Record<string, string>, optional: Set<string>) => {
    for (const name of Object.keys(deps)) {
      const found = resolveIn(packages, from, name);
      if (!found) {
        if (optional.has(name)) continue;
        throw new Error(`${name} (needed by ${from || 'the root'}) is not in package-lock.json`);
      }
      if (seen.has(found)) continue;
      seen.add(found);
      const pkg = packages[found]!;
      const peers = Object.fromEntries(
        Object.entries(pkg.peerDependencies ?? {}).filter(([n]) => resolveIn(packages, found, n) !== undefined),
      );
      visit(found, { ...pkg.dependencies, ...pkg.optionalDependencies, ...peers }, new Set([
        ...Object.keys(pkg.optionalDependencies ?? {}),
        ...Object.keys(pkg.peerDependencies ?? {}),
      ]));
    }
  };
  visit('', Object.fromEntries(roots.map((r) => [r, '*'])), new Set());
  return [...seen].sort();
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const entry = process.argv[2];
  if (!entry) {
    process.stderr.write('usage: node images/deps.ts <entry file>\n');
    process.exit(2);
  }
  const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
  const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockPackage> };
  const traced = traceImports(root, entry);
  for (const f of traced.files) process.stdout.write(`file ${f}\n`);
  for (const p of productionClosure(lock.packages, traced.packages)) process.stdout.write(`package ${p}\n`);
}
