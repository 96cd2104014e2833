// When the node observer reads a Pod: a Pod with a connection open at the active interval (so its last
// close is dated at most that late), any other Pod at the full interval.
import { describe, expect, test } from '@jest/globals';
import { dueForRead } from '../src/node/observer.ts';

const o = { intervalMs: 1_000, activeIntervalMs: 250 };

describe('dueForRead', () => {
  test.each([
    ['never read', undefined, Number.NEGATIVE_INFINITY, 0, true],
    ['never read, no state yet but read once', undefined, 0, 300, false],
    ['idle, read 300 ms ago', { activeConnections: 0 }, 0, 300, false],
    ['idle, read 999 ms ago (within the timer slack)', { activeConnections: 0 }, 0, 999, true],
    ['idle, read 990 ms ago', { activeConnections: 0 }, 0, 990, false],
    ['idle, read 1 s ago', { activeConnections: 0 }, 0, 1_000, true],
    ['active, read 100 ms ago', { activeConnections: 2 }, 0, 100, false],
    ['active, read 250 ms ago', { activeConnections: 1 }, 0, 250, true],
    ['active, read 248 ms ago (within the timer slack)', { activeConnections: 1 }, 0, 248, true],
  ])('%s → %s', (_label, state, readAt, now, due) => {
    expect(dueForRead(state, readAt, now, o)).toBe(due);
  });
});
