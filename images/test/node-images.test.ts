// Every Node image runs JavaScript made at build time: its app layer, staged by the script both
// builds use (images/stage-app.sh), holds no `.ts` outside node_modules, and its start path loads
// with type stripping switched off, started exactly as the image's ENTRYPOINT starts it. The
// Dockerfile's ENTRYPOINT lines are the ones images/node-images.ts gives.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { MAIN, NODE, NODE_IMAGES, entrypoint } from '../node-images.ts';

jest.setTimeout(120_000);

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');
const nodeBin = path.join(root, 'node_modules/node/bin/node');

// Images whose entry another branch is still adding are not in this checkout (build.sh skips them too).
const present = Object.entries(NODE_IMAGES).filter(([, image]) => existsSync(path.join(root, image.entry)));

function filesOutsideNodeModules(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => !f.split(path.sep).includes('node_modules'));
}

describe.each(present)('the %s image', (name, image) => {
  let dest = '';
  beforeAll(async () => {
    dest = mkdtempSync(path.join(os.tmpdir(), `stage-${name}-`));
    await run('bash', [path.join(root, 'images/stage-app.sh'), image.workspace, image.entry, dest], { env: { ...process.env, NODE: nodeBin } });
  });
  afterAll(() => rmSync(dest, { recursive: true, force: true }));

  test('holds JavaScript only: no .ts file outside node_modules, main.js links to the compiled entry', () => {
    const files = filesOutsideNodeModules(path.join(dest, 'app'));
    expect(files.filter((f) => f.endsWith('.ts'))).toEqual([]);
    expect(files.filter((f) => f.endsWith('.js')).length).toBeGreaterThan(0);
    expect(readlinkSync(path.join(dest, 'app/main.js'))).toBe(image.entry.replace(/\.ts$/, '.js'));
  });

  test('starts as its ENTRYPOINT says, with type stripping off: every module of the start path loads', async () => {
    const [node, ...args] = entrypoint(name);
    expect(node).toBe(NODE);
    expect(args).toContain('--no-experimental-strip-types');
    expect(args.at(-1)).toBe(MAIN);
    // Static imports are all loaded before the entry's first line runs; --help then exits 0.
    const local = args.map((a) => (a === MAIN ? path.join(dest, 'app/main.js') : a));
    const { stdout } = await run(nodeBin, [...local, '--help'], { cwd: path.join(dest, 'app') });
    expect(stdout).toMatch(/usage|--/i);
  });
});

test('the Dockerfile starts each Node image as images/node-images.ts says', () => {
  const dockerfile = readFileSync(path.join(root, 'images/Dockerfile.node'), 'utf8');
  const stages = new Map<string, string[]>();
  let stage = '';
  for (const line of dockerfile.split('\n')) {
    const from = /^FROM\s+\S+\s+AS\s+(\S+)/i.exec(line);
    if (from) stage = from[1]!;
    const entry = /^ENTRYPOINT\s+(\[.*\])\s*$/.exec(line);
    if (entry) stages.set(stage, JSON.parse(entry[1]!) as string[]);
  }
  for (const name of Object.keys(NODE_IMAGES)) expect([name, stages.get(name)]).toEqual([name, entrypoint(name)]);
});

// A V8 flag that changes how code is made (--max-opt, --no-maglev, --lite-mode, --single-threaded…)
// changes V8's hash of its flags, and V8 then rejects the code cache Node carries for its own modules:
// each one the process loads is compiled from source instead (the sidecar: 35 modules, its start 62 →
// 77 ms here). The sidecar's start has a target (sidecar/README.md), so its flags must keep the cache.
describe("Node's code cache of its own modules", () => {
  async function codeCacheLines(nodeArgs: string[]): Promise<string[]> {
    const { stdout, stderr } = await run(nodeBin, [...nodeArgs, '-e', '0'], { env: { ...process.env, NODE_OPTIONS: '', NODE_DEBUG_NATIVE: 'CODE_CACHE' } });
    return `${stdout}${stderr}`.split('\n').filter((l) => /^Code cache of .* is (accepted|rejected)/.test(l));
  }
  const sidecarArgs = entrypoint('sidecar').slice(1, -1);

  test('is used with the sidecar image\'s Node flags', async () => {
    const lines = await codeCacheLines(sidecarArgs);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.filter((l) => l.endsWith('rejected'))).toEqual([]);
  });

  test('is rejected once a flag like --max-opt=1 is added (what the test above guards against)', async () => {
    const lines = await codeCacheLines([...sidecarArgs, '--max-opt=1']);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.filter((l) => l.endsWith('accepted'))).toEqual([]);
  });
});
