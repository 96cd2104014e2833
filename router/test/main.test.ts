// The route service as a process (`node router/src/main.ts`), as the router Pod runs it: configuration
// checked at start (exit 2 naming the flag or variable), then serving against a (fake) API server,
// JSON logs without any token or key, SIGTERM → exit 0.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeApiServer } from '../../common/kube/testing/fake-apiserver.ts';
import { mintAccessToken, parseAccessKey } from '../../common/spawner/access.ts';
import { runRouterMain, startRouterProcess } from './support/process.ts';

jest.setTimeout(60_000);
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

describe('configuration', () => {
  // Paths are filled in once the files exist: KEY is a good key file, SHORT a key file too short.
  const withPaths = (v: string) => v.replace('KEY', keyFile).replace('SHORT', join(dir, 'short'));
  test.each<{ args: string[]; env?: Record<string, string>; names: string }>([
    { args: [], names: '--access-key-file (or SPAWNER_ACCESS_KEY_FILE) is required' },
    { args: ['--access-key-file=/nonexistent/key'], names: "--access-key-file = '/nonexistent/key' is invalid: cannot read /nonexistent/key (ENOENT)" },
    { args: [], env: { SPAWNER_ACCESS_KEY_FILE: 'SHORT' }, names: 'must be at least 32 bytes' },
    { args: ['--access-key-file=KEY', '--namespace=Spawner'], names: "--namespace = 'Spawner' is invalid" },
    { args: ['--access-key-file=KEY', '--port=http'], names: "--port = 'http' is invalid" },
    { args: ['--access-key-file=KEY', '--cookie-secure=maybe'], names: "--cookie-secure = 'maybe' is invalid" },
    { args: ['--access-key-file=KEY', '--bogus=1'], names: 'unknown flag --bogus' },
  ])('$names', async ({ args, env, names }) => {
    const p = runRouterMain(args.map(withPaths), Object.fromEntries(Object.entries(env ?? {}).map(([k, v]) => [k, withPaths(v)])));
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
    const p = await startRouterProcess([`--access-key-file=${keyFile}`, `--kubeconfig=${kubeconfig}`]);
    try {
      const ask = (path: string, headers: Record<string, string> = {}) => fetch(`http://${p.address}${path}`, { headers });
      await p.ready();
      const routed = await ask('/route', { 'x-spawner-name': 'room', 'x-spawner-rest': `/?token=${token}` });
      expect(routed.status).toBe(200);
      expect(routed.headers.get('x-spawner-upstream')).toBe('10.0.0.7:3000');
      expect((await ask('/route', { 'x-spawner-name': 'room', 'x-spawner-rest': '/' })).status).toBe(401);
      // A valid token for a name the API server does not know: one read, logged at debug with the name.
      expect((await ask('/route', { 'x-spawner-name': 'ghost', 'x-spawner-rest': `/?token=${ghost}` })).status).toBe(401);
    } finally {
      expect(await p.stop()).toBe(0);
    }
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
