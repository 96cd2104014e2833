import { describe, expect, test } from '@jest/globals';
import { HttpApiError, backendFromInit, backendNameParam, parseInitRequest, route, sameView, statusView } from '../../src/http-api/validate.ts';
import type { SessionLivedBackend } from '../../../common/spawner/types.ts';
import { DEFAULT_HTTP_API_LIMITS } from '../../src/http-api/config.ts';

// The shipped limits: grace at most 3600 s; lifetime 28800 s unless asked, at most 86400 s.
const defaults = { image: 'localhost/spawner/drop-four:0.1.0', ...DEFAULT_HTTP_API_LIMITS };

describe('parseInitRequest accepts', () => {
  test.each<[string, string, object]>([
    ['an empty body: every default, a lifetime included', '', { image: defaults.image, port: 8080, env: [], gracePeriodSeconds: 300, maxLifetimeSeconds: 28_800 }],
    ['{}', '{}', { image: defaults.image, port: 8080, env: [], gracePeriodSeconds: 300, maxLifetimeSeconds: 28_800 }],
    ['every field', '{"image":"a:1","port":3000,"env":{"MODE":"demo","X.Y":""},"gracePeriodSeconds":0,"maxLifetimeSeconds":3600}',
      { image: 'a:1', port: 3000, env: [{ name: 'MODE', value: 'demo' }, { name: 'X.Y', value: '' }], gracePeriodSeconds: 0, maxLifetimeSeconds: 3600 }],
    ['the largest values this API allows', '{"port":65535,"gracePeriodSeconds":3600,"maxLifetimeSeconds":86400}', { port: 65535, gracePeriodSeconds: 3600, maxLifetimeSeconds: 86_400 }],
    ['a claim from a pool, with the session\'s own limits', '{"pool":"games","gracePeriodSeconds":60,"maxLifetimeSeconds":600}', { pool: 'games', gracePeriodSeconds: 60, maxLifetimeSeconds: 600 }],
  ])('%s', (_what, body, expected) => expect(parseInitRequest(body, defaults)).toMatchObject(expected));

  test.each<[string, Partial<typeof defaults>, string, object]>([
    ['a maximum grace below the CRD default lowers the default', { maxGracePeriodSeconds: 60 }, '{}', { gracePeriodSeconds: 60 }],
    ['configured maxima up to the CRD\'s own', { maxGracePeriodSeconds: 31_536_000, maxLifetimeSeconds: 31_536_000 }, '{"gracePeriodSeconds":31536000,"maxLifetimeSeconds":31536000}', { gracePeriodSeconds: 31_536_000, maxLifetimeSeconds: 31_536_000 }],
    ['another default lifetime', { defaultMaxLifetimeSeconds: 600 }, '{}', { maxLifetimeSeconds: 600 }],
  ])('with other limits: %s', (_what, limits, body, expected) => expect(parseInitRequest(body, { ...defaults, ...limits })).toMatchObject(expected));
});

describe('the default pool', () => {
  const withPool = { ...defaults, pool: 'drop-four' };
  test.each<[string, string, string | undefined]>([
    ['an empty body claims from it', '', 'drop-four'],
    ['limits alone claim from it', '{"gracePeriodSeconds":60}', 'drop-four'],
    ['a pool named in the request wins', '{"pool":"chess"}', 'chess'],
    ['an image means a cold start', '{"image":"a:1"}', undefined],
    ['a port means a cold start', '{"port":3000}', undefined],
    ['environment variables mean a cold start (a member started before the session has none)', '{"env":{"ROOM":"7"}}', undefined],
  ])('%s', (_what, body, pool) => expect(parseInitRequest(body, withPool).pool).toBe(pool));
  test('without one, nothing is claimed', () => expect(parseInitRequest('', defaults).pool).toBeUndefined());
});

describe('parseInitRequest refuses with 400 naming the field', () => {
  test.each<[string, string, string | undefined, RegExp]>([
    ['bad JSON', '{"image":', undefined, /the body is not valid JSON/],
    ['an array', '[]', undefined, /the body must be a JSON object/],
    ['a string', '"x"', undefined, /the body must be a JSON object/],
    ['null', 'null', undefined, /the body must be a JSON object/],
    ['an unknown field', '{"imgae":"x"}', 'imgae', /imgae: unknown field; allowed: image, port, env, gracePeriodSeconds, maxLifetimeSeconds, pool/],
    ['per-session variables on a claim', '{"pool":"games","env":{"ROOM":"7"}}', 'env', /env: cannot be combined with pool: a pooled backend was started from the pool's template before this session existed, so per-session settings need a cold start; leave pool out/],
    ['an image on a claim', '{"pool":"games","image":"a:1"}', 'image', /image: cannot be combined with pool: the pool's template gives the image/],
    ['a port on a claim', '{"pool":"games","port":3000}', 'port', /port: cannot be combined with pool/],
    ['a pool that is no name', '{"pool":"Games!"}', 'pool', /pool: must be a WarmPool's name/],
    ['image not a string', '{"image":5}', 'image', /image: must be a non-empty image reference/],
    ['image with spaces', '{"image":"a b"}', 'image', /image: must be a non-empty image reference without spaces/],
    ['empty image', '{"image":""}', 'image', /image: must be a non-empty/],
    ['port 0', '{"port":0}', 'port', /port: must be a whole number from 1 to 65535 \(got 0\)/],
    ['port too big', '{"port":70000}', 'port', /port: must be a whole number from 1 to 65535/],
    ['port as a string', '{"port":"8080"}', 'port', /port: must be a whole number .* \(got "8080"\)/],
    ['port fractional', '{"port":80.5}', 'port', /port: must be a whole number/],
    ['port of the sidecar', '{"port":9090}', 'port', /port: 9090 is taken by the sidecar/],
    ['negative grace', '{"gracePeriodSeconds":-1}', 'gracePeriodSeconds', /gracePeriodSeconds: must be a whole number from 0 to 3600/],
    ['grace above this API\'s maximum', '{"gracePeriodSeconds":3601}', 'gracePeriodSeconds', /gracePeriodSeconds: must be a whole number from 0 to 3600 \(got 3601\)/],
    ['grace of a year', '{"gracePeriodSeconds":31536000}', 'gracePeriodSeconds', /gracePeriodSeconds: must be a whole number/],
    ['lifetime 0', '{"maxLifetimeSeconds":0}', 'maxLifetimeSeconds', /maxLifetimeSeconds: must be a whole number from 1 to 86400/],
    ['lifetime above this API\'s maximum', '{"maxLifetimeSeconds":86401}', 'maxLifetimeSeconds', /maxLifetimeSeconds: must be a whole number from 1 to 86400/],
    ['lifetime null', '{"maxLifetimeSeconds":null}', 'maxLifetimeSeconds', /maxLifetimeSeconds: must be a whole number .* \(got null\)/],
    ['env as a list', '{"env":["A=1"]}', 'env', /env: must be an object of NAME: "value" pairs/],
    ['env name', '{"env":{"1A":"x"}}', 'env.1A', /env.1A: not a valid variable name/],
    ['env PORT', '{"env":{"PORT":"1"}}', 'env.PORT', /env.PORT: PORT is set by Spawner from port/],
    ['env value not a string', '{"env":{"A":1}}', 'env.A', /env.A: must be a string \(got 1\)/],
  ])('%s', (_what, body, field, message) => {
    let error: unknown;
    try {
      parseInitRequest(body, defaults);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(HttpApiError);
    expect((error as HttpApiError).status).toBe(400);
    expect((error as HttpApiError).field).toBe(field);
    expect((error as HttpApiError).message).toMatch(message);
  });

  test('too many variables', () => {
    const env = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`V${i}`, 'x']));
    expect(() => parseInitRequest(JSON.stringify({ env }), defaults)).toThrow(/env: at most 64 variables/);
  });
});

test('backendFromInit builds a claim: poolRef and the session\'s limits only', () => {
  expect(backendFromInit({ image: 'ignored', port: 8080, env: [], gracePeriodSeconds: 60, maxLifetimeSeconds: 600, pool: 'games' }, 'sessions')).toEqual({
    apiVersion: 'spawner.dev/v1',
    kind: 'SessionLivedBackend',
    metadata: { generateName: 'session-', namespace: 'sessions', labels: { 'app.kubernetes.io/created-by': 'spawner-http-api' }, finalizers: ['spawner.dev/teardown'] },
    spec: { poolRef: { name: 'games' }, gracePeriodSeconds: 60, maxLifetimeSeconds: 600 },
  });
});

test('backendFromInit builds the SLB the operator expects', () => {
  expect(backendFromInit({ image: 'a:1', port: 3000, env: [{ name: 'A', value: '1' }], gracePeriodSeconds: 60, maxLifetimeSeconds: 600 }, 'sessions')).toEqual({
    apiVersion: 'spawner.dev/v1',
    kind: 'SessionLivedBackend',
    metadata: { generateName: 'session-', namespace: 'sessions', labels: { 'app.kubernetes.io/created-by': 'spawner-http-api' }, finalizers: ['spawner.dev/teardown'] },
    spec: {
      template: { containers: [{ name: 'app', image: 'a:1', env: [{ name: 'A', value: '1' }] }] },
      httpPort: 3000,
      gracePeriodSeconds: 60,
      maxLifetimeSeconds: 600,
    },
  });
});

describe('route', () => {
  test.each<[string, string, object]>([
    ['POST', '/init', { kind: 'init' }],
    ['POST', '/init?x=1', { kind: 'init' }],
    ['GET', '/healthz', { kind: 'health' }],
    ['GET', '/backends/game-1/status', { kind: 'status', name: 'game-1' }],
    ['GET', '/backends/game-1/status/stream', { kind: 'stream', name: 'game-1' }],
    ['DELETE', '/backends/game-1', { kind: 'delete', name: 'game-1' }],
  ])('%s %s', (method, path, expected) => expect(route(method, path)).toEqual(expected));

  test.each<[string, string, number, string | undefined, RegExp]>([
    ['GET', '/init', 405, 'POST', /GET \/init is not allowed: it takes POST/],
    ['POST', '/backends/g/status', 405, 'GET', /it takes GET/],
    ['GET', '/backends/g', 405, 'DELETE', /it takes DELETE/],
    ['GET', '/', 404, undefined, /no route GET \//],
    ['GET', '/backends/g/other', 404, undefined, /no route/],
    ['GET', '/backends/Bad_Name/status', 400, undefined, /name: is not a valid backend name/],
    ['GET', '/backends/a%2Fb/status', 400, undefined, /name: is not a valid backend name/],
    ['GET', '/backends/%E0%A4%A/status', 400, undefined, /name: is not a valid backend name/],
  ])('%s %s → %d', (method, path, status, allow, message) => {
    let error: HttpApiError | undefined;
    try {
      route(method, path);
    } catch (err) {
      error = err as HttpApiError;
    }
    expect(error?.status).toBe(status);
    expect(error?.allow).toBe(allow);
    expect(error?.message).toMatch(message);
  });

  test('backendNameParam decodes', () => expect(backendNameParam('game%2D1')).toBe('game-1'));
});

describe('statusView', () => {
  const base = { apiVersion: 'spawner.dev/v1', kind: 'SessionLivedBackend', metadata: { name: 'g' }, spec: { template: { containers: [] } } } as unknown as SessionLivedBackend;
  test.each<[string, SessionLivedBackend['status'], object]>([
    ['no status yet', undefined, { phase: 'Pending', url: null, reason: null, message: null }],
    ['ready', { phase: 'Ready', url: 'http://h/p/g/' }, { phase: 'Ready', url: 'http://h/p/g/', reason: null, message: null }],
    ['failed', { phase: 'Failed', reason: 'StartupTimeout', message: 'm' }, { phase: 'Failed', url: null, reason: 'StartupTimeout', message: 'm' }],
  ])('%s', (_what, status, view) => expect(statusView({ ...base, ...(status ? { status } : {}) })).toEqual(view));

  test('sameView compares every field', () => {
    const v = { phase: 'Pending', url: null, reason: null, message: null };
    expect(sameView(undefined, v)).toBe(false);
    expect(sameView({ ...v }, v)).toBe(true);
    expect(sameView({ ...v, message: 'x' }, v)).toBe(false);
  });
});
