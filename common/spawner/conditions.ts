// Kubernetes-style conditions of a backend. One setter for every writer (the operator's Scheduled, Ready
// and Failed, the sweeper's Swept): lastTransitionTime moves only when the status changes.
import { rfc3339 } from './time.ts';
import type { Condition, SessionLivedBackend } from './types.ts';

// Condition types. The operator owns Scheduled, Ready, Failed (when and why it failed: the moment the
// expiry of Failed backends counts from) and ChildrenCreated (False while the API server refuses to create
// a child, with its reason and message); the sweeper owns Swept.
export const CONDITION_SCHEDULED = 'Scheduled';
export const CONDITION_READY = 'Ready';
export const CONDITION_FAILED = 'Failed';
export const CONDITION_CHILDREN_CREATED = 'ChildrenCreated';
export const CONDITION_SWEPT = 'Swept';
// On a backend with spec.poolRef: whether it claimed a started member (True) or started cold (False).
export const CONDITION_POOL_CLAIM = 'PoolClaim';
// On a backend outside the namespace the router serves (operator): False, reason NamespaceNotRouted; it
// then has no URL. Absent on routed backends.
export const CONDITION_ROUTABLE = 'Routable';
export const REASON_NAMESPACE_NOT_ROUTED = 'NamespaceNotRouted';

export type ConditionUpdate = Omit<Condition, 'lastTransitionTime'>;

export function findCondition(slb: Pick<SessionLivedBackend, 'status'>, type: string): Condition | undefined {
  return slb.status?.conditions?.find((c) => c.type === type);
}

// The conditions with `next` set (replacing the one of its type, or appended).
export function setCondition(conditions: readonly Condition[], next: ConditionUpdate, now: Date | number): Condition[] {
  const existing = conditions.find((c) => c.type === next.type);
  const lastTransitionTime = existing && existing.status === next.status ? existing.lastTransitionTime : rfc3339(now);
  const updated: Condition = { ...next, lastTransitionTime };
  if (updated.observedGeneration === undefined) delete updated.observedGeneration;
  return existing ? conditions.map((c) => (c.type === next.type ? updated : c)) : [...conditions, updated];
}
