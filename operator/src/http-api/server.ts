// The HTTP API: a web app's backend creates a session with POST /init, follows it, and deletes it.
// A thin I/O layer: routing and validation are pure (validate.ts); here requests become calls to the
// Kubernetes API server with the operator's own credentials. Every replica serves it: it keeps no
// state of its own, so no leader is needed.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { KubeAccess } from '../../../common/kube/kubeconfig.ts';
import { GROUP, PLURAL, VERSION } from '../../../common/contract.ts';
import { createInformer } from '../../../common/kube/informer.ts';
import { requestJson } from '../../../common/kube/rest.ts';
import { errText, forBackend, type Logger } from '../../../common/log.ts';
import { invitationUrl, type AccessKey } from '../../../common/spawner/access.ts';
import type { SessionLivedBackend } from '../../../common/spawner/types.ts';
import { httpApiErrorFromKube } from './answers.ts';
import type { HttpApiSettings } from './config.ts';
import { admitStream, TokenBucket } from './limits.ts';
import { HttpApiError, backendFromInit, parseInitRequest, route, sameView, statusView, type StatusView } from './validate.ts';
import { http } from '../../../common/node-http.ts';

export const MAX_BODY_BYTES = 64 * 1024;

export interface HttpApiOptions extends HttpApiSettings {
  kubeConfig: KubeAccess;
  publicUrl: string; // a backend is at `${publicUrl}/p/${name}/?token=…`
  accessKey: AccessKey; // mints the token of a backend's URL (common/spawner/access.ts)
  log: Logger;
  heartbeatMs?: number; // SSE comment lines keep idle proxies from closing the stream
  requestTimeoutMs?: number;
}

export interface HttpApi {
  port: number;
  close(): Promise<void>;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

// Compares digests so that neither the content nor the length of the token leaks through timing.
export function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m !== null && timingSafeEqual(digest(m[1]!), digest(token));
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store', ...headers });
  res.end(text);
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpApiError(413, `the body is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function startHttpApi(opts: HttpApiOptions): Promise<HttpApi> {
  const log = opts.log.child({ server: 'http-api' });
  const kc = opts.kubeConfig;
  const timeoutMs = opts.requestTimeoutMs ?? 30_000;
  const heartbeatMs = opts.heartbeatMs ?? 15_000;
  const collection = `/apis/${GROUP}/${VERSION}/namespaces/${opts.namespace}/${PLURAL}`;
  const streams = new Set<() => void>(); // closers of open SSE streams
  const limits = opts.limits;
  // One token, so "per token" is per replica: each replica keeps its own bucket and stream count.
  const inits = new TokenBucket(limits.initPerSecond, limits.initBurst, Date.now());

  const getBackend = (name: string) => requestJson<SessionLivedBackend>(kc, { path: `${collection}/${name}`, timeoutMs });

  async function init(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const admitted = inits.take(Date.now());
    if (!admitted.ok) {
      throw new HttpApiError(429, `too many backends requested: at most ${limits.initPerSecond} per second (bursts of ${limits.initBurst}); retry after ${admitted.retryAfterSeconds} s`, { retryAfterSeconds: admitted.retryAfterSeconds });
    }
    const request = parseInitRequest(await readBody(req), { image: opts.defaultImage, pool: opts.defaultPool, ...limits });
    let created: SessionLivedBackend;
    try {
      created = await requestJson<SessionLivedBackend>(kc, { method: 'POST', path: collection, body: backendFromInit(request, opts.namespace), timeoutMs });
    } catch (err) {
      throw httpApiErrorFromKube(err);
    }
    const name = created.metadata.name!;
    const what = request.pool ? { pool: request.pool } : { image: request.image, port: request.port };
    forBackend(log, opts.namespace, name).info({ ...what, gracePeriodSeconds: request.gracePeriodSeconds, maxLifetimeSeconds: request.maxLifetimeSeconds }, 'backend created through the HTTP API');
    // The invitation, at once: the created object has its uid, which the token names.
    sendJson(res, 201, { name, url: invitationUrl(created, opts.publicUrl, opts.accessKey), statusUrl: `/backends/${name}/status` }, { Location: `/backends/${name}/status` });
  }

  async function status(name: string, res: http.ServerResponse): Promise<void> {
    try {
      sendJson(res, 200, statusView(await getBackend(name)));
    } catch (err) {
      throw httpApiErrorFromKube(err, name);
    }
  }

  async function remove(name: string, res: http.ServerResponse): Promise<void> {
    try {
      await requestJson(kc, { method: 'DELETE', path: `${collection}/${name}`, body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' }, timeoutMs });
    } catch (err) {
      throw httpApiErrorFromKube(err, name);
    }
    forBackend(log, opts.namespace, name).info('backend deleted through the HTTP API');
    // The operator removes the Pod, then the backend: follow /status/stream for `deleted`.
    sendJson(res, 202, { name, phase: 'Terminating' });
  }

  // Server-Sent Events: `status` with the current view on connect and on every change, `deleted` (then
  // the stream ends) when the backend is gone. A watch by name, restarted by the informer as needed.
  async function stream(name: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const admitted = admitStream(streams.size, limits.maxStreams);
    if (!admitted.ok) {
      throw new HttpApiError(429, `too many status streams open: at most ${limits.maxStreams}; close one, or poll /backends/${name}/status`, { retryAfterSeconds: admitted.retryAfterSeconds });
    }
    let first: SessionLivedBackend;
    try {
      first = await getBackend(name);
    } catch (err) {
      throw httpApiErrorFromKube(err, name);
    }
    const blog = forBackend(log, opts.namespace, name);
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    let last: StatusView | undefined;
    const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    const emit = (slb: SessionLivedBackend) => {
      const view = statusView(slb);
      if (sameView(last, view)) return;
      last = view;
      send('status', view);
    };
    const informer = createInformer<SessionLivedBackend>({
      kubeConfig: kc,
      path: collection,
      fieldSelector: `metadata.name=${name}`,
      log: blog,
      name: `http-api-stream/${name}`,
    });
    const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), heartbeatMs);
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      clearInterval(heartbeat);
      informer.stop();
      streams.delete(close);
      res.end();
    };
    streams.add(close);
    req.on('close', close);
    const gone = () => {
      if (closed) return;
      send('deleted', { name });
      close();
    };
    informer.on('add', emit);
    informer.on('update', emit);
    informer.on('delete', gone);
    emit(first);
    try {
      await informer.start();
    } catch {
      return; // stopped: the client left
    }
    if (informer.list().length === 0) gone(); // deleted between the GET and the first list
    blog.debug('status stream open');
  }

  const server = http.createServer((req, res) => {
    const method = req.method ?? 'GET';
    const started = Date.now();
    const handle = async () => {
      const path = req.url ?? '/';
      // Only the probe is open; everything else, even the shape of the routes, is behind the token.
      const open = path.split('?')[0] === '/healthz';
      if (!open && !tokenMatches(req.headers.authorization, opts.token)) {
        throw new HttpApiError(401, 'missing or wrong bearer token: send Authorization: Bearer <token>');
      }
      const r = route(method, path);
      switch (r.kind) {
        case 'health':
          return sendJson(res, 200, { ok: true });
        case 'init':
          return init(req, res);
        case 'status':
          return status(r.name, res);
        case 'stream':
          return stream(r.name, req, res);
        case 'delete':
          return remove(r.name, res);
      }
    };
    handle().then(
      () => log.debug({ method, path: req.url, status: res.statusCode, ms: Date.now() - started }, 'request'),
      (err: unknown) => {
        const e = httpApiErrorFromKube(err);
        // The caller gets e; the log gets what the cluster said, which the caller must not see.
        const detail = e.cause === undefined ? undefined : errText(e.cause);
        if (e.status >= 500) log.warn({ method, path: req.url, status: e.status, err: e.message, detail }, 'request failed');
        else log.info({ method, path: req.url, status: e.status, err: e.message, detail }, 'request refused');
        if (res.headersSent) return void res.end();
        const headers: Record<string, string> = {};
        if (e.status === 401) headers['WWW-Authenticate'] = 'Bearer realm="spawner"';
        if (e.allow) headers.Allow = e.allow;
        if (e.retryAfterSeconds !== undefined) headers['Retry-After'] = String(e.retryAfterSeconds);
        // The body may be unread (401, 413): do not let the client keep sending into a closed request.
        if (!req.readableEnded) headers.Connection = 'close';
        sendJson(res, e.status, e.field ? { error: e.message, field: e.field } : { error: e.message }, headers);
      },
    );
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new Error(`the HTTP API cannot listen on port ${opts.port} (--api-port, SPAWNER_API_PORT): ${err.code ?? err.message}`)));
    server.listen(opts.port, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  log.info({ port, namespace: opts.namespace }, 'HTTP API listening');
  return {
    port,
    close: async () => {
      for (const close of [...streams]) close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
