// The SessionLivedBackend as the sweeper reads it: defaults applied, timestamps as milliseconds, and
// where its activity can be read. Pure, so the mapping from the contract is tested by tables.

import { CONDITION_READY, SIDECAR_ADMIN_PORT } from '../../common/contract.ts';
import type { Condition, SessionLivedBackend } from '../../schema/generated/types.ts';
import type { BackendFacts } from './decide.ts';

export type { SessionLivedBackend, Condition };

export const DEFAULT_GRACE_PERIOD_SECONDS = 300;
export const DEFAULT_HTTP_PORT = 8080;

export function slbKey(slb: { metadata?: { namespace?: string; name?: string } }): string {
  return `${slb.metadata?.namespace ?? ''}/${slb.metadata?.name ?? ''}`;
}

// Timestamps arrive as RFC 3339 strings from raw JSON and as Date from the typed client.
export function toMs(value: string | Date | undefined | null): number | undefined {
  if (value === undefined || value === null) return undefined;
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}

export function findCondition(slb: SessionLivedBackend, type: string): Condition | undefined {
  return slb.status?.conditions?.find((c) => c.type === type);
}

// When it became Failed: a `Failed` condition says exactly. Otherwise the Ready condition's transition
// is only right if it was Ready before (a backend that never started has Ready=False since creation),
// so the later of that and the moment this sweeper first saw it Failed is used: late, never early.
export function failedAt(slb: SessionLivedBackend, firstSeenFailedAt: number | undefined): number | undefined {
  const failed = findCondition(slb, 'Failed');
  if (failed?.status === 'True') return toMs(failed.lastTransitionTime);
  const ready = findCondition(slb, CONDITION_READY);
  const readyFalseAt = ready?.status === 'False' ? toMs(ready.lastTransitionTime) : undefined;
  const candidates = [readyFalseAt, firstSeenFailedAt].filter((t): t is number => t !== undefined);
  return candidates.length === 0 ? undefined : Math.max(...candidates);
}

export function readyAt(slb: SessionLivedBackend): number | undefined {
  const fromStatus = toMs(slb.status?.readyTime);
  if (fromStatus !== undefined) return fromStatus;
  const ready = findCondition(slb, CONDITION_READY);
  return ready?.status === 'True' ? toMs(ready.lastTransitionTime) : undefined;
}

export function backendFacts(slb: SessionLivedBackend, firstSeenFailedAt?: number): BackendFacts {
  const grace = slb.spec?.gracePeriodSeconds ?? DEFAULT_GRACE_PERIOD_SECONDS;
  const maxLifetime = slb.spec?.maxLifetimeSeconds;
  const phase = slb.status?.phase;
  return {
    phase,
    deleting: slb.metadata?.deletionTimestamp !== undefined && slb.metadata?.deletionTimestamp !== null,
    graceMs: grace * 1000,
    maxLifetimeMs: maxLifetime === undefined ? undefined : maxLifetime * 1000,
    // An object without a creation time has not been stored yet; treating it as just created is late.
    createdAt: toMs(slb.metadata?.creationTimestamp as string | Date | undefined) ?? Date.now(),
    readyAt: readyAt(slb),
    failedAt: phase === 'Failed' ? failedAt(slb, firstSeenFailedAt) : undefined,
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
  if (slb.spec?.sidecar?.enabled === false) {
    const port = slb.spec.sidecar.statusPort ?? slb.spec.httpPort ?? DEFAULT_HTTP_PORT;
    return { mode: 'poll', statusUrl: `http://${host}:${port}/status` };
  }
  return { mode: 'stream', eventsUrl: `http://${host}:${sidecarAdminPort}/events`, statusUrl: `http://${host}:${sidecarAdminPort}/status` };
}

export function sameEndpoint(a: ActivityEndpoint | undefined, b: ActivityEndpoint | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
