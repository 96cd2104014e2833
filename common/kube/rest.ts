// A thin HTTP layer over the API server for the runtime's own requests (list, watch, Lease).
//
// Why not the client's `Watch` class: in @kubernetes/client-node 2.x it swallows exceptions thrown by
// the event callback, its inactivity timeout is a private, fixed 30 s, and list/watch there needs a typed
// list function per kind. Plain node:http(s) with the KubeConfig's own `applyToHTTPSOptions` (bearer
// token, exec/file token refresh, client certificates, CA, proxy agent) keeps authentication identical
// to the generated clients while giving us the status code of every request, per-request timeouts and
// aborts, and line-by-line control of the watch stream.

import * as http from 'node:http';
import * as https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

export type Query = Record<string, string | number | boolean | undefined>;

export interface KubeStatus {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
}

export class KubeApiError extends Error {
  readonly statusCode: number;
  readonly status?: KubeStatus;
  constructor(statusCode: number, message: string, status?: KubeStatus) {
    super(message);
    this.name = 'KubeApiError';
    this.statusCode = statusCode;
    this.status = status;
  }
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Query;
  body?: unknown;
  contentType?: string;
  timeoutMs?: number; // whole request, including the body
  signal?: AbortSignal;
}

export function buildUrl(kc: KubeConfig, path: string, query: Query = {}): URL {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const url = new URL(cluster.server.replace(/\/+$/, '') + path);
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined) url.searchParams.set(k, String(v));
  }
  return url;
}

// Opens a request and resolves with the response once headers arrive (status not checked).
export async function openRequest(kc: KubeConfig, opts: RequestOptions): Promise<http.IncomingMessage> {
  const url = buildUrl(kc, opts.path, opts.query);
  const reqOpts: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(reqOpts);
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
    const req = mod.request(url, { ...reqOpts, method: opts.method ?? 'GET', headers, signal: opts.signal }, resolve);
    req.on('error', reject);
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

export function errorFromResponse(statusCode: number, text: string, what: string): KubeApiError {
  let status: KubeStatus | undefined;
  try {
    const parsed = JSON.parse(text) as KubeStatus;
    if (parsed && typeof parsed === 'object') status = parsed;
  } catch {
    // Not a Status object (a proxy's HTML error page, say): keep the raw text in the message.
  }
  const msg = status?.message ?? text.slice(0, 200);
  return new KubeApiError(statusCode, `${what}: HTTP ${statusCode}${msg ? `: ${msg}` : ''}`, status);
}

// Sends a request and parses the JSON answer; non-2xx becomes a KubeApiError carrying the Status.
export async function requestJson<T>(kc: KubeConfig, opts: RequestOptions): Promise<T> {
  const res = await openRequest(kc, opts);
  const text = await readBody(res);
  const code = res.statusCode ?? 0;
  if (code < 200 || code >= 300) {
    throw errorFromResponse(code, text, `${opts.method ?? 'GET'} ${opts.path}`);
  }
  return (text ? JSON.parse(text) : undefined) as T;
}

export { readBody };
