// Shutdown (what SIGTERM runs) and hygiene: in-flight requests may finish within the grace period,
// nothing new is accepted, upgraded connections are closed, and after a busy life the process holds
// no more sockets, servers or timers than before the sidecar started.
import { afterEach, describe, expect, test } from '@jest/globals';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import WebSocket from 'ws';
import type { BackendActivity } from '../../common/contract.ts';
import { closedPort, connectRaw, getJson, readBody, request, startTestSidecar, startUpstream, waitFor, openWs } from './helpers.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

// The app holds /slow until the test releases it; everything else answers at once.
function slowApp() {
  const held: ServerResponse[] = [];
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/slow') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('begun;');
      held.push(res);
      return;
    }
    res.end('quick');
  };
  return { handler, held, release: () => held.splice(0).forEach((res) => res.end('done')) };
}

// A request whose response has begun; resolves with the full body (or rejects if cut off).
function startSlowRequest(port: number): Promise<{ body: Promise<string> }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/slow', agent: false }, (res) => {
      resolve({ body: readBody(res).then((b) => b.toString()) });
    });
    req.on('error', reject);
  });
}

function refused(port: number): Promise<boolean> {
  return connectRaw(port).then(
    (socket) => {
      socket.destroy();
      return false;
    },
    (err: NodeJS.ErrnoException) => err.code === 'ECONNREFUSED',
  );
}

async function setup(shutdownGraceMs: number) {
  const app = slowApp();
  const upstream = await startUpstream(app.handler);
  cleanups.push(() => upstream.close());
  const sidecar = await startTestSidecar(upstream.port, { shutdownGraceMs });
  cleanups.push(() => sidecar.shutdown());
  await waitFor(() => sidecar.tracker.listening, 'the app to be seen listening');
  return { app, upstream, sidecar };
}

describe('shutdown', () => {
  test('an in-flight request finishes; new connections are refused meanwhile; readiness drops first', async () => {
    const { app, sidecar } = await setup(60_000);
    const slow = await startSlowRequest(sidecar.proxyPort);
    const ws = await openWs(sidecar.proxyPort);
    const wsClosed = new Promise<void>((r) => ws.once('close', () => r()));

    let finished = false;
    const stopping = sidecar.shutdown().then(() => (finished = true));
    expect((await getJson<BackendActivity>(sidecar.adminPort, '/status')).ready).toBe(false);
    expect((await request(sidecar.adminPort, { path: '/readyz' })).status).toBe(503);
    await waitFor(() => refused(sidecar.proxyPort), 'the proxy port to refuse connections');
    expect(finished).toBe(false); // still waiting for the request

    app.release();
    expect(await slow.body).toBe('begun;done');
    await stopping;
    await wsClosed; // upgraded connections do not outlive the sidecar
    await waitFor(() => sidecar.tracker.liveConnections === 0, 'the WebSocket counted as closed');
  });

  test('a request still running when the grace period ends is cut off', async () => {
    const { sidecar } = await setup(200);
    const slow = await startSlowRequest(sidecar.proxyPort);
    await sidecar.shutdown();
    await expect(slow.body).rejects.toThrow();
  });

  test('with nothing in flight it stops at once, whatever the grace period', async () => {
    const { sidecar } = await setup(600_000);
    await request(sidecar.proxyPort, { path: '/' });
    // A keep-alive connection left idle must not hold shutdown for the whole grace period.
    const agent = new http.Agent({ keepAlive: true });
    cleanups.push(() => agent.destroy());
    await new Promise<void>((resolve, reject) =>
      http.get({ host: '127.0.0.1', port: sidecar.proxyPort, path: '/', agent }, (res) => res.resume().on('end', resolve)).on('error', reject),
    );
    await sidecar.shutdown(); // jest's own timeout is far below the grace period
  });
});

describe('no leaks', () => {
  // Handles of the kinds a proxy can leak; counted for this process before and after.
  const KINDS = ['TCPSocketWrap', 'TCPServerWrap', 'Timeout', 'TCPWRAP', 'TTYWrap'];
  function count(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const r of process.getActiveResourcesInfo()) if (KINDS.includes(r)) counts[r] = (counts[r] ?? 0) + 1;
    return counts;
  }
  const noMoreThan = (now: Record<string, number>, before: Record<string, number>) => KINDS.every((k) => (now[k] ?? 0) <= (before[k] ?? 0));

  test('after HTTP, WebSockets, SSE, a 502, client aborts and shutdown, nothing is left open', async () => {
    const before = count();
    const app = slowApp();
    const upstream = await startUpstream(app.handler);
    const sidecar = await startTestSidecar(upstream.port);
    await waitFor(() => sidecar.tracker.listening, 'the app to be seen listening');

    for (let i = 0; i < 20; i++) await request(sidecar.proxyPort, { path: `/n${i}` });
    const sockets = await Promise.all([1, 2, 3].map(() => openWs(sidecar.proxyPort)));
    for (const ws of sockets.slice(1)) ws.close();
    const events = http.get({ host: '127.0.0.1', port: sidecar.adminPort, path: '/events', agent: false });
    events.on('error', () => {});
    // A client that gives up mid-response.
    const abandoned = http.get({ host: '127.0.0.1', port: sidecar.proxyPort, path: '/slow', agent: false });
    abandoned.on('error', () => {});
    await waitFor(() => app.held.length === 1, 'the slow request to reach the app');
    abandoned.destroy();
    await waitFor(() => sidecar.tracker.inFlightRequests === 0 && sidecar.tracker.upgradedConnections === 1, 'only the open WebSocket left');

    // The app going away: a 502 for one request.
    const dead = await startTestSidecar(await closedPort());
    expect((await request(dead.proxyPort, { path: '/' })).status).toBe(502);
    await dead.shutdown();

    await sidecar.shutdown();
    events.destroy();
    sockets[0]!.terminate();
    app.release();
    await upstream.close();
    await waitFor(() => noMoreThan(count(), before), `handles back to ${JSON.stringify(before)} (now ${JSON.stringify(count())})`);
  });
});
