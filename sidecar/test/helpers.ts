// Shared by the sidecar tests: loopback servers on port 0, a sidecar in-process, and a poller (tests
// wait for conditions, never for fixed times).
import http, { type IncomingMessage, type RequestListener } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { createLog } from '../src/log.ts';
import { startSidecar, type Sidecar, type SidecarOptions } from '../src/sidecar.ts';

export const silentLog = createLog({ level: 'silent', bindings: {} });

export async function waitFor<T>(probe: () => T | Promise<T>, what: string, timeoutMs = 15_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export interface Upstream {
  server: http.Server;
  port: number;
  wss: WebSocketServer;
  connections: number; // TCP connections accepted so far
  close(): Promise<void>;
}

// An HTTP server with a `ws` echo server on the same port (the usual shape of an app).
export async function startUpstream(handler: RequestListener, wsOptions: ConstructorParameters<typeof WebSocketServer>[0] = {}): Promise<Upstream> {
  const server = http.createServer(handler);
  const wss = new WebSocketServer({ ...wsOptions, server });
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  const upstream: Upstream = {
    server,
    wss,
    port: 0,
    connections: 0,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  server.on('connection', () => upstream.connections++);
  upstream.port = await listenOn(server);
  return upstream;
}

export function listenOn(server: net.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

// A port on which nothing listens (bound once, then released).
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  const port = await listenOn(server);
  await new Promise((r) => server.close(r));
  return port;
}

export function startTestSidecar(upstreamPort: number, overrides: Partial<SidecarOptions> = {}): Promise<Sidecar> {
  return startSidecar({
    upstreamHost: '127.0.0.1',
    upstreamPort,
    listenHost: '127.0.0.1',
    proxyPort: 0,
    adminPort: 0,
    heartbeatMs: 60_000,
    eventsMinIntervalMs: 0,
    shutdownGraceMs: 10_000,
    probeFastMs: 20,
    probeSlowMs: 200,
    log: silentLog,
    ...overrides,
  });
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
}

export function readBody(res: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks)));
    res.on('error', reject);
  });
}

export function request(port: number, options: http.RequestOptions & { body?: string | Buffer } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const { body, ...rest } = options;
    const req = http.request({ host: '127.0.0.1', port, agent: false, ...rest }, (res) => {
      readBody(res).then((b) => resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body: b }), reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

export async function getJson<T>(port: number, path: string): Promise<T> {
  const reply = await request(port, { path });
  return JSON.parse(reply.body.toString()) as T;
}

// Opens a raw TCP connection and resolves with it connected.
export function connectRaw(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => resolve(socket));
    socket.once('error', reject);
  });
}

// Collects everything a socket receives, so a test can wait for exact bytes.
export function collect(socket: net.Socket): { text: () => string; ended: () => boolean } {
  let received = '';
  let ended = false;
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (received += chunk));
  socket.on('end', () => (ended = true));
  socket.on('close', () => (ended = true));
  return { text: () => received, ended: () => ended };
}

/** A WebSocket to the given loopback port, once it is open. */
export function openWs(port: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}
