// Time as the runtime and the components see it: one Clock type. Decisions take `now` as a number; the I/O
// layers take a Clock, so tests drive countdowns, backoffs and requeues without waiting for the wall clock.

export type TimerHandle = unknown;

export interface Clock {
  now(): number; // milliseconds since the epoch, like Date.now
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

// Node refuses delays above 2^31-1 ms (it fires at once instead); longer waits are re-evaluated.
export const MAX_TIMER_MS = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, Math.min(Math.max(0, ms), MAX_TIMER_MS)),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

// A wait that someone may cut short (a stop, a wake-up): `done` resolves after `ms` or at `wake()`,
// whichever comes first. The timer does not keep the process alive.
export function interruptibleSleep(ms: number): { done: Promise<void>; wake: () => void } {
  let wake!: () => void;
  const done = new Promise<void>((resolve) => {
    const t = setTimeout(() => resolve(), Math.min(Math.max(0, ms), MAX_TIMER_MS));
    t.unref();
    wake = () => {
      clearTimeout(t);
      resolve();
    };
  });
  return { done, wake };
}

// The same, for background timers (delayed requeues) that must not keep an otherwise finished process alive.
export const backgroundClock: Clock = {
  ...systemClock,
  setTimeout: (fn, ms) => (systemClock.setTimeout(fn, ms) as NodeJS.Timeout).unref(),
};
