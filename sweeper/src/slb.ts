// The SessionLivedBackend as the sweeper reads it: the facts its decision needs (defaults applied,
// timestamps as milliseconds) and where its activity can be read. Pure, so the mapping from the contract
// is tested by tables. Defaults, time parsing and conditions come from common/spawner/.

import { SIDECAR_ADMIN_PORT } from '../../common/contract.ts';
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
  | { mode: 'poll'; statusUrl: string };

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
  if (!spec.sidecarEnabled) return { mode: 'poll', statusUrl: `http://${host}:${spec.statusPort}/status` };
  return { mode: 'stream', eventsUrl: `http://${host}:${sidecarAdminPort}/events`, statusUrl: `http://${host}:${sidecarAdminPort}/status` };
}

export function sameEndpoint(a: ActivityEndpoint | undefined, b: ActivityEndpoint | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
