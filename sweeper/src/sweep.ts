// What a sweep does to the API, in order: record why on the SLB (a `Swept` condition through the
// status subresource), then delete it with a uid precondition so that a re-created SLB of the same name
// is never touched, telling humans (a core/v1 Event) at the same time. The operator does the teardown
// from there.

import { isConflict, isInvalid, isNotFound } from '../../common/kube/errors.ts';
import { errText, type Logger } from '../../common/log.ts';
import { CONDITION_SWEPT, setCondition } from '../../common/spawner/conditions.ts';
import { backendEvent, type CoreEvent } from '../../common/spawner/events.ts';
import type { Condition, SessionLivedBackend } from '../../common/spawner/types.ts';
import type { SweepReason } from './decide.ts';

export const REPORTING_COMPONENT = 'spawner-sweeper';
const CONFLICT_RETRIES = 5;

export type JsonPatchOp =
  | { op: 'test'; path: string; value: unknown }
  | { op: 'add' | 'replace'; path: string; value: unknown };

// The few API calls the sweeper makes. Refusals are common/kube/errors.ts's KubeApiError.
export interface SweepApi {
  getSlb(namespace: string, name: string): Promise<SessionLivedBackend | undefined>; // undefined: 404
  patchSlbStatus(namespace: string, name: string, patch: JsonPatchOp[]): Promise<SessionLivedBackend>;
  createEvent(namespace: string, event: CoreEvent): Promise<void>;
  deleteSlb(namespace: string, name: string, uid: string): Promise<void>;
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

export function sweptCondition(slb: SessionLivedBackend, status: 'True' | 'False', reason: string, message: string, now: number): Condition {
  const conditions = setCondition(slb.status?.conditions ?? [], { type: CONDITION_SWEPT, status, reason, message, observedGeneration: slb.metadata?.generation }, now);
  return conditions.find((c) => c.type === CONDITION_SWEPT)!;
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

export function sweepEvent(slb: SessionLivedBackend, request: SweepRequest, nodeName: string, now: number): CoreEvent {
  return backendEvent(slb, { type: 'Normal', reason: request.reason, message: request.message }, { component: REPORTING_COMPONENT, instance: nodeName, host: nodeName }, now);
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
      if (isNotFound(err)) return 'gone';
      // Conflict: the resourceVersion moved; Invalid: the patch's `test` failed. Either way, read again.
      if (!(isConflict(err) || isInvalid(err)) || attempt + 1 >= CONFLICT_RETRIES) throw err;
      current = await api.getSlb(namespace, name);
    }
  }
}

export async function sweepBackend(api: SweepApi, slb: SessionLivedBackend, request: SweepRequest, ctx: SweepContext): Promise<SweepOutcome> {
  const namespace = slb.metadata.namespace ?? '';
  const name = slb.metadata.name ?? '';
  const uid = slb.metadata.uid ?? '';

  // 1. The condition. Without a uid there is no safe delete either, so such an object is left alone.
  if (!uid) return 'replaced';
  const written = await writeCondition(api, slb, (cur) => sweptCondition(cur, 'True', request.reason, request.message, ctx.now()), ctx);
  if (typeof written === 'string') return written;

  // 2. Activity that arrived while the condition was being written wins: take the condition back, and
  // say nothing to humans about a sweep that did not happen.
  if (!ctx.stillDue()) {
    try {
      await writeCondition(api, written, (cur) => sweptCondition(cur, 'False', 'Active', 'activity resumed before the delete', ctx.now()), ctx);
    } catch (err) {
      ctx.log.warn({ err: errText(err) }, 'could not withdraw the Swept condition');
    }
    return 'cancelled';
  }

  // 3. The Event, sent alongside the delete rather than before it: one round trip less between the end
  // of the grace period and the delete. It is for humans; failing to write it must not keep an idle
  // backend alive.
  const recorded = api.createEvent(namespace, sweepEvent(slb, request, ctx.nodeName, ctx.now())).catch((err: unknown) => {
    ctx.log.warn({ err: errText(err), reason: request.reason }, 'could not record the sweep Event');
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
    if (isNotFound(err)) return 'gone';
    if (isConflict(err)) return 'replaced'; // the uid precondition: the name belongs to a new object
    throw err;
  }
}
