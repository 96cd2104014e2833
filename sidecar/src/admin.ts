// The admin port: never routed to by nginx, read by the kubelet (probes) and the sweeper.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { http } from '../../common/node-http.ts';
import type { ActivityTracker } from './activity.ts';
import { SSE_HEADERS, type EventHub } from './events.ts';

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}

function text(res: ServerResponse, status: number, body: string): void {
  send(res, status, 'text/plain; charset=utf-8', body);
}

export function createAdminServer(tracker: ActivityTracker, events: EventHub): Server {
  return http.createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return text(res, 405, 'method not allowed\n');
    }
    switch (path) {
      case '/status':
        return send(res, 200, 'application/json', JSON.stringify(tracker.snapshot()));
      case '/healthz':
        return text(res, 200, 'ok\n');
      case '/readyz':
        return tracker.ready ? text(res, 200, 'ready\n') : text(res, 503, tracker.listening ? 'draining\n' : 'app not listening\n');
      case '/events':
        if (req.method === 'HEAD') return void res.writeHead(200, SSE_HEADERS).end();
        return events.subscribe(res);
      default:
        return text(res, 404, 'not found: the admin port serves /status, /events, /healthz, /readyz\n');
    }
  });
}
