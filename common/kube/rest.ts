// A thin HTTP layer over the API server for the runtime's own requests (list, watch, Lease).
//
// Why not the client's `Watch` class: in @kubernetes/client-node 2.x it swallows exceptions thrown by
// the event callback, its inactivity timeout is a private, fixed 30 s, and list/watch there needs a typed
// list function per kind. Plain node:http(s) with the kubeconfig's `applyToHTTPSOptions` (KubeAccess: bearer
// token, exec/file token refresh, client certificates, CA, proxy agent) keeps authentication identical
// to the generated clients while giving us the status code of every request, per-request timeouts and
// aborts, and line-by-line control of the watch stream.

import { errorFromResponse } from './errors.ts';
import type { KubeAccess } from './kubeconfig.ts';
import { http } from '../node-http.ts';
import { https } from '../node-https.ts';

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Query;
  body?: unknown;
  contentType?: string;
  timeoutMs?: number; // whole request, including the body
  signal?: AbortSignal;
  // Reuse connections (default). Watches say no: a long stream gains nothing from the pool, and a watch
  // aborted after its response ended must not reach a socket already handed to the next request.
  keepAlive?: boolean;
}

export function buildUrl(kc: KubeAccess, path: string, query: Query = {}): URL {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const url = new URL(cluster.server.replace(/\/+$/, '') + path);
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined) url.searchParams.set(k, String(v));
  }
  return url;
}

// The client's agent for a cluster is a plain `new https.Agent(tlsOptions)`, whose keepAlive is off: every
// request would pay a new TCP and TLS handshake (milliseconds of CPU on both ends). Beside each such
// agent we keep one with the same TLS options and keep-alive on. Proxy agents (subclasses) are used as
// they are.
const keepAliveAgents = new WeakMap<http.Agent, http.Agent>();

export function withKeepAlive(agent: unknown): unknown {
  if (!agent || (agent.constructor !== https.Agent && agent.constructor !== http.Agent)) return agent;
  const plain = agent as http.Agent & { options?: Record<string, unknown>; keepAlive?: boolean };
  if (plain.keepAlive) return agent;
  let ka = keepAliveAgents.get(plain);
  if (!ka) {
    const Ctor = plain.constructor as typeof https.Agent;
    ka = new Ctor({ ...(plain.options ?? {}), keepAlive: true, keepAliveMsecs: 30_000 });
    keepAliveAgents.set(plain, ka);
  }
  return ka;
}

// Opens a request and resolves with the response once headers arrive (status not checked).
export async function openRequest(kc: KubeAccess, opts: RequestOptions): Promise<http.IncomingMessage> {
  const url = buildUrl(kc, opts.path, opts.query);
  const reqOpts: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(reqOpts);
  if (opts.keepAlive !== false) reqOpts.agent = withKeepAlive(reqOpts.agent) as https.Agent | undefined;
  const headers: Record<string, string> = { Accept: 'application/json' };
  for (const [k, v] of Object.entries(reqOpts.headers ?? {})) {
    if (v !== undefined) headers[k] = String(v);
  }
  let payload: Buffer | undefined;
  if (opts.body !== undefined) {
    payload = Buffer.from(JSON.stringify(opts.body));
    headers['Content-Type'] = opts.contentType ?? 'application/json';
    headers['Content-Length'] = String(payload.length);
  }
  const mod = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(url, { ...reqOpts, method: opts.method ?? 'GET', headers }, resolve);
    req.on('error', reject);
    // The abort reaches this request only while it is in flight: once it has closed, its pooled socket
    // may already serve another request, which a late abort must not destroy.
    const signal = opts.signal;
    if (signal) {
      const onAbort = () => req.destroy(Object.assign(new Error('This operation was aborted'), { name: 'AbortError', code: 'ABORT_ERR' }));
      if (signal.aborted) onAbort();
      else {
        signal.addEventListener('abort', onAbort, { once: true });
        req.on('close', () => signal.removeEventListener('abort', onAbort));
      }
    }
    if (opts.timeoutMs !== undefined) {
      const t = setTimeout(() => req.destroy(new Error(`request timed out after ${opts.timeoutMs} ms`)), opts.timeoutMs);
      t.unref();
      // The deadline covers reading the body too, so it is cleared only when the response is done.
      req.on('close', () => clearTimeout(t));
      req.on('response', (res) => res.on('close', () => clearTimeout(t)));
    }
    req.end(payload);
  });
}

async function readBody(res: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

// Sends a request and parses the JSON answer; non-2xx becomes a KubeApiError carrying the Status.
export async function requestJson<T>(kc: KubeAccess, opts: RequestOptions): Promise<T> {
  const res = await openRequest(kc, opts);
  const text = await readBody(res);
  const code = res.statusCode ?? 0;
  if (code < 200 || code >= 300) {
    throw errorFromResponse(code, text, `${opts.method ?? 'GET'} ${opts.path}`);
  }
  return (text ? JSON.parse(text) : undefined) as T;
}

export { readBody };
