// What a sweep does to the API, in order: record why on the SLB (a `Swept` condition through the
// status subresource), then delete it with a uid precondition so that a re-created SLB of the same name
// is never touched, telling humans (a core/v1 Event) at the same time. The operator does the teardown
// from there.

import { API_VERSION, CONDITION_SWEPT, KIND } from '../../common/contract.ts';
import type { Logger } from '../../common/log.ts';
import type { SweepReason } from './decide.ts';
import type { Condition, SessionLivedBackend } from './slb.ts';

export const REPORTING_COMPONENT = 'spawner-sweeper';
const CONFLICT_RETRIES = 5;

export type JsonPatchOp =
  | { op: 'test'; path: string; value: unknown }
  | { op: 'add' | 'replace'; path: string; value: unknown };

export interface CoreEvent {
  metadata: { generateName: string; namespace: string };
  involvedObject: { apiVersion: string; kind: string; name: string; namespace: string; uid: string; resourceVersion?: string };
  reason: string;
  message: string;
  type: 'Normal' | 'Warning';
  source: { component: string; host: string };
  reportingComponent: string;
  reportingInstance: string;
  firstTimestamp: string;
  lastTimestamp: string;
  count: number;
}

// The few API calls the sweeper makes. Errors carry the HTTP status as `code` (see ApiError).
export interface SweepApi {
  getSlb(namespace: string, name: string): Promise<SessionLivedBackend | undefined>; // undefined: 404
  patchSlbStatus(namespace: string, name: string, patch: JsonPatchOp[]): Promise<SessionLivedBackend>;
  createEvent(namespace: string, event: CoreEvent): Promise<void>;
  deleteSlb(namespace: string, name: string, uid: string): Promise<void>;
}

export class ApiError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
  }
}

// The HTTP status of a failed call, whichever client raised it (`code` here and in client-node,
// `statusCode` in common/kube/rest.ts).
export function errorCode(err: unknown): number | undefined {
  const e = err as { code?: unknown; statusCode?: unknown } | null;
  if (typeof e?.code === 'number') return e.code;
  if (typeof e?.statusCode === 'number') return e.statusCode;
  return undefined;
}

export interface SweepRequest {
  reason: SweepReason;
  message: string;
}

// deleted: gone through us. gone: someone else deleted it first. replaced: the name now belongs to a
// new object. moved: it is no longer on this node. cancelled: activity came back before the delete.
export type SweepOutcome = 'deleted' | 'gone' | 'replaced' | 'moved' | 'cancelled';

export interface SweepContext {
  nodeName: string;
  now(): number;
  log: Logger;
  // Asked right before the delete: activity that arrived while the condition was being written wins.
  stillDue(): boolean;
}

export function sweptCondition(slb: SessionLivedBackend, status: 'True' | 'False', reason: string, message: string, nowIso: string): Condition {
  const previous = slb.status?.conditions?.find((c) => c.type === CONDITION_SWEPT);
  const base: Condition = {
    type: CONDITION_SWEPT,
    status,
    reason,
    message,
    lastTransitionTime: previous && previous.status === status ? previous.lastTransitionTime : nowIso,
  };
  const generation = slb.metadata?.generation;
  return generation === undefined ? base : { ...base, observedGeneration: generation };
}

// A JSON patch that replaces our condition and keeps everyone else's, valid only against the version
// it was computed from: the `test` makes the API server refuse it (422) if the operator wrote in between.
export function conditionPatch(slb: SessionLivedBackend, condition: Condition): JsonPatchOp[] {
  const current = slb.status?.conditions ?? [];
  const index = current.findIndex((c) => c.type === condition.type);
  const next = index < 0 ? [...current, condition] : current.map((c, i) => (i === index ? condition : c));
  const ops: JsonPatchOp[] = [];
  const rv = slb.metadata?.resourceVersion;
  if (rv !== undefined) ops.push({ op: 'test', path: '/metadata/resourceVersion', value: rv });
  if (slb.status === undefined) ops.push({ op: 'add', path: '/status', value: { conditions: next } });
  else ops.push({ op: 'add', path: '/status/conditions', value: next });
  return ops;
}

export function sweepEvent(slb: SessionLivedBackend, request: SweepRequest, nodeName: string, nowIso: string): CoreEvent {
  const namespace = slb.metadata.namespace ?? 'default';
  const name = slb.metadata.name ?? '';
  return {
    metadata: { generateName: `${name}.`, namespace },
    involvedObject: {
      apiVersion: API_VERSION,
      kind: KIND,
      name,
      namespace,
      uid: slb.metadata.uid ?? '',
      ...(slb.metadata.resourceVersion ? { resourceVersion: slb.metadata.resourceVersion } : {}),
    },
    reason: request.reason,
    message: request.message,
    type: 'Normal',
    source: { component: REPORTING_COMPONENT, host: nodeName },
    reportingComponent: REPORTING_COMPONENT,
    reportingInstance: nodeName,
    firstTimestamp: nowIso,
    lastTimestamp: nowIso,
    count: 1,
  };
}

type Guard = 'ok' | Exclude<SweepOutcome, 'deleted' | 'cancelled'>;

function guard(slb: SessionLivedBackend | undefined, uid: string, nodeName: string): Guard {
  if (slb === undefined) return 'gone';
  if (slb.metadata?.uid !== uid) return 'replaced';
  if (slb.metadata?.deletionTimestamp) return 'gone';
  if (slb.status?.nodeName !== nodeName) return 'moved';
  return 'ok';
}

// Read-modify-write of the conditions, retried on conflict with a fresh read. Returns the object as
// written, so a later write can start from it.
async function writeCondition(
  api: SweepApi,
  slb: SessionLivedBackend,
  make: (current: SessionLivedBackend) => Condition,
  ctx: SweepContext,
): Promise<Exclude<Guard, 'ok'> | SessionLivedBackend> {
  const namespace = slb.metadata.namespace ?? '';
  const name = slb.metadata.name ?? '';
  const uid = slb.metadata.uid ?? '';
  let current: SessionLivedBackend | undefined = slb;
  for (let attempt = 0; ; attempt++) {
    const state = guard(current, uid, ctx.nodeName);
    if (state !== 'ok') return state;
    try {
      return await api.patchSlbStatus(namespace, name, conditionPatch(current!, make(current!)));
    } catch (err) {
      const code = errorCode(err);
      if (code === 404) return 'gone';
      if ((code !== 409 && code !== 422) || attempt + 1 >= CONFLICT_RETRIES) throw err;
      current = await api.getSlb(namespace, name);
    }
  }
}

export async function sweepBackend(api: SweepApi, slb: SessionLivedBackend, request: SweepRequest, ctx: SweepContext): Promise<SweepOutcome> {
  const namespace = slb.metadata.namespace ?? '';
  const name = slb.metadata.name ?? '';
  const uid = slb.metadata.uid ?? '';
  const iso = () => new Date(ctx.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');

  // 1. The condition. Without a uid there is no safe delete either, so such an object is left alone.
  if (!uid) return 'replaced';
  const written = await writeCondition(api, slb, (cur) => sweptCondition(cur, 'True', request.reason, request.message, iso()), ctx);
  if (typeof written === 'string') return written;

  // 2. Activity that arrived while the condition was being written wins: take the condition back, and
  // say nothing to humans about a sweep that did not happen.
  if (!ctx.stillDue()) {
    try {
      await writeCondition(api, written, (cur) => sweptCondition(cur, 'False', 'Active', 'activity resumed before the delete', iso()), ctx);
    } catch (err) {
      ctx.log.warn({ err: (err as Error).message }, 'could not withdraw the Swept condition');
    }
    return 'cancelled';
  }

  // 3. The Event, sent alongside the delete rather than before it: one round trip less between the end
  // of the grace period and the delete. It is for humans; failing to write it must not keep an idle
  // backend alive.
  const recorded = api.createEvent(namespace, sweepEvent(slb, request, ctx.nodeName, iso())).catch((err: unknown) => {
    ctx.log.warn({ err: (err as Error).message, reason: request.reason }, 'could not record the sweep Event');
  });
  try {
    return await deleteExactly(api, namespace, name, uid);
  } finally {
    await recorded;
  }
}

// 4. The delete, only of the very object we decided about.
async function deleteExactly(api: SweepApi, namespace: string, name: string, uid: string): Promise<SweepOutcome> {
  try {
    await api.deleteSlb(namespace, name, uid);
    return 'deleted';
  } catch (err) {
    const code = errorCode(err);
    if (code === 404) return 'gone';
    if (code === 409) return 'replaced';
    throw err;
  }
}
