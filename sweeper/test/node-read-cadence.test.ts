// What a pass does for a Pod: every Pod's counters are read every interval; a Pod with a connection open
// is also looked at (its socket counts) every active interval, so its last close is dated at most that
// late.
import { describe, expect, test } from '@jest/globals';
import { dueForRead } from '../src/node/observer.ts';

const o = { intervalMs: 1_000, activeIntervalMs: 250 };
const never = Number.NEGATIVE_INFINITY;
const idle = { activeConnections: 0 };
const active = { activeConnections: 1 };

describe('dueForRead', () => {
  test.each([
    ['never read', undefined, never, never, 0, 'read'],
    ['no state yet but read once', undefined, 0, never, 300, undefined],
    ['idle, read 300 ms ago', idle, 0, never, 300, undefined],
    ['idle, read 999 ms ago (within the timer slack)', idle, 0, never, 999, 'read'],
    ['idle, read 990 ms ago', idle, 0, never, 990, undefined],
    ['idle, read 1 s ago', idle, 0, never, 1_000, 'read'],
    ['idle, looked at 300 ms ago while it was active, read 600 ms ago', idle, 0, 300, 600, undefined],
    ['active, read 100 ms ago', { activeConnections: 2 }, 0, never, 100, undefined],
    ['active, read 250 ms ago', active, 0, never, 250, 'look'],
    ['active, read 248 ms ago (within the timer slack)', active, 0, never, 248, 'look'],
    ['active, read 600 ms ago, looked at 100 ms ago', active, 0, 500, 600, undefined],
    ['active, read 600 ms ago, looked at 250 ms ago', active, 0, 350, 600, 'look'],
    ['active, read 1 s ago, looked at 10 ms ago: the counters are read all the same', active, 0, 990, 1_000, 'read'],
  ])('%s → %s', (_label, state, readAt, countsAt, now, due) => {
    expect(dueForRead(state, { readAt, countsAt }, now, o)).toBe(due);
  });
});
