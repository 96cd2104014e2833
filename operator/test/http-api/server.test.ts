// The HTTP API's own answers over a real loopback socket: authentication, routing, validation, size
// limits and an unreachable API server. What needs Kubernetes is in server.int.test.ts.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import { memoryLogger } from '../../../common/kube/testing/memlog.ts';
import { freePorts } from '../../../e2e/harness/net.ts';
import { startHttpApi, tokenMatches, type HttpApi } from '../../src/http-api/server.ts';

const token = 'test-token-0123456789abcdef';
let api: HttpApi;
let base: string;
const { log, lines } = memoryLogger();

beforeAll(async () => {
  // An API server address nothing listens on: requests that get past validation fail to connect.
  const [closed] = (await freePorts(1)) as [number];
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${closed}` }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  api = await startHttpApi({ port: 0, token, namespace: 'default', defaultImage: 'app:1', kubeConfig: kc, publicUrl: 'http://h', log, requestTimeoutMs: 5000 });
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
    ['POST', '/init', auth, '{}', 503, { error: expect.stringMatching(/the Kubernetes API server cannot be reached/) }, {}],
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

  test('refusals are logged with their status', () => {
    expect(lines.some((l) => l.msg === 'request refused' && l.status === 401)).toBe(true);
    expect(lines.some((l) => l.msg === 'request failed' && l.status === 503)).toBe(true);
  });
});
