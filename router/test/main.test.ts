// The route service as a process (`node router/src/main.ts`), as the router Pod runs it: configuration
// checked at start (exit 2 naming the flag or variable), then serving against a (fake) API server,
// JSON logs without any token or key, SIGTERM → exit 0.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FakeApiServer } from '../../common/kube/testing/fake-apiserver.ts';
import { mintAccessToken, parseAccessKey } from '../../common/spawner/access.ts';

jest.setTimeout(60_000);
const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const NS = 'spawner-backends';

let dir: string;
let keyFile: string;
const keyHex = randomBytes(32).toString('hex');
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'router-main-'));
  keyFile = join(dir, 'key');
  writeFileSync(keyFile, `${keyHex}\n`);
  writeFileSync(join(dir, 'short'), 'too short');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [MAIN, ...args], {
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'debug', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return { child, exited, out: () => stdout, err: () => stderr };
}

describe('configuration', () => {
  // Paths are filled in once the files exist: KEY is a good key file, SHORT a key file too short.
  const withPaths = (v: string) => v.replace('KEY', keyFile).replace('SHORT', join(dir, 'short'));
  test.each<{ args: string[]; env?: Record<string, string>; names: string }>([
    { args: [], names: '--access-key-file (or SPAWNER_ACCESS_KEY_FILE) is required' },
    { args: ['--access-key-file=/nonexistent/key'], names: "--access-key-file = '/nonexistent/key' is invalid: cannot read the file (ENOENT)" },
    { args: [], env: { SPAWNER_ACCESS_KEY_FILE: 'SHORT' }, names: 'must be at least 32 bytes' },
    { args: ['--access-key-file=KEY', '--namespace=Spawner'], names: "--namespace = 'Spawner' is invalid" },
    { args: ['--access-key-file=KEY', '--port=http'], names: "--port = 'http' is invalid" },
    { args: ['--access-key-file=KEY', '--cookie-secure=maybe'], names: "--cookie-secure = 'maybe' is invalid" },
    { args: ['--access-key-file=KEY', '--bogus=1'], names: 'unknown flag --bogus' },
  ])('$names', async ({ args, env, names }) => {
    const p = run(args.map(withPaths), Object.fromEntries(Object.entries(env ?? {}).map(([k, v]) => [k, withPaths(v)])));
    expect(await p.exited).toBe(2);
    expect(p.err()).toContain(names);
  });
});

describe('process', () => {
  const resource = { prefix: '/apis/spawner.dev/v1', plural: 'sessionlivedbackends' };
  let api: FakeApiServer;
  beforeAll(async () => {
    api = new FakeApiServer([resource]);
    await api.start();
  });
  afterAll(async () => api?.close());

  test('serves routes once its cache is synced, logs JSON without secrets, exits 0 on SIGTERM', async () => {
    const uid = randomUUID();
    const obj = { apiVersion: 'spawner.dev/v1', kind: 'SessionLivedBackend', metadata: { name: 'room', namespace: NS }, spec: { httpPort: 3000, sidecar: { enabled: false } }, status: { phase: 'Ready', podIP: '10.0.0.7' } };
    api.create(resource, obj);
    api.update(resource, { ...obj, metadata: { ...obj.metadata, uid } });
    const token = mintAccessToken(parseAccessKey(Buffer.from(keyHex)), { namespace: NS, name: 'room', uid });
    const kubeconfig = join(dir, 'kubeconfig.json');
    writeFileSync(kubeconfig, api.kubeConfig().exportConfig());

    const ghost = mintAccessToken(parseAccessKey(Buffer.from(keyHex)), { namespace: NS, name: 'ghost', uid: randomUUID() });
    const p = run([`--access-key-file=${keyFile}`, `--kubeconfig=${kubeconfig}`, '--port=0', '--health-port=0', '--shutdown-delay-seconds=0']);
    try {
      let started: { address: string; healthPort: number } | undefined;
      const deadline = Date.now() + 30_000;
      while (!started && Date.now() < deadline) {
        const line = p.out().split('\n').find((l) => l.includes('route service listening'));
        if (line) started = JSON.parse(line);
        else await new Promise((r) => setTimeout(r, 50));
      }
      expect(started).toBeDefined();
      const ask = (path: string, headers: Record<string, string> = {}) => fetch(`http://${started!.address}${path}`, { headers });
      let ready = 0;
      while (ready !== 200 && Date.now() < deadline) {
        ready = (await fetch(`http://127.0.0.1:${started!.healthPort}/readyz`)).status;
      }
      expect(ready).toBe(200);
      const routed = await ask('/route', { 'x-spawner-name': 'room', 'x-spawner-rest': `/?token=${token}` });
      expect(routed.status).toBe(200);
      expect(routed.headers.get('x-spawner-upstream')).toBe('10.0.0.7:3000');
      expect((await ask('/route', { 'x-spawner-name': 'room', 'x-spawner-rest': '/' })).status).toBe(401);
      // A valid token for a name the API server does not know: one read, logged at debug with the name.
      expect((await ask('/route', { 'x-spawner-name': 'ghost', 'x-spawner-rest': `/?token=${ghost}` })).status).toBe(401);
    } finally {
      p.child.kill('SIGTERM');
    }
    expect(await p.exited).toBe(0);
    const lines = p.out().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.every((l) => l.component === 'router')).toBe(true);
    expect(lines.find((l) => l.msg === 'route answer' && l.name === 'ghost')).toMatchObject({ namespace: NS, verdict: 'ended', looked: true });
    expect(lines.map((l) => l.msg)).toContain('stopping');
    const everything = p.out() + p.err();
    expect(everything).not.toContain(token);
    expect(everything).not.toContain(ghost);
    expect(everything).not.toContain(keyHex);
  });
});
