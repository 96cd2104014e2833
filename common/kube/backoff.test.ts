import { describe, expect, test } from '@jest/globals';
import { backoffDelay } from './backoff.ts';

describe('backoffDelay', () => {
  // The work queue's policy: client-go's per-item limiter, no jitter.
  test.each([
    [0, 5, 1_000_000, 5],
    [1, 5, 1_000_000, 10],
    [2, 5, 1_000_000, 20],
    [10, 5, 1_000_000, 5120],
    [17, 5, 1_000_000, 655_360],
    [18, 5, 1_000_000, 1_000_000],
    [5000, 5, 1_000_000, 1_000_000],
    [3, 100, 500, 500],
    [-1, 5, 1_000_000, 5],
  ])('no jitter: attempt=%d initial=%d cap=%d -> %d ms', (attempt, initialMs, maxMs, want) => {
    expect(backoffDelay({ initialMs, maxMs, factor: 2, jitter: 0 }, attempt)).toBe(want);
  });

  // The sweeper's reconnect policy: up to half the delay taken off at random.
  const policy = { initialMs: 100, maxMs: 1000, factor: 2, jitter: 0.5 };
  test.each([
    { attempt: 0, random: 0, want: 100 },
    { attempt: 1, random: 0, want: 200 },
    { attempt: 3, random: 0, want: 800 },
    { attempt: 4, random: 0, want: 1000 },
    { attempt: 40, random: 0, want: 1000 },
    { attempt: 2, random: 0.999999, want: 200 },
    { attempt: 2, random: 0.5, want: 300 },
  ])('jitter 0.5: attempt $attempt, random $random → $want ms', ({ attempt, random, want }) => {
    expect(backoffDelay(policy, attempt, random)).toBe(want);
  });
});
