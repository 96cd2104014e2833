// Upgrades through the proxy: WebSocket echo, other protocols byte for byte, refusals, app down.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import http from 'node:http';
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import type { Sidecar } from '../src/sidecar.ts';
import { closedPort, collect, connectRaw, startTestSidecar, startUpstream, waitFor, type Upstream } from './helpers.ts';

let upstream: Upstream;
let sidecar: Sidecar;
let neverAnsweredClosed: () => void = () => {};

function openWs(port: number, path = '/ws'): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function nextMessage(ws: WebSocket): Promise<{ data: Buffer; isBinary: boolean }> {
  return new Promise((resolve) => ws.once('message', (data, isBinary) => resolve({ data: data as Buffer, isBinary })));
}

function closed(ws: WebSocket): Promise<number> {
  return new Promise((resolve) => ws.once('close', (code) => resolve(code)));
}

beforeAll(async () => {
  upstream = await startUpstream((_req, res) => res.writeHead(426, { 'content-type': 'text/plain' }).end('use a websocket\n'), {
    verifyClient: (info: { req: http.IncomingMessage }) => info.req.url !== '/forbidden',
  });
  // Upgrades are routed by hand: a made-up protocol that greets, then echoes in upper case; one that
  // never answers; everything else to the WebSocket server.
  const wsUpgrade = upstream.server.listeners('upgrade') as ((...args: unknown[]) => void)[];
  upstream.server.removeAllListeners('upgrade');
  upstream.server.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
    if (req.headers.upgrade === 'shout') {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: shout\r\nConnection: Upgrade\r\nX-App: yes\r\n\r\nHELLO;');
      socket.on('data', (chunk: Buffer) => socket.write(chunk.toString().toUpperCase()));
      if (head.length > 0) socket.write(head.toString().toUpperCase());
      socket.on('end', () => socket.end());
    } else if (req.headers.upgrade === 'h2c') {
      // An app that does not do upgrades answers as usual, here with a chunked body.
      socket.end('HTTP/1.1 426 Upgrade Required\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nuse a \r\na\r\nwebsocket\n\r\n0\r\n\r\n');
    } else if (req.headers.upgrade === 'never') {
      // Reading is what lets a socket notice its peer's FIN (the server's sockets allow half-open).
      socket.resume();
      socket.once('end', () => {
        socket.end();
        neverAnsweredClosed();
      });
    } else {
      for (const listener of wsUpgrade) listener.call(upstream.server, req, socket, head);
    }
  });
  sidecar = await startTestSidecar(upstream.port);
  await waitFor(() => sidecar.tracker.listening, 'the sidecar to see the app');
});

afterAll(async () => {
  await sidecar.shutdown();
  await upstream.close();
});

describe('WebSocket through the proxy', () => {
  test('echoes text and binary frames unchanged, large and small', async () => {
    const ws = await openWs(sidecar.proxyPort);
    try {
      const text = 'héllo, wörld';
      let reply = nextMessage(ws);
      ws.send(text);
      expect(await reply).toEqual({ data: Buffer.from(text), isBinary: false });

      const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      reply = nextMessage(ws);
      ws.send(binary);
      expect(await reply).toEqual({ data: binary, isBinary: true });

      const big = Buffer.alloc(3 * 1024 * 1024, 7);
      reply = nextMessage(ws);
      ws.send(big);
      const got = await reply;
      expect(got.isBinary).toBe(true);
      expect(got.data.equals(big)).toBe(true);
    } finally {
      ws.close();
      await closed(ws);
    }
  });

  test('an open WebSocket is one live connection until it closes, from either side', async () => {
    await waitFor(() => sidecar.tracker.liveConnections === 0, 'no live connection');
    const a = await openWs(sidecar.proxyPort);
    const b = await openWs(sidecar.proxyPort);
    await waitFor(() => sidecar.tracker.upgradedConnections === 2 && sidecar.tracker.inFlightRequests === 0, 'two upgraded connections');
    a.close();
    await closed(a);
    await waitFor(() => sidecar.tracker.upgradedConnections === 1, 'one left after a client close');
    // The app closes the other one.
    for (const client of upstream.wss.clients) client.close(1001, 'bye');
    expect(await closed(b)).toBe(1001);
    await waitFor(() => sidecar.tracker.liveConnections === 0, 'none left after an app close');
  });

  test('refused by the app: its response is relayed, then the connection closes', async () => {
    const reply = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${sidecar.proxyPort}/forbidden`);
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      ws.on('error', reject);
    });
    expect(reply.status).toBe(401);
    await waitFor(() => sidecar.tracker.liveConnections === 0, 'the refused upgrade to end');
  });

  test('an upgrade the app ignores gets the app’s ordinary response', async () => {
    const socket = await connectRaw(sidecar.proxyPort);
    const received = collect(socket);
    socket.write('GET /plain HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n');
    await waitFor(() => received.ended(), 'the relayed response to end');
    const text = received.text();
    expect(text).toMatch(/^HTTP\/1\.1 426 Upgrade Required\r\n/);
    expect(text).toContain('\r\nConnection: close\r\n');
    expect(text).not.toContain('Transfer-Encoding');
    expect(text.endsWith('\r\n\r\nuse a websocket\n')).toBe(true);
  });

  test('another protocol is spliced byte for byte, including bytes sent with the request', async () => {
    const socket = await connectRaw(sidecar.proxyPort);
    const received = collect(socket);
    socket.write('GET /shout HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: shout\r\n\r\nearly;');
    await waitFor(() => received.text().includes('EARLY;'), 'the early bytes echoed');
    socket.write('later;');
    await waitFor(() => received.text().endsWith('LATER;'), 'later bytes echoed');
    expect(received.text()).toBe('HTTP/1.1 101 Switching Protocols\r\nUpgrade: shout\r\nConnection: Upgrade\r\nX-App: yes\r\n\r\nHELLO;EARLY;LATER;');
    socket.end();
    await waitFor(() => received.ended(), 'the splice to close after a half-close');
    await waitFor(() => sidecar.tracker.liveConnections === 0, 'the upgraded connection to be counted as closed');
  });

  test('app not listening: 502 on the raw socket, quickly closed', async () => {
    const down = await startTestSidecar(await closedPort());
    try {
      const socket = await connectRaw(down.proxyPort);
      const received = collect(socket);
      socket.write('GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
      await waitFor(() => received.ended(), 'the 502 to end');
      expect(received.text()).toMatch(/^HTTP\/1\.1 502 Bad Gateway\r\n[\s\S]*\r\n\r\n502 Bad Gateway: the app is not listening on 127\.0\.0\.1:\d+\n$/);
      await waitFor(() => down.tracker.liveConnections === 0, 'nothing live');
    } finally {
      await down.shutdown();
    }
  });

  test('a client that goes away before the app answers releases the app’s side', async () => {
    const appSawClose = new Promise<void>((resolve) => (neverAnsweredClosed = resolve));
    const socket = await connectRaw(sidecar.proxyPort);
    socket.write('GET /slow HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: never\r\n\r\n');
    await waitFor(() => sidecar.tracker.inFlightRequests === 1, 'the upgrade request in flight');
    socket.destroy();
    await appSawClose;

    await waitFor(() => sidecar.tracker.liveConnections === 0, 'nothing live');
  });
});
