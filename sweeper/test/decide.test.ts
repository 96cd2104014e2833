import { describe, expect, test } from '@jest/globals';
import { decide, type ActivityObservation, type BackendFacts, type Decision } from '../src/decide.ts';

const T0 = Date.parse('2025-01-01T12:00:00Z');
const S = 1000;

const ready = (over: Partial<BackendFacts> = {}): BackendFacts => ({
  phase: 'Ready',
  deleting: false,
  graceMs: 300 * S,
  maxLifetimeMs: undefined,
  createdAt: T0 - 3600 * S,
  readyAt: T0 - 3500 * S,
  ...over,
});
const seen = (activeConnections: number, secondsInactive: number, agoMs = 0): ActivityObservation => ({
  activeConnections,
  secondsInactive,
  observedAt: T0 - agoMs,
});

interface Row {
  name: string;
  facts: BackendFacts;
  activity?: ActivityObservation;
  unreachableSince?: number;
  now?: number;
  expect: Partial<Decision> & { action: Decision['action'] };
}

const rows: Row[] = [
  // Idle countdown: grace - seconds_inactive from the observation.
  { name: 'just went idle: full grace ahead', facts: ready(), activity: seen(0, 0), expect: { action: 'keep', recheckInMs: 300 * S } },
  { name: 'idle 100 s by the sidecar clock: 200 s left', facts: ready(), activity: seen(0, 100), expect: { action: 'keep', recheckInMs: 200 * S } },
  { name: 'observation 50 s old, idle 100 s then: 150 s left', facts: ready(), activity: seen(0, 100, 50 * S), expect: { action: 'keep', recheckInMs: 150 * S } },
  { name: 'idle exactly the grace period: swept', facts: ready(), activity: seen(0, 300), expect: { action: 'sweep', reason: 'Idle', message: 'no connection for 300s (gracePeriodSeconds 300)' } },
  { name: 'idle past the grace period: swept', facts: ready(), activity: seen(0, 250, 60 * S), expect: { action: 'sweep', reason: 'Idle' } },
  { name: 'grace 0: swept as soon as idle', facts: ready({ graceMs: 0 }), activity: seen(0, 0), expect: { action: 'sweep', reason: 'Idle' } },
  // Any connection cancels the countdown, however long ago the last activity was.
  { name: 'one open connection: kept, nothing to wait for', facts: ready(), activity: seen(1, 0), expect: { action: 'keep', recheckInMs: null } },
  { name: 'open connection with stale inactivity figure: kept', facts: ready(), activity: seen(3, 9999), expect: { action: 'keep', recheckInMs: null } },
  // Countdown never starts before Ready.
  { name: 'sidecar idle since before Ready: countdown from Ready', facts: ready({ readyAt: T0 - 10 * S }), activity: seen(0, 200), expect: { action: 'keep', recheckInMs: 290 * S } },
  // A WarmPool member waits unclaimed (no backend, so no countdown at all); claimed, its backend is Ready
  // from the claim (status.readyTime) and created then (maxLifetime), whatever the member's own idle time.
  { name: 'claimed after an hour idle in its pool: a full grace from the claim', facts: ready({ createdAt: T0 - 1 * S, readyAt: T0 - 1 * S }), activity: seen(0, 3600), expect: { action: 'keep', recheckInMs: 299 * S } },
  { name: 'claimed, its sidecar never reached yet: the grace counts from the claim', facts: ready({ createdAt: T0 - 2 * S, readyAt: T0 - 2 * S }), unreachableSince: T0 - 3600 * S, expect: { action: 'keep', recheckInMs: 298 * S } },
  { name: 'no Ready time known: the sidecar figure alone', facts: ready({ readyAt: undefined }), activity: seen(0, 200), expect: { action: 'keep', recheckInMs: 100 * S } },
  // Nothing heard yet.
  { name: 'no observation yet: kept', facts: ready(), expect: { action: 'keep', recheckInMs: null } },
  // maxLifetime from creation, active or not, in any phase.
  { name: 'maxLifetime reached with an open connection: swept', facts: ready({ maxLifetimeMs: 3600 * S }), activity: seen(2, 0), expect: { action: 'sweep', reason: 'MaxLifetime', message: 'lived 3600s, maxLifetimeSeconds is 3600' } },
  { name: 'maxLifetime ahead, connection open: recheck at the lifetime end', facts: ready({ maxLifetimeMs: 3700 * S }), activity: seen(1, 0), expect: { action: 'keep', recheckInMs: 100 * S } },
  { name: 'maxLifetime earlier than the idle deadline: recheck at the lifetime end', facts: ready({ maxLifetimeMs: 3650 * S }), activity: seen(0, 0), expect: { action: 'keep', recheckInMs: 50 * S } },
  { name: 'Pending past maxLifetime: swept', facts: ready({ phase: 'Pending', readyAt: undefined, maxLifetimeMs: 60 * S }), expect: { action: 'sweep', reason: 'MaxLifetime' } },
  // Pending: start-up timeout is the operator's.
  { name: 'Pending for an hour, idle: kept', facts: ready({ phase: 'Pending', readyAt: undefined }), activity: seen(0, 3600), expect: { action: 'keep', recheckInMs: null } },
  { name: 'no phase yet: kept', facts: ready({ phase: undefined, readyAt: undefined }), activity: seen(0, 3600), expect: { action: 'keep', recheckInMs: null } },
  // Failed: the operator's to expire, whatever else holds.
  { name: 'Failed: forgotten', facts: ready({ phase: 'Failed' }), expect: { action: 'forget' } },
  { name: 'Failed past maxLifetime: forgotten, not swept', facts: ready({ phase: 'Failed', maxLifetimeMs: 60 * S }), activity: seen(0, 9999), expect: { action: 'forget' } },
  { name: 'Failed with an open connection: forgotten', facts: ready({ phase: 'Failed' }), activity: seen(1, 0), expect: { action: 'forget' } },
  // Unreachable sidecar.
  { name: 'unreachable 10 s, never heard: kept', facts: ready(), unreachableSince: T0 - 10 * S, expect: { action: 'keep', recheckInMs: 290 * S } },
  { name: 'unreachable a grace period, never heard: swept', facts: ready(), unreachableSince: T0 - 300 * S, expect: { action: 'sweep', reason: 'Unreachable', message: 'sidecar unreachable for 300s with no connection known (gracePeriodSeconds 300)' } },
  { name: 'unreachable a grace period, last seen idle: swept', facts: ready(), activity: seen(0, 0, 400 * S), unreachableSince: T0 - 300 * S, expect: { action: 'sweep', reason: 'Unreachable' } },
  { name: 'unreachable: a stale idle countdown does not apply', facts: ready(), activity: seen(0, 299, 60 * S), unreachableSince: T0 - 30 * S, expect: { action: 'keep', recheckInMs: 270 * S } },
  { name: 'unreachable long, last seen with a connection: kept', facts: ready(), activity: seen(1, 0, 3000 * S), unreachableSince: T0 - 3000 * S, expect: { action: 'keep', recheckInMs: null } },
  { name: 'unreachable long, last seen with a connection, maxLifetime ahead', facts: ready({ maxLifetimeMs: 3610 * S }), activity: seen(1, 0, 3000 * S), unreachableSince: T0 - 3000 * S, expect: { action: 'keep', recheckInMs: 10 * S } },
  { name: 'unreachable since before Ready: counts from Ready', facts: ready({ readyAt: T0 - 100 * S }), unreachableSince: T0 - 1000 * S, expect: { action: 'keep', recheckInMs: 200 * S } },
  // Forgotten.
  { name: 'Terminating: forgotten', facts: ready({ phase: 'Terminating' }), activity: seen(0, 9999), expect: { action: 'forget' } },
  { name: 'deletion requested: forgotten even past maxLifetime', facts: ready({ deleting: true, maxLifetimeMs: 1 }), expect: { action: 'forget' } },
];

describe('decide', () => {
  test.each(rows)('$name', (row) => {
    const decision = decide(row.facts, row.activity, { unreachableSince: row.unreachableSince }, row.now ?? T0);
    expect(decision).toMatchObject(row.expect);
  });

  test('a restarted sweeper never sweeps before the sidecar-reported deadline, whatever it observes', () => {
    // Walk time forward in 1 s steps: the idle verdict may come no earlier than lastActivity + grace.
    const lastActivity = T0 - 120 * S;
    const facts = ready({ graceMs: 300 * S, readyAt: T0 - 200 * S });
    for (let observedAt = T0; observedAt <= T0 + 400 * S; observedAt += 37 * S) {
      const inactive = Math.floor((observedAt - lastActivity) / 1000);
      for (let now = observedAt; now <= observedAt + 200 * S; now += S) {
        const d = decide(facts, { activeConnections: 0, secondsInactive: inactive, observedAt }, { unreachableSince: undefined }, now);
        if (d.action === 'sweep') expect(now).toBeGreaterThanOrEqual(lastActivity + 300 * S);
        else expect(now).toBeLessThan(lastActivity + 300 * S + S); // late by under a second at most
      }
    }
  });
});
