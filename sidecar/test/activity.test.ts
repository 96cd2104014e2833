import { describe, expect, test } from '@jest/globals';
import { ActivityTracker, secondsInactive } from '../src/activity.ts';

describe('secondsInactive', () => {
  test.each([
    { live: 0, last: 0, now: 0, expected: 0 },
    { live: 0, last: 0, now: 999, expected: 0 },
    { live: 0, last: 0, now: 1000, expected: 1 },
    { live: 0, last: 500, now: 2499, expected: 1 },
    { live: 0, last: 500, now: 2500, expected: 2 },
    { live: 1, last: 0, now: 3_600_000, expected: 0 },
    { live: 3, last: 0, now: 10_000, expected: 0 },
    // A clock that steps back must not give a negative age.
    { live: 0, last: 5000, now: 1000, expected: 0 },
  ])('live=$live last=$last now=$now → $expected', ({ live, last, now, expected }) => {
    expect(secondsInactive(live, last, now)).toBe(expected);
  });
});

type Step =
  | { at: number; do: 'requestStarted' | 'requestEnded' | 'requestUpgraded' | 'upgradeOpened' | 'upgradeClosed' | 'setDraining' }
  | { at: number; do: 'listening'; value: boolean }
  | { at: number; expect: { active_connections: number; seconds_inactive: number; listening: boolean; ready: boolean } };

const idle = (s: number) => ({ active_connections: 0, seconds_inactive: s, listening: true, ready: true });
const busy = (n: number) => ({ active_connections: n, seconds_inactive: 0, listening: true, ready: true });

describe('ActivityTracker (fake clock)', () => {
  const cases: { name: string; steps: Step[] }[] = [
    {
      name: 'idle from start-up; not listening until told',
      steps: [
        { at: 0, expect: { active_connections: 0, seconds_inactive: 0, listening: false, ready: false } },
        { at: 2500, expect: { active_connections: 0, seconds_inactive: 2, listening: false, ready: false } },
        { at: 2600, do: 'listening', value: true },
        // Listening is not activity.
        { at: 3000, expect: idle(3) },
      ],
    },
    {
      name: 'an in-flight request is live; its end restarts the count',
      steps: [
        { at: 0, do: 'listening', value: true },
        { at: 10_000, do: 'requestStarted' },
        { at: 70_000, expect: busy(1) },
        { at: 70_000, do: 'requestEnded' },
        { at: 70_999, expect: idle(0) },
        { at: 75_000, expect: idle(5) },
      ],
    },
    {
      name: 'a quiet WebSocket keeps the backend active for an hour',
      steps: [
        { at: 0, do: 'listening', value: true },
        { at: 1000, do: 'requestStarted' },
        { at: 1010, do: 'requestUpgraded' },
        { at: 3_601_010, expect: busy(1) },
        { at: 3_601_010, do: 'upgradeClosed' },
        { at: 3_603_010, expect: idle(2) },
      ],
    },
    {
      name: 'requests and upgrades add up',
      steps: [
        { at: 0, do: 'listening', value: true },
        { at: 0, do: 'upgradeOpened' },
        { at: 0, do: 'upgradeOpened' },
        { at: 0, do: 'requestStarted' },
        { at: 1, expect: busy(3) },
        { at: 2, do: 'upgradeClosed' },
        { at: 3, do: 'requestEnded' },
        { at: 4, expect: busy(1) },
        { at: 5, do: 'upgradeClosed' },
        { at: 6005, expect: idle(6) },
      ],
    },
    {
      name: 'an extra end is ignored instead of going negative',
      steps: [
        { at: 0, do: 'listening', value: true },
        { at: 0, do: 'requestEnded' },
        { at: 0, do: 'upgradeClosed' },
        { at: 0, do: 'requestStarted' },
        { at: 1, expect: busy(1) },
      ],
    },
    {
      name: 'draining: listening but not ready',
      steps: [
        { at: 0, do: 'listening', value: true },
        { at: 1, do: 'setDraining' },
        { at: 2000, expect: { active_connections: 0, seconds_inactive: 2, listening: true, ready: false } },
      ],
    },
  ];

  test.each(cases)('$name', ({ steps }) => {
    let now = 0;
    const tracker = new ActivityTracker(() => now);
    for (const step of steps) {
      now = step.at;
      if ('expect' in step) expect(tracker.snapshot()).toEqual(step.expect);
      else if (step.do === 'listening') tracker.setListening(step.value);
      else tracker[step.do]();
    }
  });

  test('snapshot keys are in the contract order', () => {
    expect(Object.keys(new ActivityTracker(() => 0).snapshot())).toEqual(['active_connections', 'seconds_inactive', 'listening', 'ready']);
  });

  test('change notifications: every count or state change, nothing for a repeated state', () => {
    let now = 0;
    const tracker = new ActivityTracker(() => now);
    const keys: string[] = [];
    tracker.onChange(() => keys.push(tracker.changeKey()));
    tracker.setListening(true);
    tracker.setListening(true); // no change
    now = 5;
    tracker.requestStarted();
    now = 7;
    tracker.requestEnded();
    tracker.setDraining();
    tracker.setDraining(); // no change
    expect(keys).toEqual(['0|true|true|0', '1|true|true|5', '0|true|true|7', '0|true|false|7']);
  });

  test('an upgrade turns a request into a connection without a dip or a peak', () => {
    const tracker = new ActivityTracker(() => 0);
    const seen: number[] = [];
    tracker.onChange(() => seen.push(tracker.liveConnections));
    tracker.requestStarted();
    tracker.requestUpgraded();
    tracker.upgradeClosed();
    expect(seen).toEqual([1, 1, 0]);
    expect([tracker.inFlightRequests, tracker.upgradedConnections]).toEqual([0, 0]);
  });

  test('a request that starts and ends between two reads still changes the key', () => {
    let now = 0;
    const tracker = new ActivityTracker(() => now);
    const before = tracker.changeKey();
    now = 1;
    tracker.requestStarted();
    tracker.requestEnded();
    expect(tracker.changeKey()).not.toBe(before);
  });
});
