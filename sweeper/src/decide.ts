// When to sweep a backend: a pure function of what is known about it and the current time, so every
// rule is a row in a table test. The I/O layer feeds it observations and arms one timer for the
// `recheckInMs` it returns.
//
// Rules (first match wins):
// 1. Terminating, or deletion already requested: forget it (someone else is tearing it down).
// 2. Failed: forget it. The operator owns Failed backends: it stops their Pod and deletes them a grace
//    period after they failed, whether or not they ever reached a node.
// 3. maxLifetimeSeconds counts from creation in every other phase, active or not.
// 4. Pending (or no phase yet): never swept for idleness; the start-up timeout belongs to the operator.
// 5. Ready, sidecar unreachable: not idle until it has been unreachable for longer than
//    gracePeriodSeconds, and never while the last thing we heard was a live connection: the proxy may
//    still be carrying that connection while only its admin port is broken. (A pod that really died is
//    marked Failed by the operator, which then expires it; maxLifetime still applies.)
// 6. Ready, reachable: idle countdown `grace - seconds_inactive` from the observation, cancelled by any
//    connection. Neither countdown starts before the backend became Ready, so a slow start-up does not
//    eat the user's grace period.
// Time only ever pushes a deadline later than the sidecar's own account, never earlier: a restarted
// sweeper takes seconds_inactive from the sidecar and so never sweeps early.

import type { Phase } from '../../common/spawner/types.ts';

export type SweepReason = 'Idle' | 'MaxLifetime' | 'Unreachable';

export interface BackendFacts {
  phase: Phase | undefined;
  deleting: boolean; // metadata.deletionTimestamp is set
  graceMs: number;
  maxLifetimeMs: number | undefined;
  createdAt: number;
  readyAt: number | undefined; // when it became Ready, if known
}

export interface ActivityObservation {
  activeConnections: number;
  secondsInactive: number;
  observedAt: number; // when the sweeper received it
}

export interface Reachability {
  unreachableSince: number | undefined; // first failure since the last successful contact
  source?: string; // what could not be reached, for the messages (default: sidecar)
}

export type Decision =
  | { action: 'keep'; recheckInMs: number | null; why: string }
  | { action: 'sweep'; reason: SweepReason; message: string }
  | { action: 'forget'; why: string };

const seconds = (ms: number): number => Math.floor(ms / 1000);
const graceText = (facts: BackendFacts): string => `gracePeriodSeconds ${seconds(facts.graceMs)}`;

function keep(now: number, deadlines: number[], why: string): Decision {
  const next = deadlines.length === 0 ? null : Math.min(...deadlines);
  return { action: 'keep', recheckInMs: next === null ? null : Math.max(0, next - now), why };
}

export function decide(
  facts: BackendFacts,
  activity: ActivityObservation | undefined,
  reach: Reachability,
  now: number,
): Decision {
  if (facts.deleting) return { action: 'forget', why: 'deletion requested' };
  if (facts.phase === 'Terminating') return { action: 'forget', why: 'Terminating' };
  if (facts.phase === 'Failed') return { action: 'forget', why: 'Failed: the operator expires it' };

  const deadlines: number[] = [];
  if (facts.maxLifetimeMs !== undefined) {
    const end = facts.createdAt + facts.maxLifetimeMs;
    if (now >= end) {
      return {
        action: 'sweep',
        reason: 'MaxLifetime',
        message: `lived ${seconds(now - facts.createdAt)}s, maxLifetimeSeconds is ${seconds(facts.maxLifetimeMs)}`,
      };
    }
    deadlines.push(end);
  }

  if (facts.phase !== 'Ready') return keep(now, deadlines, `${facts.phase ?? 'no phase'}: not swept for idleness`);

  const notBefore = facts.readyAt ?? Number.NEGATIVE_INFINITY;

  if (reach.unreachableSince !== undefined) {
    if (activity !== undefined && activity.activeConnections > 0) {
      return keep(now, deadlines, `${reach.source ?? 'sidecar'} unreachable, last seen with ${activity.activeConnections} connection(s)`);
    }
    const since = Math.max(reach.unreachableSince, notBefore);
    const end = since + facts.graceMs;
    if (now >= end) {
      return {
        action: 'sweep',
        reason: 'Unreachable',
        message: `${reach.source ?? 'sidecar'} unreachable for ${seconds(now - reach.unreachableSince)}s with no connection known (${graceText(facts)})`,
      };
    }
    return keep(now, [...deadlines, end], `${reach.source ?? 'sidecar'} unreachable, within its grace period`);
  }

  if (activity === undefined) return keep(now, deadlines, 'waiting for the first observation');
  if (activity.activeConnections > 0) return keep(now, deadlines, `${activity.activeConnections} connection(s) open`);

  const idleSince = activity.observedAt - activity.secondsInactive * 1000;
  const end = Math.max(idleSince, notBefore) + facts.graceMs;
  if (now >= end) {
    return {
      action: 'sweep',
      reason: 'Idle',
      message: `no connection for ${seconds(now - Math.max(idleSince, notBefore))}s (${graceText(facts)})`,
    };
  }
  return keep(now, [...deadlines, end], 'idle, countdown running');
}
