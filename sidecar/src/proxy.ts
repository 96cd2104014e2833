// The proxy port: every request and upgrade goes to the app unchanged but for hop-by-hop headers and
// X-Forwarded-*. Bodies are piped (back-pressure both ways, never buffered whole); upgraded
// connections are spliced byte for byte. Every start and end is reported to the ActivityTracker.
import type { ClientRequest, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { http } from '../../common/node-http.ts';
import type { ActivityTracker } from './activity.ts';
import { formatResponseHead, forwardRequestHeaders, forwardResponseHeaders, refusedUpgradeHeaders } from './headers.ts';
import type { Log } from './log.ts';

export interface UpstreamReporter {
  reportReached(): void;
  reportRefused(): void;
}

export interface ProxyOptions {
  upstreamHost: string;
  upstreamPort: number;
  tracker: ActivityTracker;
  upstream: UpstreamReporter;
  log: Log;
}

export interface Proxy {
  server: Server;
  // Upgraded connections are no longer the server's: shutdown closes them through this.
  destroyUpgraded(): void;
  // Frees the keep-alive sockets to the app.
  destroyAgent(): void;
}

// A short plain-text reason, so a user looking at the page knows the app, not the network, is down.
export function badGatewayText(host: string, port: number, err: NodeJS.ErrnoException): string {
  if (err.code === 'ECONNREFUSED') return `502 Bad Gateway: the app is not listening on ${host}:${port}\n`;
  return `502 Bad Gateway: the app on ${host}:${port} failed: ${err.code ?? err.message}\n`;
}

function hasNoBody(req: IncomingMessage): boolean {
  return req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined;
}

export function createProxy(options: ProxyOptions): Proxy {
  const { upstreamHost, upstreamPort, tracker, upstream, log } = options;
  // LIFO keeps a few warm sockets busy instead of cycling through many; no cap on concurrency, as the
  // app's own limits are the ones that count.
  const agent = new http.Agent({ keepAlive: true, scheduling: 'lifo', maxFreeSockets: 256 });
  // Spliced connections, client side to app side: shutdown closes both at once rather than letting
  // the app's side linger half-closed.
  const upgraded = new Map<Socket, Socket>();

  const server = http.createServer({
    // Long uploads and long polls are the app's business; only slow headers are cut off.
    requestTimeout: 0,
    // Longer than the idle timeouts of proxies in front (nginx keeps idle upstream connections 60 s),
    // so the sidecar is never the side that closes a connection just as a request is sent on it.
    keepAliveTimeout: 65_000,
  });

  function upstreamRequest(req: IncomingMessage, upgrade: boolean): ClientRequest {
    return http.request({
      host: upstreamHost,
      port: upstreamPort,
      method: req.method,
      path: req.url,
      headers: forwardRequestHeaders(req.rawHeaders, { remoteAddress: req.socket.remoteAddress, method: req.method ?? 'GET', upgrade }),
      agent: upgrade ? false : agent,
    });
  }

  function onFailure(err: NodeJS.ErrnoException): string {
    if (err.code === 'ECONNREFUSED') upstream.reportRefused();
    log.debug({ err: err.code ?? err.message }, 'upstream request failed');
    return badGatewayText(upstreamHost, upstreamPort, err);
  }

  function forward(req: IncomingMessage, res: ServerResponse, retried: boolean): void {
    const upstreamReq = upstreamRequest(req, false);
    upstreamReq.on('response', (upstreamRes) => {
      upstream.reportReached();
      res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, forwardResponseHeaders(upstreamRes.rawHeaders));
      upstreamRes.pipe(res);
      // pipe() neither ends nor destroys the client on a truncated body: cut the client off so it
      // sees the truncation instead of waiting forever.
      upstreamRes.on('error', () => res.destroy());
      upstreamRes.on('close', () => {
        if (!upstreamRes.complete) res.destroy();
      });
    });
    upstreamReq.on('error', (err: NodeJS.ErrnoException) => {
      // The app may close an idle keep-alive socket just as we reuse it; a request without a body
      // is safe to send again, once.
      if (!retried && upstreamReq.reusedSocket && err.code === 'ECONNRESET' && !res.headersSent && hasNoBody(req)) {
        forward(req, res, true);
        return;
      }
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const text = onFailure(err);
      res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    });
    res.on('close', () => {
      // The client went away before the response was complete: release the app's side too.
      if (!res.writableFinished) upstreamReq.destroy();
    });
    // A request without a body (most are GETs) has nothing to pipe, and a pipe costs a tenth of
    // what a proxied request allocates; a retry happens after the (empty) request has been read.
    if (req.readableEnded || hasNoBody(req)) upstreamReq.end();
    else req.pipe(upstreamReq);
  }

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    tracker.requestStarted();
    res.once('close', () => tracker.requestEnded());
    // While draining, every response closes its connection so clients move to another pod.
    if (tracker.draining) res.shouldKeepAlive = false;
    req.on('error', noop);
    res.on('error', noop);
    forward(req, res, false);
  });

  // Defined here, not in the upgrade handler, so that what an open connection keeps alive is its two
  // sockets: a closure made in the handler would hold the handler's whole scope (the request, the
  // app's response, the request to the app) for as long as the connection lasts.
  function spliceUpgraded(client: Socket, app: Socket): void {
    upgraded.set(client, app);
    splice(client, app, () => {
      upgraded.delete(client);
      tracker.upgradeClosed();
    });
  }

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const client = socket as Socket;
    tracker.requestStarted();
    let state: 'pending' | 'spliced' | 'relayed' | 'done' = 'pending';
    // Bytes the client sends before the app agreed to switch protocols are held back (a little of
    // them: past that the client is paused). Reading them is also what reveals a client that left.
    const early: Buffer[] = [];
    let earlyBytes = head.length;
    if (head.length > 0) early.push(head);
    const holdEarly = (chunk: Buffer) => {
      early.push(chunk);
      earlyBytes += chunk.length;
      if (earlyBytes > EARLY_BYTES_LIMIT) client.pause();
    };
    client.on('data', holdEarly);
    const onClientEnd = () => {
      if (state === 'pending') client.destroy();
    };
    client.once('end', onClientEnd);
    const endRequest = () => {
      if (state === 'pending' || state === 'relayed') tracker.requestEnded();
      state = 'done';
    };
    client.on('error', noop);
    const upstreamReq = upstreamRequest(req, true);
    const onClientClose = () => {
      if (state !== 'spliced') {
        upstreamReq.destroy();
        endRequest();
      }
    };
    client.once('close', onClientClose);

    upstreamReq.on('upgrade', (upstreamRes: IncomingMessage, appSocket: Socket, appHead: Buffer) => {
      upstream.reportReached();
      if (state !== 'pending' || client.destroyed) {
        appSocket.destroy();
        return;
      }
      state = 'spliced';
      tracker.requestUpgraded();
      client.write(formatResponseHead(upstreamRes.statusCode ?? 101, upstreamRes.statusMessage ?? 'Switching Protocols', upstreamRes.rawHeaders));
      if (appHead.length > 0) client.write(appHead);
      client.off('data', holdEarly);
      // From here the splice owns both sockets. Dropping the handlers that refer to the request
      // objects lets them be collected: an idle WebSocket should cost its two sockets and little else.
      client.off('close', onClientClose);
      client.off('end', onClientEnd);
      for (const chunk of early) appSocket.write(chunk);
      early.length = 0;
      spliceUpgraded(client, appSocket);
    });

    upstreamReq.on('response', (upstreamRes: IncomingMessage) => {
      upstream.reportReached();
      if (state !== 'pending') return upstreamRes.destroy();
      state = 'relayed';
      client.off('data', holdEarly);
      early.length = 0;
      client.write(formatResponseHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage ?? '', refusedUpgradeHeaders(upstreamRes.rawHeaders)));
      upstreamRes.pipe(client);
      upstreamRes.on('error', () => client.destroy());
    });

    upstreamReq.on('error', (err: NodeJS.ErrnoException) => {
      if (state !== 'pending') {
        client.destroy();
        return;
      }
      const text = onFailure(err);
      client.end(
        formatResponseHead(502, 'Bad Gateway', [
          'Content-Type', 'text/plain; charset=utf-8',
          'Content-Length', String(Buffer.byteLength(text)),
          'Connection', 'close',
        ]) + text,
      );
    });
    upstreamReq.end();
  });

  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (socket.writable && err.code !== 'ECONNRESET') socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  return {
    server,
    destroyUpgraded: () => {
      for (const [client, app] of upgraded) {
        client.destroy();
        app.destroy();
      }
    },
    destroyAgent: () => agent.destroy(),
  };
}

// Two sockets become one pipe. An end on one side half-closes the other (pipe); a side that closes
// cleanly lets the other flush and end, one that fails takes the other down at once; `onClosed` runs
// exactly once, when both are closed.
function splice(client: Socket, app: Socket, onClosed: () => void): void {
  client.setNoDelay(true);
  app.setNoDelay(true);
  // A peer that vanished without a FIN must not keep the backend alive forever.
  client.setKeepAlive(true, 60_000);
  app.on('error', noop);
  let open = 2;
  const closedThen = (other: Socket) => (hadError: boolean) => {
    if (--open === 0) return onClosed();
    if (hadError) return other.destroy();
    other.end();
    // Its peer may never answer our FIN; nothing can reach it any more anyway.
    other.setTimeout(HALF_CLOSED_LINGER_MS, () => other.destroy());
  };
  client.once('close', closedThen(app));
  app.once('close', closedThen(client));
  client.pipe(app);
  app.pipe(client);
  client.resume();
}

const HALF_CLOSED_LINGER_MS = 10_000;
const EARLY_BYTES_LIMIT = 64 * 1024;

function noop(): void {}
