// SLB objects for tests, shaped as the API server returns them (raw JSON, RFC 3339 timestamps).

import { randomUUID } from 'node:crypto';
import type { SessionLivedBackend } from '../../../common/spawner/types.ts';

export const NODE = 'node-a';

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export interface SlbShape {
  name?: string;
  namespace?: string;
  uid?: string;
  phase?: 'Pending' | 'Ready' | 'Terminating' | 'Failed';
  grace?: number;
  maxLifetime?: number;
  createdAt?: number;
  readyAt?: number;
  nodeName?: string;
  podIP?: string;
  sidecar?: boolean;
  statusPort?: number;
  deleting?: boolean;
}

export function makeSlb(shape: SlbShape = {}): SessionLivedBackend {
  const created = shape.createdAt ?? Date.now() - 60_000;
  const phase = shape.phase ?? 'Ready';
  const readyAt = shape.readyAt ?? (phase === 'Ready' ? created : undefined);
  return {
    apiVersion: 'spawner.dev/v1',
    kind: 'SessionLivedBackend',
    metadata: {
      name: shape.name ?? 'b1',
      namespace: shape.namespace ?? 'apps',
      uid: shape.uid ?? randomUUID(),
      resourceVersion: '1',
      generation: 1,
      creationTimestamp: iso(created) as unknown as Date,
      ...(shape.deleting ? { deletionTimestamp: iso(Date.now()) as unknown as Date } : {}),
    },
    spec: {
      template: { containers: [{ name: 'app', image: 'demo' }] },
      ...(shape.grace !== undefined ? { gracePeriodSeconds: shape.grace } : {}),
      ...(shape.maxLifetime !== undefined ? { maxLifetimeSeconds: shape.maxLifetime } : {}),
      ...(shape.sidecar === false ? { sidecar: { enabled: false, ...(shape.statusPort ? { statusPort: shape.statusPort } : {}) } } : {}),
    },
    status: {
      phase,
      nodeName: shape.nodeName ?? NODE,
      podName: shape.name ?? 'b1',
      podIP: shape.podIP ?? '127.0.0.1',
      ...(readyAt !== undefined ? { readyTime: iso(readyAt) } : {}),
      conditions: [
        { type: 'Scheduled', status: 'True', reason: 'Scheduled', message: '', lastTransitionTime: iso(created) },
        readyAt !== undefined
          ? { type: 'Ready', status: 'True', reason: 'PodReady', message: '', lastTransitionTime: iso(readyAt) }
          : { type: 'Ready', status: 'False', reason: 'Starting', message: '', lastTransitionTime: iso(created) },
      ],
    },
  };
}
