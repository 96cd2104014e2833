// The SessionLivedBackend as the sweeper reads it: the facts its decision needs (defaults applied,
// timestamps as milliseconds) and where its activity can be read. Pure, so the mapping from the contract
// is tested by tables. Defaults, time parsing and conditions come from common/spawner/.

import { SIDECAR_ADMIN_PORT } from '../../common/contract.ts';
import { activitySourceOf } from '../../common/spawner/activity.ts';
import { CONDITION_READY, findCondition } from '../../common/spawner/conditions.ts';
import { effectiveSpec } from '../../common/spawner/spec.ts';
import { timeMs } from '../../common/spawner/time.ts';
import type { SessionLivedBackend } from '../../common/spawner/types.ts';
import type { BackendFacts } from './decide.ts';

export function readyAt(slb: SessionLivedBackend): number | undefined {
  const fromStatus = timeMs(slb.status?.readyTime);
  if (fromStatus !== undefined) return fromStatus;
  const ready = findCondition(slb, CONDITION_READY);
  return ready?.status === 'True' ? timeMs(ready.lastTransitionTime) : undefined;
}

export function backendFacts(slb: SessionLivedBackend): BackendFacts {
  const spec = effectiveSpec(slb);
  return {
    phase: slb.status?.phase,
    deleting: slb.metadata?.deletionTimestamp !== undefined && slb.metadata?.deletionTimestamp !== null,
    graceMs: spec.gracePeriodSeconds * 1000,
    maxLifetimeMs: spec.maxLifetimeSeconds === undefined ? undefined : spec.maxLifetimeSeconds * 1000,
    // An object without a creation time has not been stored yet; treating it as just created is late.
    createdAt: timeMs(slb.metadata?.creationTimestamp) ?? Date.now(),
    readyAt: readyAt(slb),
  };
}

export type ActivityEndpoint =
  | { mode: 'stream'; eventsUrl: string; statusUrl: string }
  | { mode: 'poll'; statusUrl: string }
  // Read from the node (node/observer.ts): the Pod's processes are found by its UID.
  | { mode: 'node'; podUID: string; appPort: number; podIPs: string[] };

function hostFor(ip: string): string {
  return ip.includes(':') ? `[${ip}]` : ip;
}

// Where to follow the backend's activity, or undefined when there is nothing to follow: only a Ready
// backend with a Pod IP is worth a connection (a Pending one is not swept for idleness anyway).
export function activityEndpoint(slb: SessionLivedBackend, sidecarAdminPort = SIDECAR_ADMIN_PORT): ActivityEndpoint | undefined {
  const ip = slb.status?.podIP;
  if (!ip || slb.status?.phase !== 'Ready' || slb.metadata?.deletionTimestamp) return undefined;
  const host = hostFor(ip);
  const spec = effectiveSpec(slb);
  switch (activitySourceOf(slb)) {
    case 'Node':
      // A backend without its Pod's UID in status cannot be found on the node: not followed.
      return slb.status.podUID ? { mode: 'node', podUID: slb.status.podUID, appPort: spec.httpPort, podIPs: [ip] } : undefined;
    case 'App':
      return { mode: 'poll', statusUrl: `http://${host}:${spec.statusPort}/status` };
    case 'Sidecar':
      return { mode: 'stream', eventsUrl: `http://${host}:${sidecarAdminPort}/events`, statusUrl: `http://${host}:${sidecarAdminPort}/status` };
  }
}

export function sameEndpoint(a: ActivityEndpoint | undefined, b: ActivityEndpoint | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
