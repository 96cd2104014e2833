import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitOptions {
  /** Deadline for the whole wait; generous by default because the machine may be loaded. */
  timeoutMs?: number;
  /** Names the awaited condition in progress lines and in the timeout error. */
  what: string;
  intervalMs?: number;
  /** Called now and then while waiting, with the last reason the condition was not met. */
  onProgress?: (line: string) => void;
  progressEveryMs?: number;
  /** Checked before each probe: a message here ends the wait at once (e.g. the process died). */
  failFast?: () => string | undefined;
}

/**
 * Polls `probe` until it returns something other than undefined/null/false and returns that value.
 * A thrown error counts as "not yet"; the last one is quoted if the deadline passes, since it is
 * usually the reason.
 */
export async function waitFor<T>(
  probe: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  options: WaitOptions,
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const intervalMs = options.intervalMs ?? 250;
  const progressEveryMs = options.progressEveryMs ?? 10_000;
  const start = Date.now();
  let lastProgress = start;
  let lastReason = 'condition not met yet';
  for (;;) {
    const fatal = options.failFast?.();
    if (fatal) throw new Error(`gave up waiting for ${options.what}: ${fatal}`);
    try {
      const value = await probe();
      if (value !== undefined && value !== null && value !== false) return value;
      lastReason = 'condition not met yet';
    } catch (err) {
      lastReason = err instanceof Error ? err.message : String(err);
    }
    const now = Date.now();
    if (now - start >= timeoutMs) {
      throw new Error(`timed out after ${Math.round(timeoutMs / 1000)}s waiting for ${options.what}: ${lastReason}`);
    }
    if (options.onProgress && now - lastProgress >= progressEveryMs) {
      lastProgress = now;
      options.onProgress(`still waiting for ${options.what} (${Math.round((now - start) / 1000)}s): ${lastReason}`);
    }
    await sleep(Math.min(intervalMs, Math.max(1, timeoutMs - (now - start))));
  }
}
