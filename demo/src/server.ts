// drop-four's process: serves the page and holds the session's one game over WebSockets.
// The game logic lives in game.ts; this file only moves JSON between sockets and that state.

import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, WebSocket } from 'ws';
import { loadConfigOrExit, parsers } from '../../common/config.ts';
import type { BackendActivity } from '../../common/contract.ts';
import { createLogger, type Logger } from '../../common/log.ts';
import { join, leave, move, newSession, restart, view, type ActionResult, type ClientId, type Notice, type Session } from './game.ts';

export interface ServerOptions {
  port: number; // 0 picks a free port (tests)
  host?: string;
  serveStatus: boolean; // answer GET /status for the sweeper when the pod runs without a sidecar
  log: Logger;
  heartbeatMs?: number; // how often silent clients are pinged; one missed pong closes them
}

export interface RunningServer {
  port: number;
  close(): Promise<void>;
}

// Messages are tiny; anything bigger is not from our page.
const MAX_MESSAGE_BYTES = 4096;

interface Asset {
  body: Buffer;
  type: string;
}

// The page's files, read once. Requests are matched by their last path segment, so the page works
// whether or not a proxy strips a prefix like /p/<name>/, and no request can name any other file.
function loadAssets(): Map<string, Asset> {
  const dir = new URL('../public/', import.meta.url);
  const files: [string, string][] = [
    ['index.html', 'text/html; charset=utf-8'],
    ['app.js', 'text/javascript; charset=utf-8'],
    ['style.css', 'text/css; charset=utf-8'],
    ['favicon.svg', 'image/svg+xml'],
  ];
  const assets = new Map<string, Asset>();
  for (const [name, type] of files) assets.set(name, { body: readFileSync(new URL(name, dir)), type });
  assets.set('', assets.get('index.html')!);
  return assets;
}

function lastSegment(url: string | undefined): string {
  const path = (url ?? '/').split('?')[0]!;
  return path.slice(path.lastIndexOf('/') + 1);
}

export type ClientMessage = { type: 'move'; column: unknown } | { type: 'restart' };

// Parses one frame from a client; null for anything that is not one of the two documented messages.
export function parseClientMessage(raw: string): ClientMessage | null {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const msg = value as Record<string, unknown>;
  if (msg.type === 'move' && 'column' in msg) return { type: 'move', column: msg.column };
  if (msg.type === 'restart') return { type: 'restart' };
  return null;
}

const ERROR_TEXT: Record<string, string> = {
  'game-over': 'The game is over: start a new one.',
  'not-your-turn': 'Wait for your turn.',
  'column-out-of-range': 'There is no such column.',
  'column-full': 'That column is full.',
  'not-a-player': 'Spectators cannot play.',
  'waiting-for-opponent': 'Wait for an opponent to join.',
  'game-not-over': 'The game is still being played.',
  'bad-message': 'Messages are {"type":"move","column":0-6} or {"type":"restart"}.',
};

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { log } = options;
  const assets = loadAssets();
  const sockets = new Map<ClientId, WebSocket>();
  const alive = new WeakSet<WebSocket>();
  let session: Session = newSession();
  let nextId = 1;
  let lastActivity = Date.now();

  const send = (ws: WebSocket, message: object) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
  };
  const broadcast = (notices: Notice[]) => {
    for (const [id, ws] of sockets) {
      for (const notice of notices) send(ws, notice);
      send(ws, view(session, id));
    }
  };
  const logOutcome = () => {
    const { outcome, moves } = session.game;
    if (outcome.kind === 'win') log.info({ round: session.round, winner: outcome.winner, moves }, 'game won');
    if (outcome.kind === 'draw') log.info({ round: session.round, moves }, 'game drawn');
  };

  const activity = (): BackendActivity => ({
    active_connections: sockets.size,
    seconds_inactive: sockets.size > 0 ? 0 : Math.floor((Date.now() - lastActivity) / 1000),
    listening: true,
    ready: true,
  });

  const handleRequest = (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    const path = (req.url ?? '/').split('?')[0]!;
    if (options.serveStatus && path === '/status') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(activity()));
      return;
    }
    const asset = assets.get(lastSegment(req.url));
    if (!asset) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-type': asset.type, 'content-length': asset.body.length, 'cache-control': 'no-cache' });
    res.end(req.method === 'HEAD' ? undefined : asset.body);
  };

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  const server = createServer(handleRequest);

  // The page opens its socket at the relative URL `ws`, so under any prefix the path ends in /ws.
  server.on('upgrade', (req, socket, head) => {
    if (lastSegment(req.url) !== 'ws') {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, req));
  });

  const onConnection = (ws: WebSocket, req: IncomingMessage) => {
    const id: ClientId = `c${nextId++}`;
    const clientLog = log.child({ client: id });
    sockets.set(id, ws);
    alive.add(ws);
    lastActivity = Date.now();
    const joined = join(session, id);
    session = joined.session;
    clientLog.info({ role: joined.role, remote: req.headers['x-forwarded-for'] ?? req.socket.remoteAddress }, 'client joined');
    broadcast(joined.notices);

    ws.on('pong', () => alive.add(ws));
    ws.on('message', (data, isBinary) => {
      lastActivity = Date.now();
      const message = isBinary ? null : parseClientMessage(data.toString());
      if (!message) {
        send(ws, { type: 'error', error: 'bad-message', message: ERROR_TEXT['bad-message'] });
        return;
      }
      const result: ActionResult = message.type === 'move' ? move(session, id, message.column) : restart(session, id);
      if (!result.ok) {
        clientLog.debug({ message, error: result.error }, 'refused');
        send(ws, { type: 'error', error: result.error, message: ERROR_TEXT[result.error] ?? result.error });
        return;
      }
      session = result.session;
      if (message.type === 'restart') clientLog.info({ round: session.round }, 'new game');
      logOutcome();
      broadcast([]);
    });
    ws.on('close', (code) => {
      sockets.delete(id);
      lastActivity = Date.now();
      const left = leave(session, id);
      session = left.session;
      clientLog.info({ code }, 'client left');
      broadcast(left.notices);
    });
    ws.on('error', (err) => clientLog.warn({ err: err.message }, 'socket error'));
  };

  // A browser that vanished without closing (laptop lid, lost network) must still free its seat.
  const heartbeat = setInterval(() => {
    for (const ws of sockets.values()) {
      if (!alive.has(ws)) {
        ws.terminate();
        continue;
      }
      alive.delete(ws);
      ws.ping();
    }
  }, options.heartbeatMs ?? 30_000);
  heartbeat.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  log.info({ port, serveStatus: options.serveStatus }, 'listening');

  return {
    port,
    close: async () => {
      clearInterval(heartbeat);
      for (const ws of sockets.values()) ws.close(1001, 'server shutting down');
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Clients get a moment to answer the close frame; whatever is still open after that is cut.
      const cut = setTimeout(() => {
        for (const ws of sockets.values()) ws.terminate();
        server.closeAllConnections();
      }, 2000);
      await closed;
      clearTimeout(cut);
      wss.close();
    },
  };
}

const CONFIG = {
  port: { flag: 'port', env: 'PORT', help: 'port to listen on (Spawner sets PORT from spec.httpPort)', default: 8080, parse: parsers.port },
  serveStatus: {
    flag: 'serve-status',
    env: 'SPAWNER_SERVE_STATUS',
    help: 'serve GET /status with the sidecar JSON (for SLBs with sidecar.enabled: false)',
    default: false,
    parse: parsers.bool,
  },
};

async function main(): Promise<void> {
  const config = loadConfigOrExit('drop-four', CONFIG);
  const log = createLogger('drop-four').child({ pod: process.env.HOSTNAME });
  const running = await startServer({ port: config.port, serveStatus: config.serveStatus, log });
  const stop = (signal: string) => {
    log.info({ signal }, 'shutting down');
    running.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

if (import.meta.main) {
  main().catch((err: unknown) => {
    process.stderr.write(`drop-four: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
