// The HTTP API's own answers over a real loopback socket: authentication, routing, validation, size
// limits and an unreachable API server. What needs Kubernetes is in server.int.test.ts.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import { memoryLogger } from '../../../common/kube/testing/memlog.ts';
import { freePorts } from '../../../e2e/harness/net.ts';
import { DEFAULT_HTTP_API_LIMITS } from '../../src/http-api/config.ts';
import { startHttpApi, tokenMatches, type HttpApi } from '../../src/http-api/server.ts';
import { testAccessKey } from '../fixtures.ts';

const token = 'test-token-0123456789abcdef';
let api: HttpApi;
let base: string;
let closedPort = 0;
let kc: KubeConfig;
const { log, lines } = memoryLogger();

beforeAll(async () => {
  // An API server address nothing listens on: requests that get past validation fail to connect.
  [closedPort] = (await freePorts(1)) as [number];
  kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${closedPort}` }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  api = await startHttpApi({ port: 0, token, namespace: 'default', defaultImage: 'app:1', limits: DEFAULT_HTTP_API_LIMITS, kubeConfig: kc, publicUrl: 'http://h', accessKey: testAccessKey, log, requestTimeoutMs: 5000 });
  base = `http://127.0.0.1:${api.port}`;
});

afterAll(async () => api?.close());

const auth = { Authorization: `Bearer ${token}` };

describe('tokenMatches', () => {
  test.each<[string | undefined, boolean]>([
    [undefined, false],
    ['', false],
    [token, false],
    [`Basic ${token}`, false],
    [`Bearer ${token}x`, false],
    [`Bearer ${token.slice(0, -1)}`, false],
    [`Bearer ${token}`, true],
    [`bearer  ${token}`, true],
  ])('%j → %s', (header, ok) => expect(tokenMatches(header, token)).toBe(ok));
});

describe('answers without Kubernetes', () => {
  test.each<[string, string, Record<string, string>, string | undefined, number, Record<string, unknown>, Record<string, string>]>([
    ['GET', '/healthz', {}, undefined, 200, { ok: true }, {}],
    ['POST', '/init', {}, '{}', 401, { error: expect.stringMatching(/missing or wrong bearer token/) }, { 'www-authenticate': 'Bearer realm="spawner"' }],
    ['POST', '/init', { Authorization: 'Bearer wrong-token-wrong-token' }, '{}', 401, { error: expect.stringMatching(/bearer token/) }, {}],
    ['GET', '/backends/g/status', {}, undefined, 401, { error: expect.stringMatching(/bearer token/) }, {}],
    ['GET', '/nowhere', {}, undefined, 401, { error: expect.stringMatching(/bearer token/) }, {}],
    ['DELETE', '/backends/Bad', {}, undefined, 401, { error: expect.stringMatching(/bearer token/) }, {}],
    ['POST', '/init', auth, '{"port":', 400, { error: expect.stringMatching(/not valid JSON/) }, {}],
    ['POST', '/init', auth, '{"colour":"red"}', 400, { field: 'colour', error: expect.stringMatching(/unknown field/) }, {}],
    ['POST', '/init', auth, '{"port":0}', 400, { field: 'port', error: expect.stringMatching(/from 1 to 65535/) }, {}],
    ['POST', '/init', auth, '{"gracePeriodSeconds":-5}', 400, { field: 'gracePeriodSeconds' }, {}],
    ['GET', '/init', auth, undefined, 405, { error: expect.stringMatching(/it takes POST/) }, { allow: 'POST' }],
    ['GET', '/backends/Bad/status', auth, undefined, 400, { field: 'name' }, {}],
    ['GET', '/nowhere', auth, undefined, 404, { error: expect.stringMatching(/no route GET \/nowhere/) }, {}],
    ['POST', '/init', auth, '{"gracePeriodSeconds":7200}', 400, { field: 'gracePeriodSeconds', error: expect.stringMatching(/from 0 to 3600/) }, {}],
    ['POST', '/init', auth, '{}', 503, { error: 'the cluster cannot be reached right now; try again shortly' }, { 'retry-after': '5' }],
    ['GET', '/backends/g/status', auth, undefined, 503, { error: expect.stringMatching(/cannot be reached/) }, {}],
  ])('%s %s %j %s → %d', async (method, path, headers, body, status, json, expectHeaders) => {
    const res = await fetch(base + path, { method, headers: { 'Content-Type': 'application/json', ...headers }, body });
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.json()).toEqual(expect.objectContaining(json));
    for (const [k, v] of Object.entries(expectHeaders)) expect(res.headers.get(k)).toBe(v);
  });

  test('a body over 64 KiB is refused with 413', async () => {
    const res = await fetch(`${base}/init`, { method: 'POST', headers: auth, body: JSON.stringify({ image: 'x'.repeat(70_000) }) });
    expect(res.status).toBe(413);
  });

  test('refusals are logged with their status; the log, not the caller, gets what the cluster said', async () => {
    expect(lines.some((l) => l.msg === 'request refused' && l.status === 401)).toBe(true);
    const failed = lines.find((l) => l.msg === 'request failed' && l.status === 503)!;
    expect(failed.detail).toEqual(expect.stringMatching(/\w/));
    const res = await fetch(`${base}/init`, { method: 'POST', headers: auth, body: '{}' });
    const answer = await res.text();
    expect(answer).not.toContain(String(failed.detail));
    expect(answer).not.toContain(String(closedPort));
  });
});

describe('bounds per token', () => {
  let tight: HttpApi;
  let tightBase: string;
  beforeAll(async () => {
    const limits = { ...DEFAULT_HTTP_API_LIMITS, initPerSecond: 0.01, initBurst: 2 };
    tight = await startHttpApi({ port: 0, token, namespace: 'default', defaultImage: 'app:1', limits, kubeConfig: kc, publicUrl: 'http://h', accessKey: testAccessKey, log, requestTimeoutMs: 5000 });
    tightBase = `http://127.0.0.1:${tight.port}`;
  });
  afterAll(async () => tight?.close());

  test('POST /init beyond its burst is answered 429 with Retry-After, before anything reaches the cluster', async () => {
    const post = () => fetch(`${tightBase}/init`, { method: 'POST', headers: auth, body: '{}' });
    expect((await post()).status).toBe(503); // admitted (the cluster is unreachable here)
    expect((await post()).status).toBe(503);
    const refused = await post();
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await refused.json()).toEqual({ error: expect.stringMatching(/too many backends requested: at most 0.01 per second \(bursts of 2\)/) });
  });
});
