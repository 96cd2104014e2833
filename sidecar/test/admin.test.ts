// The admin port: /status, probes, and the /events stream byte for byte (fake clock, so
// seconds_inactive is exact).
import { afterEach, describe, expect, test } from '@jest/globals';
import http from 'node:http';
import WebSocket from 'ws';
import type { BackendActivity } from '../../common/contract.ts';
import type { Sidecar, SidecarOptions } from '../src/sidecar.ts';
import { closedPort, getJson, request, startTestSidecar, startUpstream, waitFor, openWs, type Upstream } from './helpers.ts';

const RETRY = 'retry: 1000\n\n';
const event = (active_connections: number, seconds_inactive: number, listening = true, ready = listening) =>
  `data: ${JSON.stringify({ active_connections, seconds_inactive, listening, ready })}\n\n`;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

interface Setup {
  upstream: Upstream;
  sidecar: Sidecar;
  clock: { now: number };
}

async function setup(overrides: Partial<SidecarOptions> = {}): Promise<Setup> {
  const clock = { now: 1_000_000 };
  const upstream = await startUpstream((req, res) => {
    if (req.url === '/hang') return void res.writeHead(200).write('hanging');
    res.end('ok');
  });
  cleanups.push(() => upstream.close());
  const sidecar = await startTestSidecar(upstream.port, { clock: () => clock.now, ...overrides });
  cleanups.push(() => sidecar.shutdown());
  await waitFor(() => sidecar.tracker.listening, 'the app to be seen listening');
  return { upstream, sidecar, clock };
}

interface Stream {
  res: http.IncomingMessage;
  text(): string;
}

function subscribe(port: number): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/events', agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('error', () => {});
      cleanups.push(() => void req.destroy());
      resolve({ res, text: () => text });
    });
    req.on('error', reject);
  });
}

describe('GET /status and the probes', () => {
  test('the contract JSON, exactly', async () => {
    const { sidecar, clock } = await setup();
    clock.now += 4_999;
    const reply = await request(sidecar.adminPort, { path: '/status' });
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('application/json');
    expect(reply.body.toString()).toBe('{"active_connections":0,"seconds_inactive":4,"listening":true,"ready":true}');
  });

  test('/healthz, /readyz, unknown paths and methods', async () => {
    const { sidecar } = await setup();
    expect((await request(sidecar.adminPort, { path: '/healthz' })).status).toBe(200);
    expect((await request(sidecar.adminPort, { path: '/readyz' })).status).toBe(200);
    expect((await request(sidecar.adminPort, { path: '/nope' })).status).toBe(404);
    expect((await request(sidecar.adminPort, { path: '/status', method: 'POST' })).status).toBe(405);
  });

  test('not ready until the app listens, then ready as soon as it does', async () => {
    const port = await closedPort();
    const sidecar = await startTestSidecar(port);
    cleanups.push(() => sidecar.shutdown());
    expect((await request(sidecar.adminPort, { path: '/readyz' })).status).toBe(503);
    expect(await getJson<BackendActivity>(sidecar.adminPort, '/status')).toMatchObject({ listening: false, ready: false });
    // The app comes up late, on the port the sidecar was told about.
    const app = http.createServer((_req, res) => res.end('late'));
    await new Promise<void>((r) => app.listen(port, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => app.close(() => r())));
    await waitFor(async () => (await request(sidecar.adminPort, { path: '/readyz' })).status === 200, '/readyz to turn 200');
    expect(await getJson<BackendActivity>(sidecar.adminPort, '/status')).toMatchObject({ listening: true, ready: true });
  });
});

describe('counting, end to end', () => {
  test('WebSockets and in-flight requests are live; seconds_inactive counts from the last end', async () => {
    const { sidecar, clock } = await setup();
    const status = () => getJson<BackendActivity>(sidecar.adminPort, '/status');
    const ws = await openWs(sidecar.proxyPort);
    clock.now += 3_600_000; // an hour of silence on the socket
    await waitFor(async () => (await status()).active_connections === 1, 'one live connection');
    expect(await status()).toEqual({ active_connections: 1, seconds_inactive: 0, listening: true, ready: true });

    const hanging = http.get({ host: '127.0.0.1', port: sidecar.proxyPort, path: '/hang', agent: false });
    hanging.on('error', () => {});
    await waitFor(async () => (await status()).active_connections === 2, 'two live connections');

    hanging.destroy();
    ws.close();
    await waitFor(async () => (await status()).active_connections === 0, 'none live');
    expect((await status()).seconds_inactive).toBe(0);
    clock.now += 2_500;
    expect((await status()).seconds_inactive).toBe(2);
  });
});

describe('GET /events', () => {
  test('headers, then the state on connect, then one event per change, none for time passing', async () => {
    const { sidecar, clock } = await setup();
    clock.now += 5_000;
    const stream = await subscribe(sidecar.adminPort);
    expect(stream.res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(stream.res.headers['cache-control']).toBe('no-cache, no-transform');
    let expected = RETRY + event(0, 5);
    await waitFor(() => stream.text() === expected, 'the initial event');

    // A WebSocket: the upgrade request and the connection it becomes are one live connection.
    const ws = await openWs(sidecar.proxyPort);
    expected += event(1, 0);
    await waitFor(() => stream.text() === expected, 'the connect event');

    clock.now += 10_000; // time alone sends nothing
    ws.close();
    expected += event(0, 0);
    await waitFor(() => stream.text() === expected, 'the disconnect event');

    clock.now += 7_000;
    await request(sidecar.proxyPort, { path: '/' });
    expected += event(1, 0) + event(0, 0);
    await waitFor(() => stream.text() === expected, 'a request start and end');
    expect(stream.text()).toBe(expected);
  });

  test('readiness changes are events too', async () => {
    const { sidecar, upstream } = await setup();
    const stream = await subscribe(sidecar.adminPort);
    await waitFor(() => stream.text() === RETRY + event(0, 0), 'the initial event');
    await upstream.close();
    await waitFor(() => stream.text() === RETRY + event(0, 0) + event(0, 0, false), 'the not-listening event');
  });

  test('a subscriber who joins while an event is held back gets it once, not twice', async () => {
    const { sidecar } = await setup({ eventsMinIntervalMs: 300 });
    const early = await subscribe(sidecar.adminPort);
    await waitFor(() => early.text() === RETRY + event(0, 0), 'the initial event');
    const { tracker } = sidecar;
    tracker.requestStarted(); // sent at once to `early`
    await waitFor(() => early.text() === RETRY + event(0, 0) + event(1, 0), 'the first change');
    tracker.requestStarted(); // held back by the interval
    const late = await subscribe(sidecar.adminPort); // its first event already says 2
    await waitFor(() => early.text() === RETRY + event(0, 0) + event(1, 0) + event(2, 0), 'the held-back change');
    tracker.requestEnded();
    tracker.requestEnded();
    await waitFor(() => late.text().endsWith(event(0, 0)) && early.text().endsWith(event(2, 0) + event(0, 0)), 'back to idle on both');
    expect(late.text()).toBe(RETRY + event(2, 0) + event(0, 0));
  });

  test('a heartbeat comment at the configured interval', async () => {
    const { sidecar } = await setup({ heartbeatMs: 50 });
    const stream = await subscribe(sidecar.adminPort);
    await waitFor(() => stream.text().length >= (RETRY + event(0, 0)).length + 3 * ': heartbeat\n\n'.length, 'three heartbeats');
    expect(stream.text()).toMatch(/^retry: 1000\n\ndata: \{"active_connections":0,"seconds_inactive":0,"listening":true,"ready":true\}\n\n(: heartbeat\n\n){3,}$/);
  });

  test('bursts are merged: the first change at once, the latest state after the interval', async () => {
    const { sidecar, clock } = await setup({ eventsMinIntervalMs: 200 });
    const stream = await subscribe(sidecar.adminPort);
    await waitFor(() => stream.text() === RETRY + event(0, 0), 'the initial event');
    const { tracker } = sidecar;
    tracker.requestStarted(); // sent at once
    clock.now += 1;
    tracker.requestStarted();
    tracker.requestEnded();
    tracker.requestStarted(); // the burst ends with two in flight
    await waitFor(() => stream.text() === RETRY + event(0, 0) + event(1, 0) + event(2, 0), 'the merged event');
    tracker.requestEnded();
    tracker.requestEnded();
    await waitFor(() => stream.text() === RETRY + event(0, 0) + event(1, 0) + event(2, 0) + event(0, 0), 'back to idle');
  });

  test('every subscriber gets every event; a subscriber that leaves is forgotten', async () => {
    const { sidecar } = await setup();
    const a = await subscribe(sidecar.adminPort);
    const b = await subscribe(sidecar.adminPort);
    await waitFor(() => a.text() === RETRY + event(0, 0) && b.text() === RETRY + event(0, 0), 'initial events');
    a.res.destroy();
    await request(sidecar.proxyPort, { path: '/' });
    await waitFor(() => b.text() === RETRY + event(0, 0) + event(1, 0) + event(0, 0), 'the events on b');
    expect(a.text()).toBe(RETRY + event(0, 0));
  });

  test('shutdown ends the streams', async () => {
    const { sidecar } = await setup();
    const stream = await subscribe(sidecar.adminPort);
    const ended = new Promise<void>((r) => stream.res.once('end', r));
    await sidecar.shutdown();
    await ended;
    // Draining said ready=false before the end.
    expect(stream.text()).toBe(RETRY + event(0, 0) + event(0, 0, true, false));
  });
});
