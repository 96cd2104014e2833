// Spawner's nginx routing, tested with the real nginx: the config rendered by render.sh, a DNS
// stand-in as its resolver, and stand-in backends on loopback.

import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket, WebSocketServer } from 'ws';
import { startDnsStandIn, type DnsStandIn } from './dns-stand-in.ts';
import { findNginx, render, startNginx, type RunningNginx } from './nginx-harness.ts';

const NAMESPACE = 'backends';
const DOMAIN = 'cluster.test';
const fqdn = (name: string) => `${name}.${NAMESPACE}.svc.${DOMAIN}`;
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

// A raw request: the path goes on the wire exactly as written (fetch would resolve "..").
function get(port: number, path: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, timeout: DEADLINE_MS }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout for ${path}`)));
    req.on('error', reject);
    req.end();
  });
}

// The stand-in backend behind every known name.
function startBackend(): Promise<{ server: Server; port: number; releaseStream: () => void }> {
  let release: () => void = () => {};
  const server = createServer((req, res: ServerResponse) => {
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
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ url: req.url, headers: req.headers }));
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws, req) => {
    ws.send(JSON.stringify({ path: req.url, host: req.headers.host }));
    ws.on('message', (data) => ws.send(`echo: ${data.toString()}`));
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as AddressInfo).port, releaseStream: () => release() })),
  );
}

describeWithNginx('nginx routing /p/<name>/ to the backends', () => {
  let dns: DnsStandIn;
  let backend: Awaited<ReturnType<typeof startBackend>>;
  let nginx: RunningNginx;
  const at = (path: string, headers?: Record<string, string>) => get(nginx.port, path, headers);
  const accessLog = () =>
    nginx
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  beforeAll(async () => {
    backend = await startBackend();
    dns = await startDnsStandIn(
      new Map([
        [fqdn('alive'), '127.0.0.1'],
        [fqdn('drop-four-x7k2q'), '127.0.0.1'],
        // Resolves, but nothing listens there: a Service whose pod is not ready yet.
        [fqdn('starting'), '127.0.0.2'],
      ]),
    );
    nginx = await startNginx(nginxBinary!, {
      namespace: NAMESPACE,
      clusterDomain: DOMAIN,
      resolver: `127.0.0.1:${dns.port}`,
      upstreamPort: backend.port,
    });
  });

  afterAll(async () => {
    await nginx?.stop();
    await dns?.close();
    backend?.server.closeAllConnections();
    await new Promise((resolve) => backend?.server.close(resolve));
  });

  test('answers /healthz for probes', async () => {
    const reply = await at('/healthz');
    expect(reply.status).toBe(200);
    expect(reply.body).toBe('ok\n');
  });

  test.each([
    ['/p/alive/', '/'],
    ['/p/alive/index.html', '/index.html'],
    ['/p/alive/hello/world?x=1&y=two', '/hello/world?x=1&y=two'],
    ['/p/alive/?', '/?'],
    ['/p/alive/a%20b/c%2Fd?next=%2Fhome&q=/x', '/a%20b/c%2Fd?next=%2Fhome&q=/x'],
    ['/p/drop-four-x7k2q/ws', '/ws'],
  ])('strips the prefix: %s reaches the backend as %s', async (path, seen) => {
    const reply = await at(path);
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body).url).toBe(seen);
  });

  test('passes the client host and adds X-Forwarded headers', async () => {
    const reply = await at('/p/alive/headers', { host: 'games.example.test:8443', 'x-forwarded-for': '203.0.113.7' });
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
    ['/p/not-started-yet', '/p/not-started-yet/'],
  ])('redirects %s to %s', async (path, location) => {
    const reply = await at(path);
    expect(reply.status).toBe(308);
    expect(reply.headers.location).toBe(location);
  });

  test('carries a WebSocket to the backend and back', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${nginx.port}/p/alive/socket?token=abc`);
    const received: string[] = [];
    const next = () =>
      new Promise<string>((resolve, reject) => {
        if (received.length) return resolve(received.shift()!);
        ws.once('message', () => resolve(received.shift()!));
        ws.once('error', reject);
      });
    ws.on('message', (data) => received.push(data.toString()));
    try {
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      expect(JSON.parse(await next())).toMatchObject({ path: '/socket?token=abc' });
      ws.send('hello through nginx');
      expect(await next()).toBe('echo: hello through nginx');
      ws.send('x'.repeat(100_000));
      expect(await next()).toBe(`echo: ${'x'.repeat(100_000)}`);
    } finally {
      ws.close();
    }
  });

  test('delivers a streamed response chunk by chunk', async () => {
    const body = await new Promise<string>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: nginx.port, path: '/p/alive/stream' }, (res) => {
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
        { host: '127.0.0.1', port: nginx.port, path: '/p/alive/upload', method: 'POST', headers: { 'transfer-encoding': 'chunked' } },
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

  test('shows the waiting page while the backend refuses connections', async () => {
    const reply = await at('/p/starting/some/page?x=1');
    expect(reply.status).toBe(503);
    expect(reply.headers['retry-after']).toBe('2');
    expect(reply.headers['cache-control']).toBe('no-store');
    expect(reply.headers['x-spawner-waiting']).toBe('starting');
    expect(reply.headers['content-type']).toContain('text/html');
    expect(reply.body).toBe(readFileSync(new URL('../waiting.html', import.meta.url), 'utf8'));
  });

  test('answers 404 with the ended-session page, marked unresolved, for a name with no Service', async () => {
    const reply = await at('/p/ghost/some/page?x=1');
    expect(reply.status).toBe(404);
    expect(reply.headers['cache-control']).toBe('no-store');
    expect(reply.headers['x-spawner-waiting']).toBe('unresolved');
    expect(reply.headers['retry-after']).toBeUndefined();
    expect(reply.headers['content-type']).toContain('text/html');
    expect(reply.body).toBe(readFileSync(new URL('../gone.html', import.meta.url), 'utf8'));
    expect(reply.body).toContain('This session has ended or does not exist');
    expect(dns.questions.map((q) => q.name)).toContain(fqdn('ghost'));
  });

  test('logs the ended-session answer with the backend’s name and status 404', async () => {
    await at('/p/logged-ghost/');
    const deadline = Date.now() + DEADLINE_MS;
    let line: Record<string, unknown> | undefined;
    while (!line && Date.now() < deadline) {
      line = accessLog().find((entry) => entry.name === 'logged-ghost');
      if (!line) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(line).toMatchObject({ component: 'nginx', namespace: NAMESPACE, status: 404, upstream: '' });
  });

  test.each([
    ['//spawner/gone'],
    ['//spawner/waiting'],
    ['/%2Fspawner/waiting'],
    ['/spawner/gone'],
    ['/gone.html'],
    ['/waiting.html'],
  ])('does not serve nginx’s own pages from outside: %s is a bare 404', async (path) => {
    const reply = await at(path);
    expect(reply.status).toBe(404);
    expect(reply.headers['x-spawner-waiting']).toBeUndefined();
    expect(reply.body).not.toContain('This session has ended');
    expect(reply.body).not.toContain('Starting your session');
  });

  test.each([
    ['starting', 503],
    ['ghost', 404],
  ])('a WebSocket to %s, which is not up, gets %d', async (name, expected) => {
    const ws = new WebSocket(`ws://127.0.0.1:${nginx.port}/p/${name}/ws`);
    const status = await new Promise<number>((resolve) => {
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.once('open', () => resolve(101));
      ws.once('error', () => resolve(0));
    });
    expect(status).toBe(expected);
  });

  // nginx's static pages refuse POST with 405; the error_page URI turns the request into a GET first.
  test.each([
    ['starting', 503, 'starting', 'Starting your session'],
    ['ghost', 404, 'unresolved', 'This session has ended or does not exist'],
  ])('a POST to %s gets the same page as a GET (%d, %s)', async (name, status, marker, text) => {
    const reply = await new Promise<Reply>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: nginx.port, path: `/p/${name}/form`, method: 'POST' }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end('a=1');
    });
    expect(reply.status).toBe(status);
    expect(reply.headers['x-spawner-waiting']).toBe(marker);
    expect(reply.body).toContain(text);
  });

  test('shows the waiting page for a 502 from the sidecar (app not listening yet)', async () => {
    const reply = await at('/p/alive/status/502');
    expect(reply.status).toBe(503);
    expect(reply.headers['x-spawner-waiting']).toBe('starting');
  });

  test.each(['404', '500', '503'])('passes the backend’s own %s through', async (code) => {
    const reply = await at(`/p/alive/status/${code}`);
    expect(reply.status).toBe(Number(code));
    expect(reply.body).toBe(`from the backend: ${code}`);
    expect(reply.headers['x-spawner-waiting']).toBeUndefined();
  });

  const longName = `a${'b'.repeat(62)}`; // 63 characters: still a DNS label
  test('accepts the longest valid name (and asks DNS about it)', async () => {
    const reply = await at(`/p/${longName}/`);
    expect(reply.status).toBe(404);
    expect(reply.headers['x-spawner-waiting']).toBe('unresolved');
    expect(dns.questions.map((q) => q.name)).toContain(fqdn(longName));
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
  ])('refuses %s with 404 and no DNS question', async (path) => {
    const asked = dns.questions.length;
    const reply = await at(path);
    expect(reply.status).toBe(404);
    expect(reply.headers['x-spawner-waiting']).toBeUndefined();
    expect(dns.questions.slice(asked)).toEqual([]);
  });

  test('a NUL byte in the path is refused by nginx itself (400), before any routing', async () => {
    const asked = dns.questions.length;
    expect((await at('/p/al%00ive/')).status).toBe(400);
    expect(dns.questions.slice(asked)).toEqual([]);
  });

  test('writes one JSON access-log line per request, naming the backend', async () => {
    await at('/p/alive/logged?x=1');
    const deadline = Date.now() + DEADLINE_MS;
    let line: Record<string, unknown> | undefined;
    while (!line && Date.now() < deadline) {
      line = accessLog().find((entry) => entry.path === '/p/alive/logged');
      if (!line) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(line).toMatchObject({ component: 'nginx', namespace: NAMESPACE, name: 'alive', status: 200 });
  });
});

describe('render.sh', () => {
  const base = { SPAWNER_BACKEND_NAMESPACE: 'backends', SPAWNER_RESOLVER: '10.96.0.10' };
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
    expect(conf).toContain('listen 8080;');
    expect(conf).toContain('resolver 10.96.0.10 valid=5s ipv6=off;');
    expect(conf).toContain('proxy_pass http://$spawner_backend.backends.svc.cluster.local:80$spawner_rest;');
    expect(readFileSync(join(dir, 'html', 'waiting.html'), 'utf8')).toContain('Starting your session');
    expect(readFileSync(join(dir, 'html', 'gone.html'), 'utf8')).toContain('This session has ended or does not exist');
  });

  test.each([
    ['SPAWNER_BACKEND_NAMESPACE', { SPAWNER_BACKEND_NAMESPACE: undefined }],
    ['SPAWNER_BACKEND_NAMESPACE', { SPAWNER_BACKEND_NAMESPACE: 'Backends' }],
    ['SPAWNER_BACKEND_NAMESPACE', { SPAWNER_BACKEND_NAMESPACE: 'a;b' }],
    ['SPAWNER_CLUSTER_DOMAIN', { SPAWNER_CLUSTER_DOMAIN: 'cluster.local;' }],
    ['SPAWNER_LISTEN_PORT', { SPAWNER_LISTEN_PORT: '0' }],
    ['SPAWNER_LISTEN_PORT', { SPAWNER_LISTEN_PORT: 'http' }],
    ['SPAWNER_UPSTREAM_PORT', { SPAWNER_UPSTREAM_PORT: '65536' }],
    ['SPAWNER_RESOLVER', { SPAWNER_RESOLVER: '10.0.0.1; include /etc/passwd' }],
  ])('refuses a bad %s, naming it', (name, override) => {
    const result = render(join(dir, 'bad'), { ...base, ...override });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(name);
  });
});
