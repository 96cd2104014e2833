// Spawner's router, tested with the real nginx and the real route service: the config rendered by
// render.sh, the route service (router/) fed from tables in memory, and stand-in backends on loopback.
// This is the router's probe table: every way of asking for a session, and what each must get.

import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket, WebSocketServer } from 'ws';
import { findNginx, freePort, render, startNginx, type RunningNginx } from './nginx-harness.ts';
import { entry, startTestRouteService, type TestRouteService } from './route-harness.ts';

const NAMESPACE = 'spawner-backends';
const DEADLINE_MS = 15_000;
// Each wait below has its own deadline; the test as a whole gets room for several on a loaded machine.
jest.setTimeout(60_000);

const nginxBinary = findNginx();
if (!nginxBinary) {
  const banner = '!'.repeat(100);
  console.warn(
    `${banner}\nSKIPPING the nginx routing tests: no nginx binary found (PATH, /usr/sbin).\n` +
      `Install it with: sh manifests/nginx/test/install-deps.sh\n${banner}`,
  );
}
const describeWithNginx = nginxBinary ? describe : describe.skip;

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

interface Ask {
  headers?: Record<string, string>;
  method?: string;
  body?: string;
  from?: string; // the client's source address (127.x.y.z)
}

// A raw request: the path goes on the wire exactly as written (fetch would resolve "..").
function get(port: number, path: string, ask: Ask = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, headers: ask.headers, method: ask.method ?? 'GET', localAddress: ask.from, timeout: DEADLINE_MS, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout for ${path}`)));
    req.on('error', reject);
    req.end(ask.body);
  });
}

interface Seen {
  url: string;
  headers: IncomingHttpHeaders;
}

// The stand-in app behind every Ready backend; it records what reached it.
function startBackend(): Promise<{ server: Server; port: number; seen: Seen[]; releaseStream: () => void }> {
  let release: () => void = () => {};
  const seen: Seen[] = [];
  const server = createServer((req, res: ServerResponse) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    const status = /^\/status\/(\d{3})$/.exec(req.url ?? '');
    if (status) {
      res.writeHead(Number(status[1]), { 'content-type': 'text/plain' }).end(`from the backend: ${status[1]}`);
      return;
    }
    if (req.url === '/upload') {
      // Answers as soon as the first piece of the body arrives, and ends when the body does.
      let bytes = 0;
      req.on('data', (chunk: Buffer) => {
        if (bytes === 0) res.writeHead(200, { 'content-type': 'text/plain' }).write('first piece arrived\n');
        bytes += chunk.length;
      });
      req.on('end', () => res.end(`${bytes} bytes\n`));
      return;
    }
    if (req.url === '/stream') {
      // The first chunk goes out now; the response ends only when the test has seen that chunk.
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: first\n\n');
      release = () => res.end('data: last\n\n');
      return;
    }
    if (req.url === '/own-cookie') {
      res.writeHead(200, { 'set-cookie': 'app=1; Path=/' }).end('ok');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ url: req.url, headers: req.headers }));
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws, req) => {
    ws.send(JSON.stringify({ path: req.url, host: req.headers.host, cookie: req.headers.cookie ?? '' }));
    ws.on('message', (data) => ws.send(`echo: ${data.toString()}`));
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, seen, port: (server.address() as AddressInfo).port, releaseStream: () => release() }),
    ),
  );
}

async function closeBackend(b: { server: Server } | undefined): Promise<void> {
  if (!b) return;
  b.server.closeAllConnections();
  await new Promise((resolve) => b.server.close(resolve));
}

// Opens a WebSocket; resolves with what became of it: opened (and its first message), refused with an
// HTTP status, or closed by the server right after the handshake (code and reason).
type WsOutcome =
  | { kind: 'open'; ws: WebSocket; first: string }
  | { kind: 'refused'; status: number }
  | { kind: 'closed'; code: number; reason: string };

function openWs(url: string, options: { headers?: Record<string, string>; localAddress?: string; protocols?: string[] } = {}): Promise<WsOutcome> {
  const ws = new WebSocket(url, options.protocols ?? [], { headers: options.headers, localAddress: options.localAddress });
  return new Promise((resolve, reject) => {
    let opened = false;
    ws.once('unexpected-response', (_req, res) => resolve({ kind: 'refused', status: res.statusCode ?? 0 }));
    ws.once('open', () => (opened = true));
    ws.once('message', (data) => resolve({ kind: 'open', ws, first: data.toString() }));
    ws.once('close', (code, reason) => resolve({ kind: 'closed', code, reason: reason.toString() }));
    ws.once('error', (err) => (opened ? undefined : reject(err)));
  });
}

const gonePage = readFileSync(new URL('../gone.html', import.meta.url), 'utf8');
const waitingPage = readFileSync(new URL('../waiting.html', import.meta.url), 'utf8');

// Everything of an answer a client could tell apart, but the Date.
function comparable(r: Reply) {
  const { date: _date, ...headers } = r.headers;
  return { status: r.status, headers, body: r.body };
}

describeWithNginx('the router: /p/<name>/ through nginx and the route service', () => {
  let routes: TestRouteService;
  let backend: Awaited<ReturnType<typeof startBackend>>;
  let nginx: RunningNginx;
  const at = (path: string, ask?: Ask) => get(nginx.port, path, ask);
  const accessLog = () =>
    nginx
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  // Backends as the route service knows them. The uid of each is random; the tokens are minted for them.
  const alive = () => routes.cache.get('alive')!;
  let tokens: Record<string, string>;

  beforeAll(async () => {
    backend = await startBackend();
    routes = await startTestRouteService(NAMESPACE);
    const ready = (name: string, over = {}) => routes.cache.set(entry(name, { port: backend.port, ...over }));
    ready('alive');
    ready('drop-four-x7k2q');
    ready('open-house', { public: true });
    // Ready, but nothing listens at its address: a Pod that has just died.
    ready('just-died', { podIP: '127.0.0.2', port: await freePort() });
    routes.cache.set(entry('starting', { phase: 'Pending', podIP: undefined }));
    routes.cache.set(entry('crashed', { phase: 'Failed' }));
    routes.cache.set(entry('leaving', { phase: 'Terminating' }));
    routes.cache.set(entry('deleting', { deleting: true }));
    // Re-created under the same name: the first one's links must not open the second.
    routes.cache.set(entry('again', { port: backend.port }));
    const previous = entry('again');
    routes.cache.markDead(previous.uid);
    // Deleted: its uid is dead, its name unknown.
    const deleted = entry('deleted');
    routes.cache.markDead(deleted.uid);
    for (const e of routes.cache.entries.values()) routes.api.set(e.name, e);
    tokens = Object.fromEntries([...routes.cache.entries.values()].map((e) => [e.name, routes.tokenFor(e)]));
    tokens.previous = routes.tokenFor(previous);
    tokens.deleted = routes.tokenFor(deleted);
    tokens.otherNamespace = routes.tokenFor(alive(), 'default');
    nginx = await startNginx(nginxBinary!, { namespace: NAMESPACE, routePort: routes.service.port });
  });

  afterAll(async () => {
    await nginx?.stop();
    await routes?.close();
    await closeBackend(backend);
  });

  test('answers /healthz for the liveness probe', async () => {
    const reply = await at('/healthz');
    expect(reply.status).toBe(200);
    expect(reply.body).toBe('ok\n');
  });

  test('/readyz follows the route service: 200 when it is ready, 503 when it is not', async () => {
    expect((await at('/readyz')).status).toBe(200);
    routes.setReady(false);
    try {
      expect((await at('/readyz')).status).toBe(503);
    } finally {
      routes.setReady(true);
    }
    expect((await at('/readyz')).status).toBe(200);
  });

  test.each([
    ['/p/alive/?token=T', '/'],
    ['/p/alive/index.html?token=T', '/index.html'],
    ['/p/alive/hello/world?x=1&token=T&y=two', '/hello/world?x=1&y=two'],
    ['/p/alive/a%20b/c%2Fd?next=%2Fhome&token=T&q=/x', '/a%20b/c%2Fd?next=%2Fhome&q=/x'],
    ['/p/alive/?token=T&token=T', '/'],
    ['/p/alive/x?tok%65n=T', '/x'],
  ])('strips the prefix and the token: %s reaches the app as %s', async (path, seen) => {
    const reply = await at(path.replace(/=T/g, `=${tokens.alive}`));
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body).url).toBe(seen);
  });

  test('a token in the query sets a cookie scoped to the backend (HttpOnly, SameSite=Lax)', async () => {
    const reply = await at(`/p/alive/?token=${tokens.alive}`);
    expect(reply.status).toBe(200);
    expect(reply.headers['set-cookie']).toEqual([`spawner_token=${tokens.alive}; Path=/p/alive/; HttpOnly; SameSite=Lax`]);
  });

  test('the cookie alone opens the backend; the app sees its other cookies but not the token', async () => {
    const reply = await at('/p/alive/page?x=1', { headers: { cookie: `theme=dark; spawner_token=${tokens.alive}; lang=en` } });
    expect(reply.status).toBe(200);
    const seen = JSON.parse(reply.body);
    expect(seen.url).toBe('/page?x=1');
    expect(seen.headers.cookie).toBe('theme=dark; lang=en');
    expect(reply.headers['set-cookie']).toBeUndefined();
  });

  test('the app’s own Set-Cookie passes beside the access cookie', async () => {
    const reply = await at(`/p/alive/own-cookie?token=${tokens.alive}`);
    expect(reply.headers['set-cookie']).toEqual(expect.arrayContaining(['app=1; Path=/', expect.stringMatching(/^spawner_token=/)]));
  });

  test('the Referer the app sees has no token', async () => {
    const reply = await at('/p/alive/style.css', {
      headers: { cookie: `spawner_token=${tokens.alive}`, referer: `http://games.example/p/alive/?token=${tokens.alive}&room=7` },
    });
    expect(JSON.parse(reply.body).headers.referer).toBe('http://games.example/p/alive/?room=7');
  });

  test('passes the client host and adds X-Forwarded headers', async () => {
    const reply = await at(`/p/alive/headers?token=${tokens.alive}`, { headers: { host: 'games.example.test:8443', 'x-forwarded-for': '203.0.113.7' } });
    const { headers } = JSON.parse(reply.body);
    expect(headers.host).toBe('games.example.test:8443');
    expect(headers['x-forwarded-host']).toBe('games.example.test:8443');
    expect(headers['x-forwarded-proto']).toBe('http');
    expect(headers['x-forwarded-for']).toBe('203.0.113.7, 127.0.0.1');
    expect(headers['x-forwarded-prefix']).toBe('/p/alive');
  });

  test.each([
    ['/p/alive', '/p/alive/'],
    ['/p/alive?room=7&x=%2F', '/p/alive/?room=7&x=%2F'],
    ['/p/alive?token=abc', '/p/alive/?token=abc'],
    ['/p/not-started-yet', '/p/not-started-yet/'],
  ])('redirects %s to %s', async (path, location) => {
    const reply = await at(path);
    expect(reply.status).toBe(308);
    expect(reply.headers.location).toBe(location);
  });

  test.each([
    ['its cookie', (t: string) => ({ path: '/p/alive/socket?x=1', headers: { cookie: `spawner_token=${t}` } })],
    ['the token in its URL', (t: string) => ({ path: `/p/alive/socket?token=${t}&x=1`, headers: {} })],
  ])('carries a WebSocket opened with %s to the backend and back, without the token', async (_how, make) => {
    const { path, headers } = make(tokens.alive!);
    const outcome = await openWs(`ws://127.0.0.1:${nginx.port}${path}`, { headers });
    expect(outcome.kind).toBe('open');
    if (outcome.kind !== 'open') return;
    const { ws } = outcome;
    try {
      expect(JSON.parse(outcome.first)).toEqual({ path: '/socket?x=1', host: `127.0.0.1:${nginx.port}`, cookie: '' });
      const echo = new Promise<string>((resolve) => ws.once('message', (d) => resolve(d.toString())));
      ws.send('x'.repeat(100_000));
      expect(await echo).toBe(`echo: ${'x'.repeat(100_000)}`);
    } finally {
      ws.close();
    }
  });

  test('delivers a streamed response chunk by chunk', async () => {
    const body = await new Promise<string>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: nginx.port, path: `/p/alive/stream?token=${tokens.alive}` }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          text += chunk;
          // The backend ends the response only after this first chunk came through nginx.
          if (text.includes('first')) backend.releaseStream();
        });
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      req.end();
    });
    expect(body).toBe('data: first\n\ndata: last\n\n');
  });

  test('streams a request body to the backend as it arrives instead of buffering it', async () => {
    const body = await new Promise<string>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: nginx.port,
          path: '/p/alive/upload',
          method: 'POST',
          headers: { 'transfer-encoding': 'chunked', cookie: `spawner_token=${tokens.alive}` },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk) => {
            text += chunk;
            // The rest of the body is sent only once the backend has answered to the first piece.
            if (text === 'first piece arrived\n') req.end('b'.repeat(1000));
          });
          res.on('end', () => resolve(text));
        },
      );
      req.on('error', reject);
      req.write('a'.repeat(1000));
    });
    expect(body).toBe('first piece arrived\n2000 bytes\n');
  });

  test('shows the waiting page (503) while a backend with a valid token is starting, and sets its cookie', async () => {
    const reply = await at(`/p/starting/some/page?x=1&token=${tokens.starting}`);
    expect(reply.status).toBe(503);
    expect(reply.headers['retry-after']).toBe('2');
    expect(reply.headers['cache-control']).toBe('no-store');
    expect(reply.headers['x-spawner-waiting']).toBe('starting');
    expect(reply.headers['content-type']).toContain('text/html');
    expect(reply.headers['set-cookie']).toEqual([`spawner_token=${tokens.starting}; Path=/p/starting/; HttpOnly; SameSite=Lax`]);
    expect(reply.body).toBe(waitingPage);
  });

  test('shows the waiting page when a Ready backend’s Pod does not answer (it has just died)', async () => {
    const reply = await at(`/p/just-died/?token=${tokens['just-died']}`);
    expect(reply.status).toBe(503);
    expect(reply.headers['x-spawner-waiting']).toBe('starting');
  });

  // One answer for every way of not getting in: the ended-session page, 404, the same headers and bytes.
  const refusals: Array<[string, () => { path: string; headers?: Record<string, string> }]> = [
    ['an unknown name', () => ({ path: '/p/ghost/some/page?x=1' })],
    ['an unknown name with a made-up token', () => ({ path: `/p/ghost/some/page?x=1&token=${tokens.alive!.replace(/^./, 'B')}` })],
    ['a backend with no token', () => ({ path: '/p/alive/some/page?x=1' })],
    ['a backend with an empty token', () => ({ path: '/p/alive/some/page?x=1&token=' })],
    ['a backend with a wrong token', () => ({ path: `/p/alive/some/page?x=1&token=${'A'.repeat(44)}` })],
    ['a backend with a token of another backend', () => ({ path: `/p/alive/some/page?x=1&token=${tokens['drop-four-x7k2q']}` })],
    ['a backend with another backend’s cookie', () => ({ path: '/p/alive/some/page?x=1', headers: { cookie: `spawner_token=${tokens['drop-four-x7k2q']}` } })],
    ['a backend with the token of its namesake in another namespace', () => ({ path: `/p/alive/some/page?x=1&token=${tokens.otherNamespace}` })],
    ['a re-created name with its predecessor’s token (expired)', () => ({ path: `/p/again/some/page?x=1&token=${tokens.previous}` })],
    ['a deleted backend with its token (expired)', () => ({ path: `/p/deleted/some/page?x=1&token=${tokens.deleted}` })],
    ['a Failed backend with its token', () => ({ path: `/p/crashed/some/page?x=1&token=${tokens.crashed}` })],
    ['a Terminating backend with its token', () => ({ path: `/p/leaving/some/page?x=1&token=${tokens.leaving}` })],
    ['a backend being deleted with its token', () => ({ path: `/p/deleting/some/page?x=1&token=${tokens.deleting}` })],
  ];

  test.each(refusals)('%s gets the ended-session page (404), byte for byte the same', async (_what, make) => {
    const reference = comparable(await at('/p/ghost/some/page?x=1'));
    expect(reference.status).toBe(404);
    expect(reference.headers['x-spawner-waiting']).toBe('ended');
    expect(reference.headers['cache-control']).toBe('no-store');
    expect(reference.headers['set-cookie']).toBeUndefined();
    expect(reference.body).toBe(gonePage);
    const { path, headers } = make();
    const reads = routes.freshReads.length;
    expect(comparable(await at(path, { headers }))).toEqual(reference);
    // Known-dead uids and invalid tokens cost no read from the API server.
    expect(routes.freshReads.length).toBe(reads);
  });

  test.each(refusals)('a WebSocket to %s is closed with 4404 and a reason', async (_what, make) => {
    const { path, headers } = make();
    const outcome = await openWs(`ws://127.0.0.1:${nginx.port}${path}`, { headers, protocols: ['drop-four'] });
    expect(outcome).toEqual({ kind: 'closed', code: 4404, reason: 'session ended or does not exist' });
  });

  test('a WebSocket to a starting backend gets 503', async () => {
    expect(await openWs(`ws://127.0.0.1:${nginx.port}/p/starting/ws?token=${tokens.starting}`)).toEqual({ kind: 'refused', status: 503 });
  });

  test('a public backend opens without a token', async () => {
    const reply = await at('/p/open-house/');
    expect(reply.status).toBe(200);
    expect(reply.headers['set-cookie']).toBeUndefined();
  });

  describe('Ready means routable: a cache that has not seen Ready yet does not turn the client away', () => {
    test.each([
      ['missing from the cache (created and Ready before the informer heard of it)', undefined],
      ['Pending in the cache', 'Pending' as const],
    ])('%s: one fresh read, then the app answers', async (_what, cachedPhase) => {
      const name = `fresh-${cachedPhase ?? 'missing'}`.toLowerCase();
      const truth = entry(name, { port: backend.port });
      routes.api.set(name, truth);
      if (cachedPhase) routes.cache.set({ ...truth, phase: cachedPhase, podIP: undefined });
      const token = routes.tokenFor(truth);
      const reads = routes.freshReads.length;
      const reply = await at(`/p/${name}/?token=${token}`);
      expect(reply.status).toBe(200);
      expect(routes.freshReads.slice(reads)).toEqual([name]);
      const ws = await openWs(`ws://127.0.0.1:${nginx.port}/p/${name}/ws?token=${token}`);
      expect(ws.kind).toBe('open');
      if (ws.kind === 'open') ws.ws.close();
    });

    test('a backend that turned Failed stops being routable at once', async () => {
      const name = 'fails-now';
      const e = entry(name, { port: backend.port });
      routes.cache.set(e);
      const token = routes.tokenFor(e);
      expect((await at(`/p/${name}/?token=${token}`)).status).toBe(200);
      routes.cache.set({ ...e, phase: 'Failed' });
      const reply = await at(`/p/${name}/?token=${token}`);
      expect(reply.status).toBe(404);
      expect(reply.body).toBe(gonePage);
    });

    test('guesses never reach the API server: unknown names and invalid tokens are decided from the cache', async () => {
      const reads = routes.freshReads.length;
      for (const path of ['/p/nobody/', `/p/nobody/?token=${'A'.repeat(44)}`, '/p/starting/', `/p/starting/?token=${tokens.alive}`]) {
        expect((await at(path)).status).toBe(404);
      }
      expect(routes.freshReads.length).toBe(reads);
    });
  });

  test('logs the ended-session answer with the backend’s name, 404 and the verdict', async () => {
    await at('/p/logged-ghost/');
    const line = await waitForLogLine(() => accessLog().find((entry) => entry.name === 'logged-ghost'));
    expect(line).toMatchObject({ component: 'nginx', namespace: NAMESPACE, status: 404, verdict: 'ended', upstream: '' });
  });

  test('writes one JSON access-log line per request, naming the backend and the Pod it went to', async () => {
    await at(`/p/alive/logged?x=1&token=${tokens.alive}`);
    const line = await waitForLogLine(() => accessLog().find((entry) => entry.path === '/p/alive/logged'));
    expect(line).toMatchObject({ component: 'nginx', namespace: NAMESPACE, name: 'alive', status: 200, verdict: 'route' });
    expect(String(line.upstream)).toContain(`127.0.0.1:${backend.port}`);
  });

  test('no access token appears anywhere in nginx’s output, nor in any request the app received', async () => {
    await at(`/p/alive/?token=${tokens.alive}`);
    await at(`/p/starting/?token=${tokens.starting}`);
    await at(`/p/crashed/?token=${tokens.crashed}`);
    const output = nginx.output();
    const everythingTheAppSaw = JSON.stringify(backend.seen);
    for (const token of Object.values(tokens)) {
      expect(output).not.toContain(token);
      expect(everythingTheAppSaw).not.toContain(token);
    }
  });

  test.each([['//spawner/gone'], ['//spawner/waiting'], ['//spawner/route'], ['/%2Fspawner/waiting'], ['/spawner/gone'], ['/gone.html'], ['/waiting.html']])(
    'does not serve nginx’s own pages from outside: %s is a bare 404',
    async (path) => {
      const reply = await at(path);
      expect(reply.status).toBe(404);
      expect(reply.headers['x-spawner-waiting']).toBeUndefined();
      expect(reply.body).not.toContain('This session has ended');
      expect(reply.body).not.toContain('Starting your session');
    },
  );

  // nginx's static pages refuse POST with 405; the error_page URI turns the request into a GET first.
  test.each([
    ['starting', 503, 'starting', 'Starting your session'],
    ['ghost', 404, 'ended', 'This session has ended or does not exist'],
  ])('a POST to %s gets the same page as a GET (%d, %s)', async (name, status, marker, text) => {
    const reply = await at(`/p/${name}/form?token=${tokens[name] ?? ''}`, { method: 'POST', body: 'a=1' });
    expect(reply.status).toBe(status);
    expect(reply.headers['x-spawner-waiting']).toBe(marker);
    expect(reply.body).toContain(text);
  });

  test.each(['401', '403', '404', '500', '502', '503'])('passes the app’s own %s through', async (code) => {
    const reply = await at(`/p/alive/status/${code}?token=${tokens.alive}`);
    expect(reply.status).toBe(Number(code));
    expect(reply.body).toBe(`from the backend: ${code}`);
    expect(reply.headers['x-spawner-waiting']).toBeUndefined();
  });

  const longName = `a${'b'.repeat(62)}`; // 63 characters: still a DNS label
  test('accepts the longest valid name (and asks the route service about it)', async () => {
    const asked = routes.routeAsks();
    const reply = await at(`/p/${longName}/`);
    expect(reply.status).toBe(404);
    expect(reply.headers['x-spawner-waiting']).toBe('ended');
    expect(routes.routeAsks()).toBe(asked + 1);
  });

  test.each([
    '/',
    '/p/',
    '/p',
    '/other',
    '/p/../etc',
    '/p/../etc/passwd',
    '/p/a.evil.com/',
    '/p/a.evil.com',
    '/p/alive.other-namespace/',
    '/p/alive.default.svc.cluster.local/',
    '/p/kubernetes.default/',
    '/p/a%2Fb/',
    '/p/a%2fb/',
    '/p/alive%2F..%2Fx/',
    '/p/%61live/',
    '/p/A/',
    '/p/Alive/',
    '/p/-alive/',
    '/p/alive-/',
    '/p/1alive/',
    '/p/al_ive/',
    `/p/${longName}c/`,
    '/p/alive/../ghost/',
    '/p/x/../alive/',
    '/p/alive@evil.com/',
    '/p/alive:81/',
  ])('refuses %s with a bare 404 without asking the route service', async (path) => {
    const asked = routes.routeAsks();
    const reply = await at(path);
    expect(reply.status).toBe(404);
    expect(reply.headers['x-spawner-waiting']).toBeUndefined();
    expect(routes.routeAsks()).toBe(asked);
  });

  test('a NUL byte in the path is refused by nginx itself (400), before any routing', async () => {
    const asked = routes.routeAsks();
    expect((await at('/p/al%00ive/')).status).toBe(400);
    expect(routes.routeAsks()).toBe(asked);
  });
});

describeWithNginx('the router without its route service', () => {
  let nginx: RunningNginx;
  beforeAll(async () => {
    // Nothing listens on this port.
    nginx = await startNginx(nginxBinary!, { namespace: NAMESPACE, routePort: await freePort() });
  });
  afterAll(async () => nginx?.stop());

  test('is not ready, and answers the waiting page marked unavailable, never the ended page', async () => {
    expect((await get(nginx.port, '/readyz')).status).toBe(503);
    const reply = await get(nginx.port, '/p/alive/');
    expect(reply.status).toBe(503);
    expect(reply.headers['x-spawner-waiting']).toBe('unavailable');
    expect(reply.body).toBe(waitingPage);
  });
});

describeWithNginx('per-client limits: one client at its limit leaves the others served', () => {
  const LIMIT = 8;
  let routes: TestRouteService;
  let backend: Awaited<ReturnType<typeof startBackend>>;
  let nginx: RunningNginx;
  let token: string;
  beforeAll(async () => {
    backend = await startBackend();
    routes = await startTestRouteService(NAMESPACE);
    const e = entry('room', { port: backend.port });
    routes.cache.set(e);
    token = routes.tokenFor(e);
    nginx = await startNginx(nginxBinary!, {
      namespace: NAMESPACE,
      routePort: routes.service.port,
      env: { SPAWNER_CLIENT_CONNECTIONS: String(LIMIT), SPAWNER_CLIENT_REQUESTS_PER_SECOND: '1000', SPAWNER_CLIENT_REQUEST_BURST: '1000' },
    });
  });
  afterAll(async () => {
    await nginx?.stop();
    await routes?.close();
    await closeBackend(backend);
  });

  test(`a client holding ${LIMIT} WebSockets is refused the next (429); 20 requests of 20 other clients are all answered`, async () => {
    const held: WebSocket[] = [];
    try {
      for (let i = 0; i < LIMIT; i++) {
        const o = await openWs(`ws://127.0.0.1:${nginx.port}/p/room/ws?token=${token}`, { localAddress: '127.0.0.1' });
        expect(o.kind).toBe('open');
        if (o.kind === 'open') held.push(o.ws);
      }
      expect(await openWs(`ws://127.0.0.1:${nginx.port}/p/room/ws?token=${token}`, { localAddress: '127.0.0.1' })).toEqual({ kind: 'refused', status: 429 });
      expect((await get(nginx.port, `/p/room/?token=${token}`, { from: '127.0.0.1' })).status).toBe(429);
      const others = await Promise.all(Array.from({ length: 20 }, (_, i) => get(nginx.port, `/p/room/?token=${token}`, { from: `127.0.1.${i + 1}` })));
      expect(others.map((r) => r.status)).toEqual(Array(20).fill(200));
    } finally {
      for (const ws of held) ws.close();
    }
  });
});

describeWithNginx('per-client request rate', () => {
  let routes: TestRouteService;
  let nginx: RunningNginx;
  beforeAll(async () => {
    routes = await startTestRouteService(NAMESPACE);
    nginx = await startNginx(nginxBinary!, {
      namespace: NAMESPACE,
      routePort: routes.service.port,
      env: { SPAWNER_CLIENT_REQUESTS_PER_SECOND: '1', SPAWNER_CLIENT_REQUEST_BURST: '5' },
    });
  });
  afterAll(async () => {
    await nginx?.stop();
    await routes?.close();
  });

  test('a burst above the rate is refused with 429 for that client only', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await get(nginx.port, '/p/probe/', { from: '127.0.0.3' })).status);
    // 1 at the rate plus the burst of 5 (a second more may pass on a slow machine), then 429.
    expect(statuses.filter((s) => s === 404).length).toBeGreaterThanOrEqual(6);
    expect(statuses.slice(-3)).toEqual([429, 429, 429]);
    expect((await get(nginx.port, '/p/probe/', { from: '127.0.0.4' })).status).toBe(404);
  });
});

async function waitForLogLine(find: () => Record<string, unknown> | undefined): Promise<Record<string, unknown>> {
  const deadline = Date.now() + DEADLINE_MS;
  for (;;) {
    const line = find();
    if (line) return line;
    if (Date.now() > deadline) throw new Error('no such access-log line');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('render.sh', () => {
  const base = { SPAWNER_BACKEND_NAMESPACE: 'spawner-backends' };
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'spawner-render-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('fills in every placeholder, with defaults for the optional ones', () => {
    const result = render(dir, base);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const conf = readFileSync(join(dir, 'nginx.conf'), 'utf8');
    expect(conf).not.toContain('${');
    expect(conf).toContain('listen 8080 reuseport;');
    expect(conf).toContain('server 127.0.0.1:8090;');
    expect(conf).toContain('worker_processes auto;');
    expect(conf).toContain('worker_connections 8192;');
    expect(conf).toContain('worker_rlimit_nofile 16448;');
    expect(conf).toContain('limit_conn spawner_client_connections 256;');
    expect(conf).toContain('rate=20r/s;');
    expect(conf).toContain('burst=100 nodelay;');
    expect(conf).toContain('error_log stderr crit;');
    expect(conf).not.toContain('resolver');
    expect(readFileSync(join(dir, 'html', 'waiting.html'), 'utf8')).toContain('Starting your session');
    expect(readFileSync(join(dir, 'html', 'gone.html'), 'utf8')).toContain('This session has ended or does not exist');
  });

  test('takes the limits from the environment', () => {
    const result = render(dir, { ...base, SPAWNER_WORKER_PROCESSES: '4', SPAWNER_WORKER_CONNECTIONS: '1024', SPAWNER_CLIENT_CONNECTIONS: '32' });
    expect(result.status).toBe(0);
    const conf = readFileSync(join(dir, 'nginx.conf'), 'utf8');
    expect(conf).toContain('worker_processes 4;');
    expect(conf).toContain('worker_rlimit_nofile 2112;');
    expect(conf).toContain('limit_conn spawner_client_connections 32;');
  });

  test.each([
    ['SPAWNER_BACKEND_NAMESPACE', { SPAWNER_BACKEND_NAMESPACE: undefined }],
    ['SPAWNER_BACKEND_NAMESPACE', { SPAWNER_BACKEND_NAMESPACE: 'Backends' }],
    ['SPAWNER_BACKEND_NAMESPACE', { SPAWNER_BACKEND_NAMESPACE: 'a;b' }],
    ['SPAWNER_LISTEN_PORT', { SPAWNER_LISTEN_PORT: '0' }],
    ['SPAWNER_LISTEN_PORT', { SPAWNER_LISTEN_PORT: 'http' }],
    ['SPAWNER_ROUTE_PORT', { SPAWNER_ROUTE_PORT: '65536' }],
    ['SPAWNER_ROUTE_PORT', { SPAWNER_ROUTE_PORT: '8080' }],
    ['SPAWNER_WORKER_PROCESSES', { SPAWNER_WORKER_PROCESSES: '0' }],
    ['SPAWNER_WORKER_PROCESSES', { SPAWNER_WORKER_PROCESSES: 'many' }],
    ['SPAWNER_WORKER_CONNECTIONS', { SPAWNER_WORKER_CONNECTIONS: '10' }],
    ['SPAWNER_WORKER_RLIMIT_NOFILE', { SPAWNER_WORKER_CONNECTIONS: '4096', SPAWNER_WORKER_RLIMIT_NOFILE: '1000' }],
    ['SPAWNER_CLIENT_CONNECTIONS', { SPAWNER_CLIENT_CONNECTIONS: '0' }],
    ['SPAWNER_CLIENT_CONNECTIONS', { SPAWNER_CLIENT_CONNECTIONS: '65535' }],
    ['SPAWNER_CLIENT_REQUESTS_PER_SECOND', { SPAWNER_CLIENT_REQUESTS_PER_SECOND: '1.5' }],
    ['SPAWNER_CLIENT_REQUEST_BURST', { SPAWNER_CLIENT_REQUEST_BURST: '-1' }],
    ['SPAWNER_ERROR_LOG_LEVEL', { SPAWNER_ERROR_LOG_LEVEL: 'loud' }],
  ])('refuses a bad %s, naming it', (name, override) => {
    const result = render(join(dir, 'bad'), { ...base, ...override });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(name);
  });
});
