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
  total: number; // finalizer + status + Pod creates (+ Service creates, none since decision B): the happy path's writes
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
  w.total = w.finalizer + w.status + w.podCreate + w.serviceCreate;
  return w;
}

// Where the API server's time went: mean server-side duration of each kind of request over a phase
// (apiserver_request_duration_seconds), for the requests the operator makes, and how long requests of
// the operator's priority level waited in API Priority and Fairness queues.
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function parseSamples(text: string, names: string[]): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const name = line.slice(0, line.search(/[{ ]/));
    if (!names.includes(name)) continue;
    const labels = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    out.push({ name, labels, value: Number(line.trim().split(/\s+/).pop()) });
  }
  return out;
}

export async function readMetricsText(kc: KubeConfig): Promise<string> {
  const res = await openRequest(kc, { path: '/metrics', timeoutMs: 30_000 });
  const text = await readBody(res);
  if (res.statusCode !== 200) throw new Error(`GET /metrics: HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
  return text;
}

export interface ServerTimeRow {
  label: string;
  count: number; // requests over the phase
  meanMs: number; // mean server-side duration
  totalMs: number; // count × mean: the API server's time on this kind of request
}

const WRITE_VERBS = ['POST', 'PUT', 'PATCH', 'DELETE'];

// The kinds of request a backend costs, whoever sends them: the benchmark or the operator (backends, Pods,
// Services, status), the scheduler (bindings), kwok (Pod status), the controller manager (Endpoints and
// EndpointSlices for every Service with a selector, which is most of what a per-backend Service costs
// besides its own create).
const KINDS: Array<[string, Record<string, string | string[]>]> = [
  ['POST sessionlivedbackends (the benchmark)', { verb: 'POST', resource: 'sessionlivedbackends', subresource: '' }],
  ['PATCH sessionlivedbackends (finalizer)', { verb: 'PATCH', resource: 'sessionlivedbackends', subresource: '' }],
  ['POST pods', { verb: 'POST', resource: 'pods', subresource: '', group: '' }],
  ['PATCH pods (a pool member handed over)', { verb: 'PATCH', resource: 'pods', subresource: '', group: '' }],
  ['POST services', { verb: 'POST', resource: 'services', subresource: '', group: '' }],
  ['PATCH sessionlivedbackends/status', { verb: 'PATCH', resource: 'sessionlivedbackends', subresource: 'status' }],
  ['POST events', { verb: 'POST', resource: 'events', group: '' }],
  ['POST pods/binding (scheduler)', { verb: 'POST', resource: 'pods', subresource: 'binding' }],
  ['PATCH pods/status (kwok)', { verb: 'PATCH', resource: 'pods', subresource: 'status' }],
  ['endpointslices writes (controller manager)', { verb: WRITE_VERBS, resource: 'endpointslices' }],
  ['endpoints writes (controller manager)', { verb: WRITE_VERBS, resource: 'endpoints', group: '' }],
];

function matchesLabels(s: Sample, match: Record<string, string | string[]>): boolean {
  return Object.entries(match).every(([k, v]) => (Array.isArray(v) ? v.includes(s.labels[k] ?? '') : s.labels[k] === v));
}

function sumOf(samples: Sample[], name: string, match: Record<string, string | string[]>): number {
  return samples.filter((s) => s.name === name && matchesLabels(s, match)).reduce((n, s) => n + s.value, 0);
}

/** What the API server spent, by kind of request, between two readings of its /metrics. */
export function serverTime(beforeText: string, afterText: string): { rows: ServerTimeRow[]; writes: ServerTimeRow; apfWait: ServerTimeRow } {
  const names = [
    'apiserver_request_duration_seconds_sum', 'apiserver_request_duration_seconds_count',
    'apiserver_flowcontrol_request_wait_duration_seconds_sum', 'apiserver_flowcontrol_request_wait_duration_seconds_count',
  ];
  const before = parseSamples(beforeText, names);
  const after = parseSamples(afterText, names);
  const row = (label: string, match: Record<string, string | string[]>, metric = 'apiserver_request_duration_seconds'): ServerTimeRow => {
    const count = sumOf(after, `${metric}_count`, match) - sumOf(before, `${metric}_count`, match);
    const sumS = sumOf(after, `${metric}_sum`, match) - sumOf(before, `${metric}_sum`, match);
    return { label, count: Math.round(count), meanMs: count ? (sumS / count) * 1000 : Number.NaN, totalMs: sumS * 1000 };
  };
  return {
    rows: KINDS.map(([label, match]) => row(label, match)),
    writes: row('all writes to the API server (every client)', { verb: WRITE_VERBS }),
    apfWait: row('APF queue wait, workload-low (operator)', { priority_level: 'workload-low' }, 'apiserver_flowcontrol_request_wait_duration_seconds'),
  };
}

export function formatServerTime(t: ReturnType<typeof serverTime>, perBackend?: number): string[] {
  const fmt = (r: ServerTimeRow) =>
    `${r.label.padEnd(44)} ${String(r.count).padStart(6)} × ${Number.isNaN(r.meanMs) ? '   -  ' : r.meanMs.toFixed(1).padStart(6)} ms` +
    (perBackend ? `  = ${(r.totalMs / perBackend).toFixed(1).padStart(6)} ms/backend` : '');
  return [...t.rows.filter((r) => r.count > 0).map(fmt), fmt(t.writes), fmt(t.apfWait)];
}

export function serverTimeBreakdown(beforeText: string, afterText: string): string[] {
  return formatServerTime(serverTime(beforeText, afterText));
}
