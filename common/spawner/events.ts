// Kubernetes Events about a backend: their reasons (constants: kubectl describe shows them, users grep for
// them) and the one builder of the core/v1 Event body that the operator and the sweeper both post.
import type { V1ObjectMeta } from '@kubernetes/client-node';
import { API_VERSION, KIND } from '../contract.ts';
import { rfc3339 } from './time.ts';
import type { Phase, SessionLivedBackend } from './types.ts';

export const REASON_READY = 'Ready';
export const REASON_PENDING = 'Pending';
export const REASON_TERMINATING = 'Terminating';
// The API server refused to create one of a backend's children (the ReplicaSet controller's reason).
export const REASON_FAILED_CREATE = 'FailedCreate';
// A Failed backend deleted by the operator once its grace period has passed.
export const REASON_FAILED_EXPIRED = 'FailedExpired';

export type EventType = 'Normal' | 'Warning';

export interface EventSpec {
  type: EventType;
  reason: string;
  message: string;
}

// Who writes the Event: `component` names the program, `instance` the replica (pod or node), `host` the node.
export interface EventReporter {
  component: string;
  instance: string;
  host?: string;
}

export interface CoreEvent {
  apiVersion: 'v1';
  kind: 'Event';
  metadata: { generateName: string; namespace: string };
  involvedObject: { apiVersion: string; kind: string; name: string; namespace: string; uid: string; resourceVersion?: string };
  type: EventType;
  reason: string;
  message: string;
  source: { component: string; host?: string };
  reportingComponent: string;
  reportingInstance: string;
  firstTimestamp: string;
  lastTimestamp: string;
  count: number;
}

// The API server refuses Event messages over 1 KiB (events.k8s.io's note limit); keep the head.
export const MAX_EVENT_MESSAGE = 1024;

export function backendEvent(slb: SessionLivedBackend, event: EventSpec, reporter: EventReporter, now: Date | number): CoreEvent {
  return objectEvent({ ...slb, apiVersion: API_VERSION, kind: KIND }, event, reporter, now);
}

// The same Event about any object of ours (a WarmPool, say).
export function objectEvent(obj: { apiVersion: string; kind: string; metadata: V1ObjectMeta }, event: EventSpec, reporter: EventReporter, now: Date | number): CoreEvent {
  const namespace = obj.metadata.namespace ?? 'default';
  const name = obj.metadata.name ?? '';
  const at = rfc3339(now);
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { generateName: `${name}.`, namespace },
    involvedObject: {
      apiVersion: obj.apiVersion,
      kind: obj.kind,
      name,
      namespace,
      uid: obj.metadata.uid ?? '',
      ...(obj.metadata.resourceVersion ? { resourceVersion: obj.metadata.resourceVersion } : {}),
    },
    type: event.type,
    reason: event.reason,
    message: event.message.slice(0, MAX_EVENT_MESSAGE),
    source: reporter.host ? { component: reporter.component, host: reporter.host } : { component: reporter.component },
    reportingComponent: reporter.component,
    reportingInstance: reporter.instance,
    firstTimestamp: at,
    lastTimestamp: at,
    count: 1,
  };
}

// The Event for a phase change; Failed carries the failure's own reason (ErrImagePull, StartupTimeout…).
export function phaseChangeEvent(from: Phase | undefined, to: Phase, reason: string, message: string): EventSpec | undefined {
  if (from === to) return undefined;
  switch (to) {
    case 'Ready':
      return { type: 'Normal', reason: REASON_READY, message };
    case 'Failed':
      return { type: 'Warning', reason, message };
    case 'Terminating':
      return { type: 'Normal', reason: REASON_TERMINATING, message };
    case 'Pending':
      return from === undefined ? undefined : { type: 'Normal', reason: REASON_PENDING, message };
  }
}
