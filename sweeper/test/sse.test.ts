import { afterEach, describe, expect, jest, test } from '@jest/globals';
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { SseClient, SseParser, type SseItem } from '../src/sse.ts';

// Waits below are for conditions with their own generous deadlines; the test deadline must exceed them.
jest.setTimeout(60_000);

describe('SseParser', () => {
  const parse = (...chunks: string[]): SseItem[] => {
    const p = new SseParser();
    return chunks.flatMap((c) => p.push(c));
  };
  const msg = (data: string, event = 'message', id?: string): SseItem => ({ kind: 'message', event, data, id });

  test.each([
    { name: 'one event', chunks: ['data: {"a":1}\n\n'], want: [msg('{"a":1}')] },
    { name: 'no space after the colon', chunks: ['data:x\n\n'], want: [msg('x')] },
    { name: 'only one leading space is removed', chunks: ['data:  x\n\n'], want: [msg(' x')] },
    { name: 'multi-line data joined by LF', chunks: ['data: a\ndata: b\n\n'], want: [msg('a\nb')] },
    { name: 'CRLF line ends', chunks: ['data: a\r\n\r\n'], want: [msg('a')] },
    { name: 'CR line ends', chunks: ['data: a\r\r'], want: [msg('a')] },
    { name: 'CR at a chunk end, LF at the next start', chunks: ['data: a\r', '\n\r', '\n'], want: [msg('a')] },
    { name: 'split inside a field name and value', chunks: ['da', 'ta: {"x"', ':2}\n', '\n'], want: [msg('{"x":2}')] },
    { name: 'heartbeat comment', chunks: [': heartbeat\n\n'], want: [{ kind: 'comment', text: 'heartbeat' }] },
    { name: 'comment between events', chunks: ['data: 1\n\n: hb\n\ndata: 2\n\n'], want: [msg('1'), { kind: 'comment', text: 'hb' }, msg('2')] },
    { name: 'retry field', chunks: ['retry: 1500\n\n'], want: [{ kind: 'retry', ms: 1500 }] },
    { name: 'non-numeric retry ignored', chunks: ['retry: soon\n\n'], want: [] },
    { name: 'event type and id', chunks: ['event: state\nid: 7\ndata: z\n\n'], want: [msg('z', 'state', '7')] },
    { name: 'id persists to the next event', chunks: ['id: 7\ndata: a\n\ndata: b\n\n'], want: [msg('a', 'message', '7'), msg('b', 'message', '7')] },
    { name: 'event type does not persist', chunks: ['event: x\ndata: a\n\ndata: b\n\n'], want: [msg('a', 'x'), msg('b')] },
    { name: 'blank line without data dispatches nothing', chunks: ['event: x\n\n\n'], want: [] },
    { name: 'unterminated event is held back', chunks: ['data: a\n'], want: [] },
    { name: 'unknown field ignored', chunks: ['foo: bar\ndata: a\n\n'], want: [msg('a')] },
    { name: 'leading BOM stripped', chunks: ['\ufeffdata: a\n\n'], want: [msg('a')] },
    { name: 'field without colon has empty value', chunks: ['data\n\n'], want: [msg('')] },
  ])('$name', ({ chunks, want }) => {
    expect(parse(...chunks)).toEqual(want);
  });

  test('byte-at-a-time delivery gives the same items', () => {
    const stream = 'retry: 10\n\ndata: {"active_connections":0}\r\n\r\n: heartbeat\n\nevent: e\ndata: 1\ndata: 2\r\r';
    const whole = parse(stream);
    expect(parse(...stream.split(''))).toEqual(whole);
    expect(whole).toHaveLength(4);
  });
});

// A scripted SSE server: each request to /events is answered by the current `behaviour`.
type Behaviour = 'events' | 'silent' | 'refuse' | 'end-at-once';

class ScriptedServer {
  server: http.Server;
  port = 0;
  behaviour: Behaviour = 'events';
  requests = 0;
  streams = new Set<http.ServerResponse>();
  sockets = new Set<Socket>();
  constructor() {
    this.server = http.createServer((req, res) => {
      this.requests++;
      switch (this.behaviour) {
        case 'refuse':
          res.writeHead(503).end('down');
          return;
        case 'end-at-once':
          res.writeHead(200, { 'content-type': 'text/event-stream' }).end();
          return;
        default:
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          if (this.behaviour === 'events') res.write(`data: {"n":${this.requests}}\n\n`);
          this.streams.add(res);
          res.on('close', () => this.streams.delete(res));
      }
    });
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }
  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as AddressInfo).port;
  }
  send(chunk: string): void {
    for (const s of this.streams) s.write(chunk);
  }
  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

async function until(cond: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('SseClient', () => {
  let server: ScriptedServer;
  let client: SseClient | undefined;
  afterEach(async () => {
    client?.close();
    client = undefined;
    await server?.stop();
  });

  function connect(opts: { deadAfterMs?: number; initialMs?: number; maxMs?: number } = {}) {
    const seen = { messages: [] as string[], comments: [] as string[], downs: [] as { reason: string; retryInMs: number }[], opens: 0 };
    client = new SseClient({
      url: `http://127.0.0.1:${server.port}/events`,
      deadAfterMs: opts.deadAfterMs ?? 10_000,
      connectTimeoutMs: 5_000,
      backoff: { initialMs: opts.initialMs ?? 20, maxMs: opts.maxMs ?? 160, factor: 2, jitter: 0 },
      handlers: {
        open: () => seen.opens++,
        message: (data) => seen.messages.push(data),
        comment: (text) => seen.comments.push(text),
        down: (reason, retryInMs) => seen.downs.push({ reason, retryInMs }),
      },
    });
    client.start();
    return seen;
  }

  test('receives the state on connect, later events and heartbeat comments', async () => {
    server = new ScriptedServer();
    await server.start();
    const seen = connect();
    await until(() => seen.messages.length === 1, 'first event');
    expect(seen.messages).toEqual(['{"n":1}']);
    server.send(': heartbeat\n\n');
    server.send('data: {"n":"later"}\n\n');
    await until(() => seen.messages.length === 2 && seen.comments.length === 1, 'event and heartbeat');
    expect(seen.messages[1]).toBe('{"n":"later"}');
    expect(seen.comments).toEqual(['heartbeat']);
    expect(seen.downs).toEqual([]);
    expect(client!.state).toBe('open');
  });

  test('heartbeats keep a quiet stream alive; silence past deadAfterMs is a dead stream, then it reconnects', async () => {
    server = new ScriptedServer();
    await server.start();
    const seen = connect({ deadAfterMs: 300 });
    await until(() => seen.messages.length === 1, 'first event');
    // Heartbeats more often than deadAfterMs: the stream must stay up across several dead intervals.
    const heartbeatsToSend = 8;
    for (let i = 0; i < heartbeatsToSend; i++) {
      server.send(': heartbeat\n\n');
      await until(() => seen.comments.length === i + 1, `heartbeat ${i + 1}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(seen.downs).toEqual([]);
    // Now the server keeps the socket open but says nothing.
    server.behaviour = 'silent';
    await until(() => seen.downs.length >= 1, 'dead stream detected');
    expect(seen.downs[0]!.reason).toMatch(/^no bytes for \d+ ms$/);
    await until(() => server.requests >= 2, 'reconnect');
    server.behaviour = 'events';
  });

  test('reconnects with growing delays while refused, and resets the backoff after an event', async () => {
    server = new ScriptedServer();
    await server.start();
    server.behaviour = 'refuse';
    const seen = connect({ initialMs: 20, maxMs: 160 });
    await until(() => seen.downs.length >= 6, 'six refused attempts');
    expect(seen.downs.slice(0, 6).map((d) => d.retryInMs)).toEqual([20, 40, 80, 160, 160, 160]);
    expect(seen.downs[0]!.reason).toMatch(/HTTP 503/);
    server.behaviour = 'events';
    await until(() => seen.messages.length === 1, 'event after recovery');
    const before = seen.downs.length;
    // One more failure after a success starts again at the initial delay.
    for (const s of server.streams) s.destroy();
    await until(() => seen.downs.length === before + 1, 'drop after recovery');
    expect(seen.downs[before]!.retryInMs).toBe(20);
  });

  test('a 200 that ends at once keeps backing off (it delivered nothing)', async () => {
    server = new ScriptedServer();
    await server.start();
    server.behaviour = 'end-at-once';
    const seen = connect({ initialMs: 10, maxMs: 80 });
    await until(() => seen.downs.length >= 4, 'four empty streams');
    expect(seen.downs.slice(0, 4).map((d) => d.retryInMs)).toEqual([10, 20, 40, 80]);
  });

  test('connection refused is reported and retried', async () => {
    server = new ScriptedServer();
    await server.start();
    const port = server.port;
    await server.stop();
    const seen = { downs: [] as string[] };
    client = new SseClient({
      url: `http://127.0.0.1:${port}/events`,
      deadAfterMs: 1000,
      connectTimeoutMs: 1000,
      backoff: { initialMs: 10, maxMs: 20, factor: 2, jitter: 0 },
      handlers: { message: () => {}, down: (reason) => seen.downs.push(reason) },
    });
    client.start();
    await until(() => seen.downs.length >= 3, 'three refusals');
    expect(seen.downs[0]).toMatch(/ECONNREFUSED/);
    server = new ScriptedServer(); // for afterEach
    await server.start();
  });

  test('close() releases the socket and every timer', async () => {
    server = new ScriptedServer();
    await server.start();
    const baseline = countResources();
    const seen = connect({ deadAfterMs: 5000 });
    await until(() => seen.messages.length === 1 && server.sockets.size === 1, 'connected');
    client!.close();
    await until(() => server.sockets.size === 0, 'server sees the socket closed');
    await until(() => sameOrFewer(countResources(), baseline), 'no timers or sockets left by the client');
    expect(client!.state).toBe('closed');
    // Closing while waiting to reconnect also clears the reconnect timer.
    server.behaviour = 'refuse';
    const again = connect({ initialMs: 60_000, maxMs: 60_000 });
    await until(() => again.downs.length === 1, 'refused once');
    client!.close();
    await until(() => sameOrFewer(countResources(), baseline), 'reconnect timer cleared');
  });
});

function countResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) counts[r] = (counts[r] ?? 0) + 1;
  return counts;
}

function sameOrFewer(now: Record<string, number>, baseline: Record<string, number>): boolean {
  return ['Timeout', 'TCPSocketWrap'].every((k) => (now[k] ?? 0) <= (baseline[k] ?? 0));
}
