// Time as the sweeper's logic sees it. Decisions take `now` as a number; the I/O layer takes a Clock so
// tests can drive countdowns without waiting for the wall clock.

export type TimerHandle = unknown;

export interface Clock {
  now(): number; // milliseconds since the epoch, like Date.now
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

// Node refuses delays above 2^31-1 ms (it fires at once instead); long countdowns are re-evaluated.
export const MAX_TIMER_MS = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, Math.min(Math.max(0, ms), MAX_TIMER_MS)),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
