// The proxy port against a real app on loopback: HTTP semantics, streaming, failures.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createHash } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { BackendActivity } from '../../common/contract.ts';
import type { Sidecar } from '../src/sidecar.ts';
import { closedPort, getJson, readBody, request, startTestSidecar, startUpstream, waitFor, type Upstream } from './helpers.ts';

const MB = 1024 * 1024;

// Deterministic content, so a corrupted or reordered stream shows up in the digest.
function block(index: number, size = MB): Buffer {
  return Buffer.alloc(size, index % 251);
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

// Per-test hooks the app's routes call into.
const hooks = {
  downloadFirstBlockSeen: deferred(),
  uploadFirstBytesSeen: deferred(),
  hangingRequestClosed: deferred(),
  hangingRequestArrived: deferred(),
};

async function app(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://x');
  switch (url.pathname) {
    case '/echo': {
      const body = await readBody(req);
      res.setHeader('content-type', 'application/json');
      res.setHeader('set-cookie', ['a=1', 'b=2']);
      res.end(JSON.stringify({ method: req.method, url: req.url, rawHeaders: req.rawHeaders, headers: req.headers, body: body.toString() }));
      return;
    }
    case '/download': {
      // 20 blocks; the rest is only sent once the client has the first one, so a proxy that
      // buffers whole bodies makes this hang.
      const blocks = Number(url.searchParams.get('blocks'));
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': blocks * MB });
      res.write(block(0));
      await hooks.downloadFirstBlockSeen.promise;
      for (let i = 1; i < blocks; i++) {
        if (!res.write(block(i))) await new Promise((r) => res.once('drain', r));
      }
      res.end();
      return;
    }
    case '/upload': {
      const hash = createHash('sha256');
      let bytes = 0;
      req.on('data', (chunk: Buffer) => {
        if (bytes === 0) hooks.uploadFirstBytesSeen.resolve();
        bytes += chunk.length;
        hash.update(chunk);
      });
      req.on('end', () => res.end(JSON.stringify({ bytes, sha256: hash.digest('hex'), te: req.headers['transfer-encoding'] ?? null })));
      return;
    }
    case '/chunked': {
      res.writeHead(200, { 'content-type': 'text/plain' });
      for (const piece of ['one ', 'two ', 'three']) res.write(piece);
      res.end();
      return;
    }
    case '/hang': {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('started');
      hooks.hangingRequestArrived.resolve();
      res.on('close', () => hooks.hangingRequestClosed.resolve());
      return;
    }
    case '/truncate': {
      res.writeHead(200, { 'content-length': 1000 });
      res.write('only part');
      setImmediate(() => res.socket?.destroy());
      return;
    }
    default:
      res.writeHead(404).end();
  }
}

let upstream: Upstream;
let sidecar: Sidecar;

beforeAll(async () => {
  upstream = await startUpstream((req, res) => void app(req, res));
  sidecar = await startTestSidecar(upstream.port);
  await waitFor(() => sidecar.tracker.listening, 'the sidecar to see the app');
});

afterAll(async () => {
  await sidecar.shutdown();
  await upstream.close();
});

describe('HTTP through the proxy', () => {
  test.each(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'PROPFIND', 'PURGE'])('%s reaches the app with its body', async (method) => {
    const body = method === 'GET' || method === 'OPTIONS' ? undefined : `payload of ${method}`;
    const reply = await request(sidecar.proxyPort, { method, path: '/echo?q=1', body, headers: body ? { 'content-length': Buffer.byteLength(body) } : {} });
    expect(reply.status).toBe(200);
    const seen = JSON.parse(reply.body.toString());
    expect(seen).toMatchObject({ method, url: '/echo?q=1', body: body ?? '' });
  });

  test('HEAD gets the headers and no body', async () => {
    const reply = await request(sidecar.proxyPort, { method: 'HEAD', path: '/chunked' });
    expect(reply.status).toBe(200);
    expect(reply.body.length).toBe(0);
  });

  test('the app’s own paths are all reachable, including ones that look like the admin port’s', async () => {
    for (const path of ['/status', '/events', '/_events', '/healthz']) {
      const reply = await request(sidecar.proxyPort, { path });
      expect(reply.status).toBe(404); // the app's 404, not the sidecar's
    }
  });

  test('headers: Host preserved, names and repeats kept, X-Forwarded-* appended, hop-by-hop dropped', async () => {
    const reply = await request(sidecar.proxyPort, {
      path: '/echo',
      setHost: false,
      headers: [
        'Host', 'public.example:8443',
        'X-Custom-Case', 'kept',
        'X-Forwarded-For', '203.0.113.9',
        'X-Forwarded-Proto', 'https',
        'Connection', 'keep-alive, X-Per-Hop',
        'X-Per-Hop', 'secret',
        'Accept', 'a',
        'Accept', 'b',
      ] as unknown as http.OutgoingHttpHeaders,
    });
    const seen = JSON.parse(reply.body.toString());
    expect(seen.headers.host).toBe('public.example:8443');
    expect(seen.headers['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('https, http');
    expect(seen.headers['x-forwarded-host']).toBe('public.example:8443');
    expect(seen.headers['x-per-hop']).toBeUndefined();
    expect(seen.rawHeaders).toContain('X-Custom-Case');
    expect(seen.headers.accept).toBe('a, b');
    // Response side: repeated Set-Cookie survives.
    expect(reply.headers['set-cookie']).toEqual(['a=1', 'b=2']);
  });

  test('chunked bodies both ways', async () => {
    const down = await request(sidecar.proxyPort, { path: '/chunked' });
    expect(down.headers['transfer-encoding']).toBe('chunked');
    expect(down.body.toString()).toBe('one two three');

    const up = await new Promise<string>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: sidecar.proxyPort, method: 'POST', path: '/upload', agent: false }, (res) => {
        readBody(res).then((b) => resolve(b.toString()), reject);
      });
      req.on('error', reject);
      req.write('abc');
      req.write('def');
      req.end('ghi');
    });
    expect(JSON.parse(up)).toEqual({ bytes: 9, sha256: createHash('sha256').update('abcdefghi').digest('hex'), te: 'chunked' });
  });

  test('keep-alive: sequential requests share one client connection and one app connection', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const appConnectionsBefore = upstream.connections;
    const clientPorts = new Set<number>();
    try {
      for (let i = 0; i < 5; i++) {
        await new Promise<void>((resolve, reject) => {
          const req = http.get({ host: '127.0.0.1', port: sidecar.proxyPort, path: '/chunked', agent }, (res) => {
            clientPorts.add(res.socket.localPort!);
            readBody(res).then(() => resolve(), reject);
          });
          req.on('error', reject);
        });
      }
    } finally {
      agent.destroy();
    }
    expect(clientPorts.size).toBe(1);
    expect(upstream.connections - appConnectionsBefore).toBeLessThanOrEqual(1);
  });

  test('20 MB download streams: the client has the first block before the app sends the rest', async () => {
    hooks.downloadFirstBlockSeen = deferred();
    const blocks = 20;
    const result = await new Promise<{ bytes: number; sha256: string }>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: sidecar.proxyPort, path: `/download?blocks=${blocks}`, agent: false }, (res) => {
          const hash = createHash('sha256');
          let bytes = 0;
          res.on('data', (chunk: Buffer) => {
            bytes += chunk.length;
            hash.update(chunk);
            if (bytes >= MB) hooks.downloadFirstBlockSeen.resolve();
          });
          res.on('end', () => resolve({ bytes, sha256: hash.digest('hex') }));
          res.on('error', reject);
        })
        .on('error', reject);
    });
    const expected = createHash('sha256');
    for (let i = 0; i < blocks; i++) expected.update(block(i));
    expect(result).toEqual({ bytes: blocks * MB, sha256: expected.digest('hex') });
  }, 60_000);

  test('20 MB upload streams: the app has the first bytes before the client sends the rest', async () => {
    hooks.uploadFirstBytesSeen = deferred();
    const blocks = 20;
    const reply = new Promise<string>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port: sidecar.proxyPort, method: 'PUT', path: '/upload', agent: false, headers: { 'content-length': blocks * MB } },
        (res) => readBody(res).then((b) => resolve(b.toString()), reject),
      );
      req.on('error', reject);
      void (async () => {
        req.write(block(0));
        await hooks.uploadFirstBytesSeen.promise;
        for (let i = 1; i < blocks; i++) {
          if (!req.write(block(i))) await new Promise((r) => req.once('drain', r));
        }
        req.end();
      })();
    });
    const expected = createHash('sha256');
    for (let i = 0; i < blocks; i++) expected.update(block(i));
    expect(JSON.parse(await reply)).toEqual({ bytes: blocks * MB, sha256: expected.digest('hex'), te: null });
  }, 60_000);

  test('a client that goes away mid-response releases the app’s request', async () => {
    hooks.hangingRequestClosed = deferred();
    hooks.hangingRequestArrived = deferred();
    await new Promise<void>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: sidecar.proxyPort, path: '/hang', agent: false }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => {});
      setTimeout(() => reject(new Error('no first bytes')), 10_000).unref();
    });
    await hooks.hangingRequestClosed.promise;
    await waitFor(() => sidecar.tracker.inFlightRequests === 0, 'the request to be counted as ended');
  });

  test('a client that goes away mid-upload releases the app’s request', async () => {
    hooks.uploadFirstBytesSeen = deferred();
    const appClosed = deferred();
    const onRequest = (req: IncomingMessage) => {
      if (req.url === '/upload') req.once('close', () => appClosed.resolve());
    };
    upstream.server.on('request', onRequest);
    try {
      const req = http.request({ host: '127.0.0.1', port: sidecar.proxyPort, method: 'POST', path: '/upload', agent: false, headers: { 'content-length': 10 * MB } });
      req.on('error', () => {});
      req.write(block(0));
      await hooks.uploadFirstBytesSeen.promise;
      req.destroy();
      await appClosed.promise;
      await waitFor(() => sidecar.tracker.inFlightRequests === 0, 'the request to be counted as ended');
    } finally {
      upstream.server.off('request', onRequest);
    }
  });

  test('an app that dies mid-body cuts the client off instead of leaving it waiting', async () => {
    const outcome = await new Promise<string>((resolve) => {
      http
        .get({ host: '127.0.0.1', port: sidecar.proxyPort, path: '/truncate', agent: false }, (res) => {
          res.on('data', () => {});
          res.on('end', () => resolve('end'));
          res.on('error', () => resolve('error'));
        })
        .on('error', () => resolve('error'));
    });
    expect(outcome).toBe('error');
  });
});

describe('app not listening', () => {
  test('502 with a short plain-text reason, and the status says not listening', async () => {
    const port = await closedPort();
    const down = await startTestSidecar(port);
    try {
      const reply = await request(down.proxyPort, { path: '/anything' });
      expect(reply.status).toBe(502);
      expect(reply.headers['content-type']).toBe('text/plain; charset=utf-8');
      expect(reply.body.toString()).toBe(`502 Bad Gateway: the app is not listening on 127.0.0.1:${port}\n`);
      const status = await getJson<BackendActivity>(down.adminPort, '/status');
      expect(status).toMatchObject({ active_connections: 0, listening: false, ready: false });
      expect((await request(down.adminPort, { path: '/readyz' })).status).toBe(503);
    } finally {
      await down.shutdown();
    }
  });

  test('the app stopping later is noticed by the proxy at once', async () => {
    const app = await startUpstream((_req, res) => res.end('up'));
    const side = await startTestSidecar(app.port, { probeSlowMs: 3_600_000 });
    try {
      await waitFor(() => side.tracker.listening, 'listening');
      expect((await request(side.proxyPort, { path: '/' })).body.toString()).toBe('up');
      await app.close();
      const reply = await request(side.proxyPort, { path: '/', headers: { connection: 'close' } });
      expect(reply.status).toBe(502);
      expect(side.tracker.listening).toBe(false);
    } finally {
      await side.shutdown();
    }
  });
});
