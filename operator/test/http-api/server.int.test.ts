// Every route of the HTTP API against the harness's real API server: the operator runs as a local
// process with --api, impersonating its service account bound by rbac.yaml and api-rbac.yaml, so the
// API's permissions are exactly the manifests'. Backends turn Ready on kwok nodes.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import type { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { apiClients, kubectl, loadKubeConfig, waitFor } from '../../../e2e/harness/kube.ts';
import {
  createNamespace, deleteNamespaceWithBackends, installOperatorRbac, invitation, operatorKubeconfig, operatorMain, operatorNamespace, startOperator, tempDir,
  type OperatorProcess,
} from '../support/operator-process.ts';
import { getSlb } from '../support/slbs.ts';

jest.setTimeout(180_000);

const repoRoot = path.resolve(import.meta.dirname, '../../..');
const token = 'integration-token-0123456789abcdef';
const auth = { Authorization: `Bearer ${token}` };
let kc: KubeConfig;
let core: CoreV1Api;
let custom: CustomObjectsApi;
let ns = '';
let operator: OperatorProcess | undefined;
let base = '';

beforeAll(async () => {
  kc = loadKubeConfig();
  ({ core, custom } = apiClients(kc));
  const dir = await tempDir('spawner-http-api-');
  ns = await createNamespace(core, 'http-api');
  await installOperatorRbac();
  await kubectl(['apply', '-n', operatorNamespace, '-f', path.join(repoRoot, 'manifests/operator/api-rbac.yaml')]);
  operator = await startOperator({
    kubeconfig: await operatorKubeconfig(kc, dir),
    dir,
    identity: 'http-api-test',
    watchNamespace: ns,
    leaderElect: false,
    extraArgs: ['--api=true', '--api-port=0', `--api-namespace=${ns}`, '--api-default-image=example.invalid/default-app:1', '--api-max-streams=1'],
    env: { SPAWNER_API_TOKEN: token },
  });
  await operator.ready(120_000);
  base = `http://127.0.0.1:${(await operator.ports()).api}`;
  await waitFor(async () => (await fetch(`${base}/healthz`)).ok || undefined, { what: 'the HTTP API to answer', timeoutMs: 60_000 });
}, 300_000);

afterAll(async () => {
  if (core && ns) await deleteNamespaceWithBackends(core, ns);
  await operator?.stop();
}, 180_000);

async function call(method: string, p: string, body?: unknown, headers: Record<string, string> = auth) {
  const res = await fetch(base + p, { method, headers: { 'Content-Type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function init(body: unknown = {}): Promise<string> {
  const r = await call('POST', '/init', body);
  expect(r.status).toBe(201);
  return r.json.name as string;
}

// Reads Server-Sent Events until `until` says stop or the stream ends.
async function readEvents(p: string, until: (events: Array<{ event: string; data: Record<string, unknown> }>) => boolean, onOpen?: () => Promise<void>) {
  const ac = new AbortController();
  const res = await fetch(base + p, { headers: auth, signal: ac.signal });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/event-stream');
  const events: Array<{ event: string; data: Record<string, unknown> }> = [];
  let buffer = '';
  const decoder = new TextDecoder();
  const reader = res.body!.getReader();
  let opened = false;
  let ended = false;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        ended = true;
        break;
      }
      buffer += decoder.decode(value, { stream: true });
      let cut: number;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event && data) events.push({ event, data: JSON.parse(data) as Record<string, unknown> });
      }
      if (!opened && events.length > 0) {
        opened = true;
        if (onOpen) void onOpen();
      }
      if (until(events)) break;
    }
  } finally {
    ac.abort();
  }
  return { events, ended };
}

describe('POST /init', () => {
  test('an empty body: the default image, 201 with name, url and statusUrl', async () => {
    const r = await call('POST', '/init', {});
    expect(r.status).toBe(201);
    const name = r.json.name as string;
    expect(name).toMatch(/^session-[a-z0-9]{5}$/);
    const slb = await getSlb(custom, ns, name);
    // The invitation at once, before the backend is even Ready: its token names the created object's uid.
    expect(r.json).toEqual({ name, url: invitation(ns, name, slb!.metadata.uid!), statusUrl: `/backends/${name}/status` });
    expect(slb?.spec.template?.containers[0]).toMatchObject({ name: 'app', image: 'example.invalid/default-app:1' });
    expect(slb?.metadata.labels).toMatchObject({ 'app.kubernetes.io/created-by': 'spawner-http-api' });
    // Every backend of the API has a lifetime, the configured default when the request names none.
    expect(slb?.spec).toMatchObject({ gracePeriodSeconds: 300, maxLifetimeSeconds: 28_800 });
  });

  test('every field reaches the SessionLivedBackend', async () => {
    const name = await init({ image: 'example.invalid/app:2', port: 3000, env: { MODE: 'demo' }, gracePeriodSeconds: 60, maxLifetimeSeconds: 3600 });
    const slb = await getSlb(custom, ns, name);
    expect(slb?.spec).toMatchObject({ httpPort: 3000, gracePeriodSeconds: 60, maxLifetimeSeconds: 3600 });
    expect(slb?.spec.template?.containers[0]).toMatchObject({ image: 'example.invalid/app:2', env: [{ name: 'MODE', value: 'demo' }] });
  });

  test('{"pool": NAME}: a claim, Ready with the member it was handed', async () => {
    await kubectl(['create', '-n', ns, '-f', '-'], { input: 'apiVersion: spawner.dev/v1\nkind: WarmPool\nmetadata: {name: games}\nspec: {replicas: 1, template: {containers: [{name: app, image: example.invalid/game:1}]}}\n' });
    await waitFor(async () => (await kubectl(['get', 'wp', 'games', '-n', ns, '-o', 'jsonpath={.status.readyReplicas}'])) === '1' || undefined, { what: 'the pool to fill', timeoutMs: 120_000 });
    const name = await init({ pool: 'games', gracePeriodSeconds: 60 });
    const slb = await waitFor(async () => {
      const s = await getSlb(custom, ns, name);
      return s?.status?.phase === 'Ready' ? s : undefined;
    }, { what: `${name} Ready`, timeoutMs: 120_000 });
    expect(slb.spec).toEqual({ poolRef: { name: 'games' }, gracePeriodSeconds: 60, maxLifetimeSeconds: 28_800 }); // the API's default lifetime
    expect(slb.status?.conditions?.find((c) => c.type === 'PoolClaim')?.reason).toBe('ClaimedWarm');
  });

  test.each<[string, unknown, string | undefined]>([
    ['per-session variables on a claim (they need a cold start)', { pool: 'games', env: { ROOM: '7' } }, 'env'],
    ['an unknown field', { image: 'a', replicas: 2 }, 'replicas'],
    ['an out-of-range port', { port: 70000 }, 'port'],
    ['a negative grace period', { gracePeriodSeconds: -1 }, 'gracePeriodSeconds'],
    ['a grace period above the API\'s maximum', { gracePeriodSeconds: 7200 }, 'gracePeriodSeconds'],
    ['a lifetime above the API\'s maximum', { maxLifetimeSeconds: 90_000 }, 'maxLifetimeSeconds'],
  ])('400 for %s, naming the field; nothing is created', async (_what, body, field) => {
    const before = (await custom.listNamespacedCustomObject({ group: 'spawner.dev', version: 'v1', namespace: ns, plural: 'sessionlivedbackends' })) as { items: unknown[] };
    const r = await call('POST', '/init', body);
    expect(r.status).toBe(400);
    expect(r.json.field).toBe(field);
    const after = (await custom.listNamespacedCustomObject({ group: 'spawner.dev', version: 'v1', namespace: ns, plural: 'sessionlivedbackends' })) as { items: unknown[] };
    expect(after.items.length).toBe(before.items.length);
  });

  test('401 without the token', async () => {
    expect((await call('POST', '/init', {}, {})).status).toBe(401);
  });
});

describe('GET /backends/:name/status', () => {
  test('Pending, then Ready with its url', async () => {
    const name = await init();
    const first = await call('GET', `/backends/${name}/status`);
    expect(first.status).toBe(200);
    expect(Object.keys(first.json).sort()).toEqual(['message', 'phase', 'reason', 'url']);
    const ready = await waitFor(
      async () => {
        const r = await call('GET', `/backends/${name}/status`);
        return r.json.phase === 'Ready' ? r.json : undefined;
      },
      { what: `${name} to be Ready through the API`, timeoutMs: 120_000, intervalMs: 250 },
    );
    const uid = (await getSlb(custom, ns, name))!.metadata.uid!;
    expect(ready).toEqual({ phase: 'Ready', url: invitation(ns, name, uid), reason: null, message: null });
  });

  test('404 for a backend that does not exist', async () => {
    const r = await call('GET', '/backends/no-such-backend/status');
    expect(r).toEqual({ status: 404, json: { error: 'backend "no-such-backend" not found' } });
  });
});

describe('GET /backends/:name/status/stream and DELETE /backends/:name', () => {
  test('phase changes as events, then `deleted` and the end of the stream after DELETE', async () => {
    const name = await init();
    let deleteStatus = 0;
    const { events, ended } = await readEvents(
      `/backends/${name}/status/stream`,
      () => false, // read until the server ends the stream
      async () => {
        await waitFor(async () => ((await call('GET', `/backends/${name}/status`)).json.phase === 'Ready' ? true : undefined), {
          what: `${name} to be Ready`,
          timeoutMs: 120_000,
          intervalMs: 250,
        });
        const d = await call('DELETE', `/backends/${name}`);
        deleteStatus = d.status;
        expect(d.json).toEqual({ name, phase: 'Terminating' });
      },
    );
    expect(ended).toBe(true);
    expect(deleteStatus).toBe(202);
    const phases = events.filter((e) => e.event === 'status').map((e) => e.data.phase);
    expect(phases).toContain('Ready');
    expect(events[events.length - 1]).toEqual({ event: 'deleted', data: { name } });
    // Consecutive status events always differ: changes only.
    for (let i = 1; i < events.length; i++) expect(events[i]).not.toEqual(events[i - 1]);
    await waitFor(async () => ((await getSlb(custom, ns, name)) === undefined ? true : undefined), { what: `${name} to be gone`, timeoutMs: 120_000 });
  });

  test('404 for the stream and the DELETE of a backend that does not exist', async () => {
    const stream = await fetch(`${base}/backends/no-such-backend/status/stream`, { headers: auth });
    expect(stream.status).toBe(404);
    expect(await stream.json()).toEqual({ error: 'backend "no-such-backend" not found' });
    expect((await call('DELETE', '/backends/no-such-backend')).status).toBe(404);
  });
});

test('the operator refuses to start with the API on and no token, naming the variable', async () => {
  const child = spawn(process.execPath, [operatorMain, '--api=true', '--kubeconfig=/dev/null'], {
    cwd: repoRoot,
    env: { ...process.env, SPAWNER_API_TOKEN: '', KUBECONFIG: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  expect(code).toBe(2);
  expect(stderr).toContain('SPAWNER_API_TOKEN (or --api-token) is required when the HTTP API is enabled');
});

describe('open status streams per token', () => {
  test('beyond --api-max-streams (1 here) a stream is refused with 429 and Retry-After; once one closes, another opens', async () => {
    const name = await init();
    const first = new AbortController();
    const open = await fetch(`${base}/backends/${name}/status/stream`, { headers: auth, signal: first.signal });
    expect(open.status).toBe(200);
    const refused = await fetch(`${base}/backends/${name}/status/stream`, { headers: auth });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await refused.json()).toEqual({ error: expect.stringMatching(/too many status streams open: at most 1/) });
    first.abort();
    await waitFor(
      async () => {
        const ac = new AbortController();
        const again = await fetch(`${base}/backends/${name}/status/stream`, { headers: auth, signal: ac.signal });
        ac.abort();
        return again.status === 200 ? true : undefined;
      },
      { what: 'a stream to open once the first one closed', timeoutMs: 30_000, intervalMs: 250 },
    );
  });
});
