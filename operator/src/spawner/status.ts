// What the status of a backend is, given what was observed of it: pure, so every case is a table row.
import type { V1Pod, V1ContainerStatus } from '@kubernetes/client-node';
import { SIDECAR_PROXY_PORT } from '../../../common/contract.ts';
import { invitationUrl } from '../../../common/spawner/access.ts';
import { activitySourceOfPod } from '../../../common/spawner/activity.ts';
import {
  CONDITION_CHILDREN_CREATED, CONDITION_FAILED, CONDITION_READY, CONDITION_ROUTABLE, CONDITION_SCHEDULED, REASON_NAMESPACE_NOT_ROUTED, findCondition, setCondition,
} from '../../../common/spawner/conditions.ts';
import { effectiveSpec } from '../../../common/spawner/spec.ts';
import { rfc3339, timeMs } from '../../../common/spawner/time.ts';
import type { Phase, SessionLivedBackend, SessionLivedBackendStatus } from '../../../common/spawner/types.ts';
import { childrenCreatedCondition, describeRefusal, permanentRefusal, standingRefusal, type Refusal } from './refusals.ts';
import type { SpawnerConfig } from './types.ts';

export interface Observed {
  pod?: V1Pod;
  conflict?: string; // a Pod of the backend's name that it does not control
  refusals?: Refusal[]; // creates the API server refused in this reconcile
  refused?: { reason: string; message: string }; // why its Pod cannot be made (a spec the operator cannot honour)
}

export interface Verdict {
  phase: Phase;
  reason: string;
  message: string;
}

// Container states after which the session cannot come up; kubelet would only retry them forever.
const FATAL_WAITING = new Set([
  'ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull',
  'CreateContainerConfigError', 'CreateContainerError', 'RunContainerError', 'CrashLoopBackOff',
]);

function containerFailure(cs: V1ContainerStatus, isApp: boolean): Verdict | undefined {
  const waiting = cs.state?.waiting;
  if (waiting?.reason && FATAL_WAITING.has(waiting.reason)) {
    return { phase: 'Failed', reason: waiting.reason, message: `container ${cs.name}: ${waiting.message ?? waiting.reason}` };
  }
  const terminated = cs.state?.terminated ?? (cs.restartCount > 0 ? cs.lastState?.terminated : undefined);
  if (terminated) {
    const why = terminated.reason ? ` (${terminated.reason})` : '';
    return {
      phase: 'Failed',
      reason: isApp ? 'AppExited' : 'ContainerExited',
      message: `container ${cs.name} exited with code ${terminated.exitCode}${why}${terminated.message ? `: ${terminated.message}` : ''}`,
    };
  }
  return undefined;
}

export function podFailure(pod: V1Pod): Verdict | undefined {
  const appName = pod.spec?.containers[0]?.name;
  if (pod.status?.phase === 'Failed' && pod.status.reason) {
    return { phase: 'Failed', reason: pod.status.reason, message: pod.status.message ?? `the Pod failed: ${pod.status.reason}` };
  }
  for (const cs of pod.status?.containerStatuses ?? []) {
    const failure = containerFailure(cs, cs.name === appName);
    if (failure) return failure;
  }
  if (pod.status?.phase === 'Failed' || pod.status?.phase === 'Succeeded') {
    return { phase: 'Failed', reason: 'AppExited', message: `the Pod is ${pod.status.phase}` };
  }
  return undefined;
}

export function podReady(pod: V1Pod): boolean {
  return pod.status?.phase === 'Running' && (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

function waitingFor(pod: V1Pod | undefined, httpPort: number): string {
  if (!pod) return 'waiting for the Pod to be created';
  if (!pod.spec?.nodeName) {
    const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
    return scheduled?.message ? `waiting to be scheduled: ${scheduled.message}` : 'waiting to be scheduled';
  }
  const notRunning = (pod.status?.containerStatuses ?? []).find((cs) => !cs.state?.running);
  if (notRunning) return `waiting for container ${notRunning.name}: ${notRunning.state?.waiting?.reason ?? 'starting'}`;
  return `waiting for the app to listen on port ${httpPort}`;
}

export function decidePhase(slb: SessionLivedBackend, observed: Observed, now: Date): Verdict {
  const previous = slb.status ?? {};
  const spec = effectiveSpec(slb);
  if (slb.metadata.deletionTimestamp) {
    return { phase: 'Terminating', reason: 'Deleted', message: 'the backend is being deleted; its Pod is being removed' };
  }
  if (previous.phase === 'Failed') {
    return { phase: 'Failed', reason: previous.reason ?? 'Failed', message: previous.message ?? 'the backend failed' };
  }
  if (observed.conflict) return { phase: 'Failed', reason: 'NameConflict', message: observed.conflict };
  if (observed.refused && !observed.pod) return { phase: 'Failed', ...observed.refused };
  const refused = permanentRefusal(observed.refusals ?? []);
  if (refused) {
    return { phase: 'Failed', reason: refused.reason, message: `${describeRefusal(refused)}; retrying cannot fix this: correct the backend's spec and create it again` };
  }
  // What the backend waits on when the API server refuses a child: said while Pending and when it times out.
  const refusal = observed.refusals?.length ? observed.refusals.map(describeRefusal).join('; ') : standingRefusal(slb);
  const { pod } = observed;
  if (pod) {
    const failure = podFailure(pod);
    if (failure) return failure;
    if (pod.metadata?.deletionTimestamp && previous.readyTime) {
      return { phase: 'Failed', reason: 'PodLost', message: `Pod ${pod.metadata.name} is being deleted; the session's state is gone` };
    }
    // Ready means routable: the route service sends traffic to the Pod's address, no Service in between
    // (decision B).
    if (podReady(pod)) return { phase: 'Ready', reason: 'PodReady', message: 'the backend accepts connections' };
    if (previous.readyTime) return { phase: 'Ready', reason: 'PodNotReady', message: waitingFor(pod, spec.httpPort) };
  } else if (previous.readyTime) {
    // Recreating the Pod would hand the user a fresh, empty session under the same URL.
    return { phase: 'Failed', reason: 'PodLost', message: `Pod ${previous.podName ?? slb.metadata.name} disappeared; the session's state is gone` };
  }
  const created = timeMs(slb.metadata.creationTimestamp);
  if (created !== undefined && now.getTime() - created >= spec.startupTimeoutSeconds * 1000) {
    return {
      phase: 'Failed',
      reason: 'StartupTimeout',
      message: `not Ready within startupTimeoutSeconds (${spec.startupTimeoutSeconds} s); last state: ${refusal ?? waitingFor(pod, spec.httpPort)}`,
    };
  }
  if (refusal) return { phase: 'Pending', reason: 'Starting', message: `${refusal}; retrying until startupTimeoutSeconds (${spec.startupTimeoutSeconds} s)` };
  return { phase: 'Pending', reason: 'Starting', message: waitingFor(pod, spec.httpPort) };
}

// Where the router sends the backend's traffic on its Pod: the sidecar's proxy port when the Pod has the
// sidecar (what was built decides, not what the spec would build today), else the app's own port.
export function podPortOf(pod: V1Pod, slb: SessionLivedBackend): number {
  return activitySourceOfPod(pod, slb) === 'Sidecar' ? SIDECAR_PROXY_PORT : effectiveSpec(slb).httpPort;
}

export function computeStatus(slb: SessionLivedBackend, observed: Observed, now: Date, config: SpawnerConfig): SessionLivedBackendStatus {
  const previous = slb.status ?? {};
  const verdict = decidePhase(slb, observed, now);
  const generation = slb.metadata.generation;
  const { pod } = observed;
  const nodeName = pod?.spec?.nodeName ?? previous.nodeName;

  let conditions = previous.conditions ?? [];
  if (verdict.phase !== 'Terminating' && verdict.phase !== 'Failed') {
    conditions = setCondition(conditions, {
      type: CONDITION_SCHEDULED,
      status: pod?.spec?.nodeName ? 'True' : 'False',
      reason: pod?.spec?.nodeName ? 'Scheduled' : pod ? 'Unscheduled' : 'PodNotCreated',
      message: pod?.spec?.nodeName ? `scheduled to ${pod.spec.nodeName}` : waitingFor(pod, effectiveSpec(slb).httpPort),
      observedGeneration: generation,
    }, now);
  }
  const ready = verdict.phase === 'Ready' && verdict.reason === 'PodReady';
  conditions = setCondition(conditions, {
    type: CONDITION_READY,
    status: ready ? 'True' : 'False',
    reason: verdict.phase === 'Pending' ? 'Starting' : verdict.reason,
    message: verdict.message,
    observedGeneration: generation,
  }, now);
  const childrenCreated = childrenCreatedCondition(findCondition(slb, CONDITION_CHILDREN_CREATED), observed.refusals ?? [], !!pod, generation);
  if (childrenCreated) conditions = setCondition(conditions, childrenCreated, now);
  // When and why it failed: the moment the operator's expiry of Failed backends counts from.
  if (verdict.phase === 'Failed') {
    conditions = setCondition(conditions, { type: CONDITION_FAILED, status: 'True', reason: verdict.reason, message: verdict.message, observedGeneration: generation }, now);
  }
  // The router serves one namespace: a URL to a backend elsewhere would only ever show the ended page.
  const routed = slb.metadata.namespace === config.routedNamespace;
  if (!routed) {
    conditions = setCondition(conditions, {
      type: CONDITION_ROUTABLE,
      status: 'False',
      reason: REASON_NAMESPACE_NOT_ROUTED,
      message: `the router serves namespace ${config.routedNamespace} only; a backend in ${slb.metadata.namespace} runs but gets no URL (create it in ${config.routedNamespace})`,
      observedGeneration: generation,
    }, now);
  }

  const status: SessionLivedBackendStatus = {
    phase: verdict.phase,
    conditions,
    observedGeneration: generation,
  };
  if (pod) status.podName = pod.metadata?.name;
  else if (previous.podName) status.podName = previous.podName;
  // Deprecated: only backends created before decision B have (and keep) one.
  if (previous.serviceName) status.serviceName = previous.serviceName;
  if (nodeName) status.nodeName = nodeName;
  const podIP = pod?.status?.podIP ?? previous.podIP;
  if (podIP) status.podIP = podIP;
  // What the sweeper and the route service go by (common/spawner/activity.ts): read off the Pod itself.
  const podUID = pod?.metadata?.uid ?? previous.podUID;
  if (podUID) status.podUID = podUID;
  const activitySource = pod ? activitySourceOfPod(pod, slb) : previous.activitySource;
  if (activitySource) status.activitySource = activitySource;
  const podPort = pod ? podPortOf(pod, slb) : previous.podPort;
  if (podIP && podPort) status.podPort = podPort;
  const readyTime = previous.readyTime ?? (ready ? rfc3339(now) : undefined);
  if (readyTime) status.readyTime = readyTime;
  if (previous.pool) status.pool = previous.pool;
  if (routed && (readyTime || verdict.phase === 'Ready')) status.url = invitationUrl(slb, config.publicUrl, config.accessKey);
  if (verdict.phase === 'Failed' || verdict.phase === 'Terminating') {
    status.reason = verdict.reason;
    status.message = verdict.message;
  }
  return status;
}

// Field order and absent-vs-undefined do not matter; everything else does.
export function sameStatus(a: SessionLivedBackendStatus | undefined, b: SessionLivedBackendStatus | undefined): boolean {
  return canonical(a ?? {}) === canonical(b ?? {});
}

function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.keys(v).sort().filter((k) => v[k] !== undefined).map((k) => [k, v[k]])) : v,
  );
}

// While Pending, progress details (scheduled, the containers' state…) are written only once the start
// is slow: most Pods are Ready sooner, and then one status write says it all. Slow is timed from the
// Pod's creation (from the backend's while there is no Pod yet), not from the backend's: in a burst a
// backend may wait seconds in the operator's queue before its Pod exists, which is no news, and a write
// per backend for it would be a fifth write per backend where four do. The bound is Kubernetes' own
// start-up SLO (p99 ≤ 5 s with images cached): a Pod slower than that is worth a progress report.
export const PENDING_DETAIL_DELAY_MS = 5000;

const childrenRecord = (status: SessionLivedBackendStatus): SessionLivedBackendStatus => ({ conditions: (status.conditions ?? []).filter((c) => c.type === CONDITION_CHILDREN_CREATED) });

// `progress`: the write only reports how a slow start is getting on (no phase change, no refusal): the
// one kind of write the operator may put off under load (PROGRESS_WRITES_PER_SECOND).
export type StatusWrite = { write: true; progress?: true } | { write: false; retryInMs?: number };

// How many progress writes (above) the operator makes a second, over all backends, with a burst of as
// many. At ordinary rates every slow start gets its report; in a burst of a thousand backends, all
// waiting for the scheduler (its client's default of 50 requests a second binds at most 50 Pods a
// second), they would add a fifth write per backend to the API server when it is busiest. Put off,
// a report is looked at again after PROGRESS_RETRY_MS, and is never made once the backend is Ready.
export const PROGRESS_WRITES_PER_SECOND = 10;
export const PROGRESS_RETRY_MS = 2_000;

export function statusWriteDecision(slb: SessionLivedBackend, next: SessionLivedBackendStatus, now: Date, pod?: V1Pod): StatusWrite {
  const previous = slb.status ?? {};
  if (sameStatus(previous, next)) return { write: false };
  // A refusal is recorded at once, however young the backend.
  if (!sameStatus(childrenRecord(previous), childrenRecord(next))) return { write: true };
  const previousPhase = previous.phase ?? 'Pending'; // the CRD defaults status.phase to Pending
  if (next.phase !== 'Pending' || previousPhase !== 'Pending') return { write: true };
  if (previous.phase === undefined) return { write: true };
  const since = timeMs(pod?.metadata?.creationTimestamp) ?? timeMs(slb.metadata.creationTimestamp);
  if (since === undefined) return { write: true };
  const age = now.getTime() - since;
  if (age >= PENDING_DETAIL_DELAY_MS) return { write: true, progress: true };
  return { write: false, retryInMs: PENDING_DETAIL_DELAY_MS - age };
}

// When a Pending backend has to be looked at again even if nothing changes: its startup deadline.
export function startupDeadlineInMs(slb: SessionLivedBackend, now: Date): number | undefined {
  if ((slb.status?.phase ?? 'Pending') !== 'Pending' || slb.status?.readyTime) return undefined;
  const created = timeMs(slb.metadata.creationTimestamp);
  if (created === undefined) return undefined;
  return Math.max(0, created + effectiveSpec(slb).startupTimeoutSeconds * 1000 - now.getTime());
}
