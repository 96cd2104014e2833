// A loopback stand-in for a sidecar's admin port: /status and /events speaking the contract of
// sidecar/README.md (state on connect and on every change, heartbeat comments, whole seconds rounded
// down), with controls the real sidecar lacks: go silent while keeping the stream open, answer 503,
// stop listening. The sweeper tests and the benchmark drive backends' activity through it.

import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { BackendActivity } from '../../../common/contract.ts';

export interface FakeSidecarOptions {
  heartbeatMs?: number;
  now?: () => number;
  host?: string; // default 127.0.0.1; the benchmark gives each backend a loopback address of its own
  port?: number; // default 0 (any free port)
}

export class FakeSidecar {
  port = 0;
  readonly host: string;
  statusRequests = 0;
  eventRequests = 0;
  #server: http.Server;
  #streams = new Set<http.ServerResponse>();
  #sockets = new Set<Socket>();
  #connections = 0;
  #lastActivityMs: number;
  #heartbeat: NodeJS.Timeout | undefined;
  #heartbeatMs: number;
  #now: () => number;
  #mode: 'normal' | 'silent' | 'failing' = 'normal';

  private constructor(opts: FakeSidecarOptions) {
    this.host = opts.host ?? '127.0.0.1';
    this.#heartbeatMs = opts.heartbeatMs ?? 15_000;
    this.#now = opts.now ?? Date.now;
    this.#lastActivityMs = this.#now();
    this.#server = http.createServer((req, res) => this.#handle(req, res));
    this.#server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
  }

  static async start(opts: FakeSidecarOptions = {}): Promise<FakeSidecar> {
    const sidecar = new FakeSidecar(opts);
    await sidecar.#listen(opts.port ?? 0);
    return sidecar;
  }

  get baseUrl(): string {
    return `http://${this.host}:${this.port}`;
  }

  // Open TCP connections to this server: the sweeper's streams and requests.
  get openSockets(): number {
    return this.#sockets.size;
  }

  get subscribers(): number {
    return this.#streams.size;
  }

  get lastActivityMs(): number {
    return this.#lastActivityMs;
  }

  snapshot(): BackendActivity {
    const live = this.#connections;
    return {
      active_connections: live,
      seconds_inactive: live > 0 ? 0 : Math.max(0, Math.floor((this.#now() - this.#lastActivityMs) / 1000)),
      listening: true,
      ready: true,
    };
  }

  // A client connection through the proxy opens or closes.
  connect(): void {
    this.#connections++;
    this.#touch();
  }

  disconnect(): void {
    if (this.#connections > 0) this.#connections--;
    this.#touch();
  }

  // As if the last activity was this long ago (a sidecar that was idle before the sweeper started).
  setIdleFor(ms: number): void {
    this.#lastActivityMs = this.#now() - ms;
  }

  // Keeps streams open but sends nothing more, not even heartbeats: a stream dead in a way TCP misses.
  // /status still answers truthfully.
  goSilent(): void {
    this.#mode = 'silent';
    this.#stopHeartbeat();
  }

  // Answers 503 to everything and ends the open streams.
  fail(): void {
    this.#mode = 'failing';
    this.#endStreams();
  }

  recover(): void {
    this.#mode = 'normal';
  }

  // Stops listening and drops every connection: connection refused from now on.
  async stopListening(): Promise<void> {
    this.#endStreams();
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  // Listens again on the same port (after stopListening).
  async listenAgain(): Promise<void> {
    this.#mode = 'normal';
    await this.#listen(this.port);
  }

  async stop(): Promise<void> {
    this.#endStreams();
    for (const socket of this.#sockets) socket.destroy();
    if (this.#server.listening) await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, this.host, () => {
        this.#server.off('error', reject);
        this.port = (this.#server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = (req.url ?? '').split('?')[0];
    if (this.#mode === 'failing') {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('failing on purpose\n');
      return;
    }
    if (path === '/status') {
      this.statusRequests++;
      const body = JSON.stringify(this.snapshot());
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
      return;
    }
    if (path === '/events') {
      this.eventRequests++;
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
      if (this.#mode === 'normal') res.write(`retry: 1000\n\ndata: ${JSON.stringify(this.snapshot())}\n\n`);
      this.#streams.add(res);
      res.once('close', () => {
        this.#streams.delete(res);
        if (this.#streams.size === 0) this.#stopHeartbeat();
      });
      if (this.#mode === 'normal') this.#startHeartbeat();
      return;
    }
    res.writeHead(404).end();
  }

  #touch(): void {
    this.#lastActivityMs = this.#now();
    if (this.#mode !== 'normal') return;
    const chunk = `data: ${JSON.stringify(this.snapshot())}\n\n`;
    for (const res of this.#streams) res.write(chunk);
  }

  #startHeartbeat(): void {
    if (this.#heartbeat !== undefined) return;
    this.#heartbeat = setInterval(() => {
      for (const res of this.#streams) res.write(': heartbeat\n\n');
    }, this.#heartbeatMs);
  }

  #stopHeartbeat(): void {
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
  }

  #endStreams(): void {
    this.#stopHeartbeat();
    for (const res of this.#streams) res.destroy();
    this.#streams.clear();
  }
}
