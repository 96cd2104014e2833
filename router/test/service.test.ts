import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { WebSocket } from 'ws';
import { createLogger } from '../../common/log.ts';
import { mintAccessToken, parseAccessKey } from '../../common/spawner/access.ts';
import { freePorts } from '../../e2e/harness/net.ts';
import type { PodLike, RouteEntry } from '../src/decide.ts';
import { listeningRouter, tcpConnects, type ListeningRouter } from '../src/listening.ts';
import { decide, startRouteService, type RouteService } from '../src/service.ts';
import { StaticRouteTable } from '../src/table.ts';
import { closeFrame } from '../src/ws-close.ts';

const NS = 'spawner-backends';
const key = parseAccessKey(randomBytes(32));
const log = createLogger('router-test', 'silent');
const SELF = '127.0.0.1:8090';
const room: RouteEntry = { name: 'room', uid: '0b6f1c2e-8f51-4a57-9a43-1d2e3f4a5b6c', phase: 'Ready', deleting: false, podIP: '10.0.0.7', port: 8080, public: false };
const token = mintAccessToken(key, { namespace: NS, name: room.name, uid: room.uid });
const ask = (name: string, rest: string, extra: Record<string, string> = {}) => ({ 'x-spawner-name': name, 'x-spawner-rest': rest, ...extra });

function setup(entries: RouteEntry[], fresh: (name: string) => Promise<RouteEntry | undefined> = async () => undefined, listening?: ListeningRouter) {
  const table = new StaticRouteTable(entries);
  const reads: string[] = [];
  const o = {
    namespace: NS,
    key,
    table,
    listening,
    cookieSecure: 'auto' as const,
    log,
    fresh: (name: string) => {
      reads.push(name);
      return fresh(name);
    },
  };
  return { table, reads, decide: (headers: Record<string, string>) => decide(o, headers, SELF) };
}

describe('decide', () => {
  test('Ready with a token in the query: route, the URI without the token, and the cookie to set', async () => {
    const s = setup([room]);
    const a = await s.decide(ask('room', `/ws?x=1&token=${token}`, { cookie: 'a=1' }));
    expect(a).toEqual({
      status: 200,
      verdict: 'route',
      looked: false,
      headers: {
        'x-spawner-verdict': 'route',
        'x-spawner-upstream': '10.0.0.7:8080',
        'x-spawner-uri': '/ws?x=1',
        'x-spawner-cookie': 'a=1',
        'x-spawner-referer': '',
        'x-spawner-set-cookie': `spawner_token=${token}; Path=/p/room/; HttpOnly; SameSite=Lax`,
      },
    });
  });

  test('the cookie alone: route, no new cookie', async () => {
    const a = await setup([room]).decide(ask('room', '/', { cookie: `spawner_token=${token}` }));
    expect(a.status).toBe(200);
    expect(a.headers['x-spawner-set-cookie']).toBe('');
    expect(a.headers['x-spawner-cookie']).toBe('');
  });

  test('a token in the URL takes precedence over the cookie (an invitation just followed)', async () => {
    const a = await setup([room]).decide(ask('room', `/?token=${'A'.repeat(44)}`, { cookie: `spawner_token=${token}` }));
    expect(a.status).toBe(401);
  });

  test('the cookie is Secure when nginx served https', async () => {
    const a = await setup([room]).decide(ask('room', `/?token=${token}`, { 'x-spawner-scheme': 'https' }));
    expect(a.headers['x-spawner-set-cookie']).toMatch(/; Secure$/);
  });

  test.each<[string, Record<string, string>]>([
    ['no token', ask('room', '/')],
    ['a wrong token', ask('room', `/?token=${'A'.repeat(44)}`)],
    ['an unknown name', ask('nobody', `/?token=${token}`)],
    ['a name that is not a DNS label', ask('Room', `/?token=${token}`)],
  ])('%s: 401 ended, and the API server is not asked', async (_what, headers) => {
    const s = setup([room]);
    expect(await s.decide(headers)).toEqual({ status: 401, verdict: 'ended', looked: false, headers: { 'x-spawner-verdict': 'ended' } });
    expect(s.reads).toEqual([]);
  });

  test('a WebSocket that would be refused as ended is routed to the service’s own /ended', async () => {
    const a = await setup([room]).decide(ask('room', '/ws', { 'x-spawner-upgrade': 'websocket' }));
    expect(a).toMatchObject({ status: 200, verdict: 'ended', headers: { 'x-spawner-upstream': SELF, 'x-spawner-uri': '/ended', 'x-spawner-cookie': '' } });
  });

  test('Pending in the cache, Ready in the API server: one read, then route', async () => {
    const s = setup([{ ...room, phase: 'Pending', podIP: undefined }], async () => room);
    const a = await s.decide(ask('room', `/?token=${token}`));
    expect(a).toMatchObject({ status: 200, looked: true, headers: { 'x-spawner-upstream': '10.0.0.7:8080' } });
    expect(s.reads).toEqual(['room']);
  });

  test('still Pending after the read: 403 starting, with the cookie', async () => {
    const pending = { ...room, phase: 'Pending' as const, podIP: undefined };
    const a = await setup([pending], async () => pending).decide(ask('room', `/?token=${token}`));
    expect(a).toMatchObject({ status: 403, verdict: 'starting', headers: { 'x-spawner-verdict': 'starting', 'x-spawner-set-cookie': expect.stringContaining(token) } });
  });

  test('gone in the API server: ended, and its uid remembered so the next request costs no read', async () => {
    const s = setup([]);
    expect((await s.decide(ask('room', `/?token=${token}`))).status).toBe(401);
    expect(await s.decide(ask('room', `/?token=${token}`))).toMatchObject({ status: 401, looked: false });
    expect(s.reads).toEqual(['room']);
    expect(s.table.isDead(room.uid)).toBe(true);
  });

  test('the API server cannot say: starting (the waiting page keeps asking), never ended', async () => {
    const s = setup([], async () => {
      throw new Error('connect ECONNREFUSED');
    });
    expect(await s.decide(ask('room', `/?token=${token}`))).toMatchObject({ status: 403, verdict: 'starting' });
    expect(s.table.isDead(room.uid)).toBe(false);
  });
});

describe('listening is routable before Ready (real sockets on loopback)', () => {
  // The backend's Pod: the app listens on loopback; the route service reads the Pod from a table and
  // connects to its address for real.
  let app: net.Server;
  let appPort: number;
  let accepted = 0;
  let freePort: number;
  beforeAll(async () => {
    app = net.createServer((s) => {
      accepted++;
      s.destroy();
    });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    appPort = (app.address() as AddressInfo).port;
    freePort = (await freePorts(1))[0]!; // was free a moment ago: nothing listens there
  });
  afterAll(async () => new Promise((resolve) => app.close(resolve)));

  const pending: RouteEntry = { ...room, phase: 'Pending', podIP: undefined };
  const pod = (port: () => number, over: { ownerUid?: string; annotations?: Record<string, string> } = {}) => (): PodLike => ({
    metadata: {
      name: 'room',
      ownerReferences: [{ uid: over.ownerUid ?? room.uid, controller: true }],
      annotations: over.annotations ?? { 'spawner.dev/activity-source': 'Node', 'spawner.dev/routable-when-listening': String(port()) },
    },
    status: { phase: 'Running', podIP: '127.0.0.1' },
  });
  function withPod(p: () => PodLike | undefined) {
    const podReads: string[] = [];
    const listening = listeningRouter({
      readPod: async (name) => {
        podReads.push(name);
        return p();
      },
      connect: tcpConnects,
      connectTimeoutMs: 250,
      rememberMs: 60_000,
    });
    const s = setup([pending], async () => pending, listening);
    return { ...s, podReads };
  }

  test('Pending, its marked Pod listens: route to the Pod now, then from memory without reads', async () => {
    const s = withPod(pod(() => appPort));
    const before = accepted;
    const a = await s.decide(ask('room', `/?token=${token}`));
    expect(a).toMatchObject({ status: 200, verdict: 'route', looked: true, early: 'listening', headers: { 'x-spawner-upstream': `127.0.0.1:${appPort}` } });
    expect(a.headers['x-spawner-set-cookie']).toContain(token);
    expect(accepted).toBeGreaterThan(before); // the app saw the connect
    const next = await s.decide(ask('room', '/app.js', { cookie: `spawner_token=${token}` }));
    expect(next).toMatchObject({ status: 200, looked: false, early: 'remembered', headers: { 'x-spawner-upstream': `127.0.0.1:${appPort}` } });
    expect(s.reads).toEqual(['room']);
    expect(s.podReads).toEqual(['room']);
  });

  test.each<[string, () => PodLike | undefined]>([
    ['nothing listens on the marked port yet', pod(() => freePort)],
    ['the Pod is controlled by another uid (a re-created name)', pod(() => appPort, { ownerUid: '9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d' })],
    ['the Pod has no mark (the user’s probe decides)', pod(() => appPort, { annotations: { 'spawner.dev/activity-source': 'Node' } })],
    ['the sidecar’s Pod: listening, but not marked', pod(() => appPort, { annotations: { 'spawner.dev/activity-source': 'Sidecar' } })],
    ['no Pod yet', () => undefined],
  ])('%s: starting, and nothing remembered', async (_what, p) => {
    const s = withPod(p);
    expect(await s.decide(ask('room', `/?token=${token}`))).toMatchObject({ status: 403, verdict: 'starting', looked: true });
    expect(await s.decide(ask('room', `/?token=${token}`))).toMatchObject({ status: 403, looked: true });
    expect(s.reads).toEqual(['room', 'room']);
  });

  test('a request without a valid token reads nothing and connects nowhere', async () => {
    const s = withPod(pod(() => appPort));
    const before = accepted;
    expect(await s.decide(ask('room', `/?token=${'A'.repeat(44)}`))).toMatchObject({ status: 401, looked: false });
    expect(s.reads).toEqual([]);
    expect(s.podReads).toEqual([]);
    expect(accepted).toBe(before);
  });

  test('the cache shows it Failed: ended, whatever was remembered', async () => {
    const s = withPod(pod(() => appPort));
    expect((await s.decide(ask('room', `/?token=${token}`))).status).toBe(200);
    s.table.set({ ...pending, phase: 'Failed' });
    expect(await s.decide(ask('room', `/?token=${token}`))).toMatchObject({ status: 401, verdict: 'ended' });
  });
});

describe('the HTTP service', () => {
  let service: RouteService;
  let ready = true;
  beforeAll(async () => {
    service = await startRouteService({
      namespace: NS,
      key,
      table: new StaticRouteTable([room]),
      fresh: async () => undefined,
      host: '127.0.0.1',
      port: 0,
      cookieSecure: 'auto',
      readiness: [{ name: 'synced', check: () => ({ ok: ready }) }],
      registry: new Registry(),
      log,
    });
  });
  afterAll(async () => service?.close());

  const get = (path: string, headers: Record<string, string> = {}) =>
    new Promise<{ status: number; headers: Record<string, unknown> }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: service.port, path, headers }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
      });
      req.on('error', reject);
      req.end();
    });

  test('/route answers from the headers nginx sends', async () => {
    const r = await get('/route', ask('room', `/?token=${token}`));
    expect(r.status).toBe(200);
    expect(r.headers['x-spawner-upstream']).toBe('10.0.0.7:8080');
  });

  test('/readyz follows its checks', async () => {
    expect((await get('/readyz')).status).toBe(200);
    ready = false;
    expect((await get('/readyz')).status).toBe(503);
    ready = true;
  });

  test('anything else is 404', async () => {
    expect((await get('/p/room/')).status).toBe(404);
  });

  test.each([[[]], [['drop-four', 'other']]])('a WebSocket to /ended (subprotocols %j) opens and is closed with 4404 and the reason', async (protocols) => {
    const ws = new WebSocket(`ws://127.0.0.1:${service.port}/ended`, protocols);
    const closed = await new Promise<{ code: number; reason: string; opened: boolean }>((resolve, reject) => {
      let opened = false;
      ws.once('open', () => (opened = true));
      ws.once('close', (code, reason) => resolve({ code, reason: reason.toString(), opened }));
      ws.once('error', reject);
    });
    expect(closed).toEqual({ code: 4404, reason: 'session ended or does not exist', opened: true });
  });

  test('a close frame carries the code and the reason, unmasked', () => {
    expect([...closeFrame(4404, 'ab')]).toEqual([0x88, 4, 0x11, 0x34, 0x61, 0x62]);
    expect(() => closeFrame(4404, 'x'.repeat(124))).toThrow(/123 bytes/);
  });
});
