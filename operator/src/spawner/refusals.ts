// When the API server refuses to create one of a backend's children (its Pod, or any other object it
// owns): what the refusal means, and how it is recorded. Pure, so every case is a table row.
//
// A refusal is a 4xx answer other than 409 (a name already taken is handled as a conflict) and 429 (the
// API server asking us to slow down): it is recorded at once as the ChildrenCreated condition (False,
// with the API server's reason and message) and a Warning Event. One that cannot succeed by retrying (the
// object is invalid: 400, 422, 413) fails the backend with that reason. Any other (403 Forbidden, e.g. a
// ResourceQuota's "exceeded quota", 404 for a namespace being deleted…) may clear: the create is retried
// with a growing delay until startupTimeoutSeconds, whose Failed then carries the last refusal.
// Everything else (5xx, 409, 429, the network) is transient: retried with the work queue's backoff.
import { httpStatus, statusReason, type KubeApiError } from '../../../common/kube/errors.ts';
import { CONDITION_CHILDREN_CREATED, findCondition, type ConditionUpdate } from '../../../common/spawner/conditions.ts';
import { REASON_FAILED_CREATE, type EventSpec } from '../../../common/spawner/events.ts';
import type { Condition, SessionLivedBackend } from '../../../common/spawner/types.ts';
import { timeMs } from '../../../common/spawner/time.ts';

export interface Refusal {
  kind: string; // Pod, Service…
  name: string; // namespace/name of the child
  code: number;
  reason: string; // the API server's Status reason: Forbidden, Invalid…
  message: string; // the API server's own message (it names the field, the quota…)
  permanent: boolean; // retrying cannot make it succeed
}

export type CreateError = { refusal: Refusal } | { transient: unknown };

const PERMANENT_CODES = new Set([400, 413, 422]);

export function classifyCreateError(kind: string, name: string, err: unknown): CreateError {
  const code = httpStatus(err);
  if (code === undefined || code < 400 || code >= 500 || code === 409 || code === 429) return { transient: err };
  const status = (err as KubeApiError).status;
  return {
    refusal: {
      kind,
      name,
      code,
      reason: statusReason(err) ?? `Http${code}`,
      message: status?.message ?? (err as Error).message,
      permanent: PERMANENT_CODES.has(code),
    },
  };
}

export function describeRefusal(r: Refusal): string {
  return `the API server refused to create ${r.kind} ${r.name} (${r.code} ${r.reason}): ${r.message}`;
}

// The first refusal that cannot succeed, if any: it fails the backend.
export function permanentRefusal(refusals: readonly Refusal[]): Refusal | undefined {
  return refusals.find((r) => r.permanent);
}

// The ChildrenCreated condition after this reconcile's creates, or undefined to leave the conditions as
// they are. It appears with the first refusal and turns True once every child exists again.
export function childrenCreatedCondition(
  previous: Condition | undefined,
  refusals: readonly Refusal[],
  allChildrenExist: boolean,
  generation: number | undefined,
): ConditionUpdate | undefined {
  if (refusals.length > 0) {
    const first = permanentRefusal(refusals) ?? refusals[0]!;
    return { type: CONDITION_CHILDREN_CREATED, status: 'False', reason: first.reason, message: refusals.map(describeRefusal).join('; '), observedGeneration: generation };
  }
  if (previous?.status === 'False' && allChildrenExist) {
    return { type: CONDITION_CHILDREN_CREATED, status: 'True', reason: 'Created', message: 'every child of the backend was created', observedGeneration: generation };
  }
  return undefined;
}

// The refusal the backend currently waits on (recorded by this or an earlier reconcile), as text.
export function standingRefusal(slb: Pick<SessionLivedBackend, 'status'>): string | undefined {
  const c = findCondition(slb, CONDITION_CHILDREN_CREATED);
  return c?.status === 'False' ? c.message : undefined;
}

// A Warning Event when a refusal is recorded or changes, not on every retry of the same one.
export function refusalEvent(previous: Condition | undefined, next: Condition | undefined): EventSpec | undefined {
  if (next?.type !== CONDITION_CHILDREN_CREATED || next.status !== 'False') return undefined;
  if (previous?.status === 'False' && previous.message === next.message) return undefined;
  return { type: 'Warning', reason: REASON_FAILED_CREATE, message: next.message };
}

export const REFUSAL_RETRY_MIN_MS = 1000;
export const REFUSAL_RETRY_MAX_MS = 30_000;

// When to try a refused create again: as long as the refusal has stood so far (so the delays double),
// from 1 s to 30 s. The startup deadline, requeued beside it, ends the retries.
export function refusalRetryInMs(slb: Pick<SessionLivedBackend, 'status'>, now: Date): number | undefined {
  const c = findCondition(slb, CONDITION_CHILDREN_CREATED);
  if (c?.status !== 'False' || slb.status?.phase === 'Failed') return undefined;
  const since = timeMs(c.lastTransitionTime) ?? now.getTime();
  return Math.min(REFUSAL_RETRY_MAX_MS, Math.max(REFUSAL_RETRY_MIN_MS, now.getTime() - since));
}
