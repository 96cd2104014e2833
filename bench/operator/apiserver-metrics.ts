// The API server's own count of requests (`apiserver_request_total` on /metrics), read before and after
// a phase of the benchmark, so the operator's writes are counted by the server rather than by itself.
import type { KubeConfig } from '@kubernetes/client-node';
import { openRequest, readBody } from '../../common/kube/rest.ts';

export interface RequestSeries {
  verb: string;
  resource: string;
  subresource: string;
  group: string;
  code: string;
  count: number;
}

export function parseRequestTotals(text: string): RequestSeries[] {
  const out: RequestSeries[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const labels = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    out.push({
      verb: labels.verb ?? '',
      resource: labels.resource ?? '',
      subresource: labels.subresource ?? '',
      group: labels.group ?? '',
      code: labels.code ?? '',
      count: Number(line.trim().split(/\s+/).pop()),
    });
  }
  return out;
}

export async function readRequestTotals(kc: KubeConfig): Promise<RequestSeries[]> {
  const res = await openRequest(kc, { path: '/metrics', timeoutMs: 30_000 });
  const text = await readBody(res);
  if (res.statusCode !== 200) throw new Error(`GET /metrics: HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
  return parseRequestTotals(text);
}

const keyOf = (s: RequestSeries) => `${s.verb} ${s.group}/${s.resource}${s.subresource ? `/${s.subresource}` : ''} ${s.code}`;

/** What happened between two readings, by verb, resource and response code. */
export function difference(before: RequestSeries[], after: RequestSeries[]): RequestSeries[] {
  const base = new Map(before.map((s) => [keyOf(s), s.count]));
  return after
    .map((s) => ({ ...s, count: s.count - (base.get(keyOf(s)) ?? 0) }))
    .filter((s) => s.count > 0);
}

const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE', 'APPLY', 'CREATE', 'UPDATE', 'DELETECOLLECTION']);

// Which of the cluster's writes are the operator's: the benchmark itself only creates and deletes
// backends; the scheduler binds (pods/binding), kwok patches pods/status and nodes, the controller
// manager writes endpoints, endpointslices and the like. What is left is the operator's.
export interface OperatorWrites {
  finalizer: number; // PATCH sessionlivedbackends
  status: number; // PATCH sessionlivedbackends/status
  podCreate: number;
  serviceCreate: number;
  podDelete: number;
  serviceDelete: number;
  events: number; // POST core/v1 events
  conflicts: number; // any of the above answered 409
  total: number; // all of the above but events
}

export function operatorWrites(delta: RequestSeries[]): OperatorWrites {
  const sum = (pred: (s: RequestSeries) => boolean) => delta.filter(pred).reduce((n, s) => n + s.count, 0);
  const is = (verb: string, group: string, resource: string, subresource = '') => (s: RequestSeries) =>
    s.verb === verb && s.group === group && s.resource === resource && s.subresource === subresource;
  const w: OperatorWrites = {
    finalizer: sum(is('PATCH', 'spawner.dev', 'sessionlivedbackends')),
    status: sum(is('PATCH', 'spawner.dev', 'sessionlivedbackends', 'status')),
    podCreate: sum(is('POST', '', 'pods')),
    serviceCreate: sum(is('POST', '', 'services')),
    podDelete: sum(is('DELETE', '', 'pods')),
    serviceDelete: sum(is('DELETE', '', 'services')),
    events: sum(is('POST', '', 'events')),
    conflicts: 0,
    total: 0,
  };
  w.conflicts = sum((s) => s.code === '409' && WRITES.has(s.verb) && ['sessionlivedbackends', 'pods', 'services'].includes(s.resource));
  w.total = w.finalizer + w.status + w.podCreate + w.serviceCreate + w.podDelete + w.serviceDelete;
  return w;
}
