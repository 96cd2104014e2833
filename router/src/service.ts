// The route service: nginx's auth_request asks it, for every request under /p/<name>/, whether and
// where to route. It answers
//   200  X-Spawner-Upstream: podIP:port   the backend is Ready (or starting, and its app already
//                                         listens where Ready would wait for it: listening.ts): proxy there
//   403  X-Spawner-Verdict: starting      nginx shows the waiting page (503)
//   401  X-Spawner-Verdict: ended         nginx shows the ended-session page (404)
// (auth_request passes only 2xx, 401 and 403 through, hence these codes). A WebSocket upgrade that
// would be refused as ended is routed to this service's own /ended instead, which completes the
// handshake and closes with 4404 and a reason, so the page can say the session ended.
//
// Every request costs the same until the token is known to be valid: one token is verified (the URL's,
// else the cookie's), one cache lookup is made, and no API request is sent. Only a valid token whose
// backend the cache cannot show routable causes a read from the API server, before answering; when
// that read still shows it starting, its Pod is read and its port tried (listening.ts).
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Histogram, type Registry } from 'prom-client';
import { isBackendName } from '../../common/spawner/names.ts';
import { runChecks, type HealthCheck } from '../../common/kube/health.ts';
import { forBackend, type Logger } from '../../common/log.ts';
import { verifyAccessToken, type AccessKey } from '../../common/spawner/access.ts';
import { decideFromCache, decideFromFresh, STARTING, type Verdict } from './decide.ts';
import {
  accessCookie,
  H_COOKIE,
  H_REFERER,
  H_SET_COOKIE,
  H_UPSTREAM,
  H_URI,
  H_VERDICT,
  parseRouteRequest,
} from './request.ts';
import type { ListeningRouter } from './listening.ts';
import type { FreshReader, RouteTable } from './table.ts';
import { acceptAndClose, CLOSE_SESSION_ENDED, SESSION_ENDED_REASON } from './ws-close.ts';

export const ROUTE_PATH = '/route';
export const ENDED_PATH = '/ended';

export type CookieSecure = 'auto' | 'true' | 'false';

export interface RouteServiceOptions {
  namespace: string;
  key: AccessKey;
  table: RouteTable;
  fresh: FreshReader;
  // Routing a starting backend once its app listens (listening.ts); without it, starting until Ready.
  listening?: ListeningRouter;
  host: string; // loopback: only nginx, in the same Pod, may ask
  port: number; // 0: any free port
  cookieSecure: CookieSecure;
  readiness: HealthCheck[];
  registry: Registry;
  log: Logger;
  // The token check. Only bench/router replaces it (with one that checks nothing), to measure what the
  // check costs; the process (main.ts) never does.
  verify?: typeof verifyAccessToken;
}

export interface RouteService {
  port: number;
  address: string; // host:port, where nginx reaches /ended
  close(): Promise<void>;
}

export interface Answer {
  status: number;
  headers: Record<string, string>;
  verdict: Verdict['kind'];
  looked: boolean; // a fresh read was made
  // Routed before the backend is Ready: its port was just found listening, or was less than a few
  // seconds ago.
  early?: 'listening' | 'remembered';
}

interface Metrics {
  answers: Counter<'verdict' | 'source'>;
  lookups: Histogram<'outcome'>;
  listeningChecks: Histogram<'outcome'>;
}

function metrics(registry: Registry): Metrics {
  return {
    answers: new Counter({
      name: 'spawner_router_answers_total',
      help: 'Route answers by verdict (route, starting, ended) and what decided: the cache alone, a fresh read (lookup), a fresh read then the Pod found listening before Ready (listening), or such a route confirmed moments ago (remembered).',
      labelNames: ['verdict', 'source'],
      registers: [registry],
    }),
    lookups: new Histogram({
      name: 'spawner_router_lookup_seconds',
      help: 'Fresh reads of a backend from the API server (for a valid token the cache could not show routable).',
      labelNames: ['outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    listeningChecks: new Histogram({
      name: 'spawner_router_listening_check_seconds',
      help: "Checks of a starting backend's Pod (a Pod read, then a connect to its port when the Pod is the backend's and marked routable when listening), by outcome.",
      labelNames: ['outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
  };
}

type DecideOptions = Pick<RouteServiceOptions, 'namespace' | 'key' | 'table' | 'fresh' | 'listening' | 'cookieSecure' | 'log' | 'verify'>;

export async function decide(o: DecideOptions, headers: http.IncomingHttpHeaders, self: string, m?: Metrics): Promise<Answer> {
  const r = parseRouteRequest(headers);
  // nginx only asks for DNS labels; anything else is refused the same way as an unknown name.
  const name = isBackendName(r.name) ? r.name : '';
  // One check per request, whatever it carries: the token in the URL when there is one (an invitation
  // just followed), else the cookie's.
  const fromQuery = r.queryToken !== undefined;
  const token = (o.verify ?? verifyAccessToken)(o.key, o.namespace, name, fromQuery ? r.queryToken : r.cookieToken);
  const entry = name ? o.table.get(name) : undefined;

  let verdict: Verdict;
  let looked = false;
  let early: Answer['early'];
  const cached = decideFromCache(entry, token, (uid) => o.table.isDead(uid));
  const remembered = cached === 'lookup' ? o.listening?.remembered(token.uid) : undefined;
  if (cached !== 'lookup') {
    verdict = cached;
  } else if (remembered) {
    // Found listening moments ago, and the cache shows it neither ended nor gone: route without reading.
    verdict = { kind: 'route', upstream: remembered };
    early = 'remembered';
  } else {
    looked = true;
    const started = performance.now();
    try {
      const fresh = await o.fresh(name);
      if (!fresh || fresh.uid !== token.uid) o.table.markDead(token.uid);
      verdict = decideFromFresh(fresh, token);
      m?.lookups.observe({ outcome: 'ok' }, (performance.now() - started) / 1000);
      if (verdict.kind === 'starting' && fresh && o.listening) {
        const checkStarted = performance.now();
        const checked = await o.listening.check(fresh);
        m?.listeningChecks.observe({ outcome: checked.outcome }, (performance.now() - checkStarted) / 1000);
        if (checked.error) forBackend(o.log, o.namespace, name).warn({ err: checked.error }, "reading the starting backend's Pod failed; answering starting");
        if (checked.verdict.kind === 'route') {
          verdict = checked.verdict;
          early = checked.outcome === 'remembered' ? 'remembered' : 'listening';
        }
      }
    } catch (err) {
      // The API server cannot say. The token is valid, so the backend existed: "starting" keeps the
      // waiting page asking, where "ended" would send the user away for good.
      verdict = STARTING;
      m?.lookups.observe({ outcome: 'error' }, (performance.now() - started) / 1000);
      forBackend(o.log, o.namespace, name).warn({ err: err instanceof Error ? err.message : String(err) }, 'reading the backend failed; answering starting');
    }
  }
  m?.answers.inc({ verdict: verdict.kind, source: early ?? (looked ? 'lookup' : 'cache') });
  if ((looked || early || verdict.kind !== 'route') && o.log.isLevelEnabled('debug')) {
    forBackend(o.log, o.namespace, name || r.name.slice(0, 63)).debug({ verdict: verdict.kind, looked, early }, 'route answer');
  }

  const secure = o.cookieSecure === 'true' || (o.cookieSecure === 'auto' && r.https);
  const setCookie = fromQuery && token.valid && verdict.kind !== 'ended' ? accessCookie(name, r.queryToken!, secure) : '';
  switch (verdict.kind) {
    case 'route':
      return {
        status: 200,
        verdict: 'route',
        looked,
        ...(early ? { early } : {}),
        headers: {
          [H_VERDICT]: 'route',
          [H_UPSTREAM]: verdict.upstream,
          [H_URI]: r.appUri,
          [H_COOKIE]: r.appCookie,
          [H_REFERER]: r.appReferer,
          [H_SET_COOKIE]: setCookie,
        },
      };
    case 'starting':
      return { status: 403, verdict: 'starting', looked, headers: { [H_VERDICT]: 'starting', [H_SET_COOKIE]: setCookie } };
    case 'ended':
      if (r.upgrade) {
        return { status: 200, verdict: 'ended', looked, headers: { [H_VERDICT]: 'ended', [H_UPSTREAM]: self, [H_URI]: ENDED_PATH, [H_COOKIE]: '', [H_REFERER]: '', [H_SET_COOKIE]: '' } };
      }
      return { status: 401, verdict: 'ended', looked, headers: { [H_VERDICT]: 'ended' } };
  }
}

export async function startRouteService(o: RouteServiceOptions): Promise<RouteService> {
  const m = metrics(o.registry);
  let self = '';
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === ROUTE_PATH) {
      decide(o, req.headers, self, m).then(
        (a) => res.writeHead(a.status, { ...a.headers, 'content-length': '0' }).end(),
        (err: unknown) => {
          o.log.error({ err: err instanceof Error ? err.message : String(err) }, 'route answer failed');
          res.writeHead(500, { 'content-length': '0' }).end();
        },
      );
      return;
    }
    if (path === '/readyz' || path === '/healthz') {
      const result = runChecks(path === '/readyz' ? o.readiness : []);
      res.writeHead(result.ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(result));
      return;
    }
    res.writeHead(404, { 'content-length': '0' }).end();
  });
  server.on('upgrade', (req, socket) => {
    if ((req.url ?? '').split('?')[0] === ENDED_PATH) acceptAndClose(req, socket, CLOSE_SESSION_ENDED, SESSION_ENDED_REASON);
    else socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });
  // nginx keeps connections to this service open (upstream keepalive); never time them out first.
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  self = o.host.includes(':') ? `[${o.host}]:${port}` : `${o.host}:${port}`;
  return {
    port,
    address: self,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

