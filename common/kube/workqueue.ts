// A work queue keyed by `namespace/name` with client-go's semantics: a key waits at most once, is never
// handed to two workers at once, and a key added while it is being processed runs again afterwards.
// Failures requeue with per-key exponential backoff; success may ask to come back after a delay.
//
// Two priorities, each FIFO: `high` keys are handed out before `normal` ones, and a waiting key added
// again with `high` moves up (controller-runtime's priority queue does the same for events after the
// initial list). A controller adds its children's events as `high`: in a burst of a thousand new
// backends, the one whose Pod just turned Ready is written Ready at once instead of waiting behind
// every backend not started yet, so it needs one status write rather than a progress write first.

import { backoffDelay, type BackoffPolicy } from './backoff.ts';
import { backgroundClock, type Clock } from './clock.ts';

export interface Result {
  requeueAfterMs?: number;
}

// Thrown by a worker to come back after `delayMs` without counting as a failure (e.g. "waiting for the
// Pod to go away"): the key's backoff is left as it is.
export class RetryAfter extends Error {
  readonly delayMs: number;
  constructor(delayMs: number, message = `retry after ${delayMs} ms`) {
    super(message);
    this.name = 'RetryAfter';
    this.delayMs = delayMs;
  }
}


export interface WorkQueueOptions {
  name?: string;
  baseDelayMs?: number; // first retry delay after a failure (client-go: 5 ms)
  maxDelayMs?: number; // cap of the per-key backoff (client-go: 1000 s)
  clock?: Clock; // default: real time, timers that do not keep the process alive
  // A key is handed out at most once per this many ms: adds that come sooner wait for the interval to
  // pass and are then worked as one. For a primary whose children change in streams and whose reconcile
  // looks at all of them (a pool while claims arrive: each claim a member leaving), so the work done per
  // change stays bounded instead of one whole pass per change. A key that waits for its interval loses a
  // `high` priority. 0 (default): no limit.
  minIntervalMs?: number;
  // Called for every failed run (not for RetryAfter), before the key is requeued.
  onError?: (key: string, err: unknown, failures: number) => void;
}


export type Priority = 'high' | 'normal';

export interface RunOptions {
  // Aborting stops handing out keys at once; in-flight runs finish and `run` then resolves.
  signal?: AbortSignal;
}

export type Worker = (key: string) => Promise<Result | void>;

export class WorkQueue {
  readonly name: string;
  private readonly backoff: BackoffPolicy;
  private readonly clock: Clock;
  private readonly onError?: (key: string, err: unknown, failures: number) => void;

  // FIFOs of keys waiting for a worker, by priority. An entry whose key is no longer waiting at that
  // priority (moved up, or handed out through the other FIFO) is stale and skipped.
  private readonly fifo: Record<Priority, string[]> = { high: [], normal: [] };
  private readonly waiting = new Map<string, Priority>(); // keys waiting for a worker, at their priority
  private readonly dirty = new Set<string>(); // keys that need a run (waiting or to re-run after processing)
  private readonly processing = new Set<string>();
  private readonly rerunHigh = new Set<string>(); // added with `high` while being processed
  private readonly delayed = new Map<string, { at: number; handle: unknown }>();
  private readonly failures = new Map<string, number>();
  private readonly minIntervalMs: number;
  private readonly started = new Map<string, number>(); // with minIntervalMs: when each key was last handed out
  private shuttingDown = false;
  private running = false;
  private wake: (() => void) | undefined;

  // Counters for metrics.
  adds = 0;
  retries = 0;

  constructor(opts: WorkQueueOptions = {}) {
    this.name = opts.name ?? 'queue';
    // client-go's per-item exponential limiter: base·2^failures, capped, no jitter.
    this.backoff = { initialMs: opts.baseDelayMs ?? 5, maxMs: opts.maxDelayMs ?? 1_000_000, factor: 2, jitter: 0 };
    this.clock = opts.clock ?? backgroundClock;
    this.onError = opts.onError;
    this.minIntervalMs = opts.minIntervalMs ?? 0;
    if (!(this.minIntervalMs >= 0)) throw new Error(`work queue ${this.name}: minIntervalMs must be >= 0`);
    if (!(this.backoff.initialMs > 0) || !(this.backoff.maxMs >= this.backoff.initialMs)) {
      throw new Error(`work queue ${this.name}: need 0 < baseDelayMs <= maxDelayMs`);
    }
  }

  add(key: string, priority: Priority = 'normal'): void {
    if (this.shuttingDown) return;
    if (this.processing.has(key)) {
      // Queued again by `done`, so it is never handed out twice at once.
      if (priority === 'high') this.rerunHigh.add(key);
      if (this.dirty.has(key)) return;
      this.adds++;
      this.dirty.add(key);
      return;
    }
    const current = this.waiting.get(key);
    if (current !== undefined) {
      if (priority === 'high' && current === 'normal') this.enqueue(key, 'high');
      return;
    }
    const wait = this.intervalLeft(key);
    if (wait > 0) {
      this.addAfter(key, wait);
      return;
    }
    this.adds++;
    this.dirty.add(key);
    this.enqueue(key, priority);
  }

  private enqueue(key: string, priority: Priority): void {
    this.waiting.set(key, priority);
    this.fifo[priority].push(key);
    this.notify();
  }

  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (!(ms > 0)) {
      this.add(key);
      return;
    }
    const at = this.clock.now() + ms;
    const existing = this.delayed.get(key);
    // Keep the earliest wake-up: a later request must not postpone an earlier one.
    if (existing && existing.at <= at) return;
    if (existing) this.clock.clearTimeout(existing.handle);
    const handle = this.clock.setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    this.delayed.set(key, { at, handle });
  }

  addRateLimited(key: string): void {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    this.retries++;
    this.addAfter(key, backoffDelay(this.backoff, n));
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  numRequeues(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  // Keys waiting for a worker (the queue depth metric).
  len(): number {
    return this.waiting.size;
  }

  // Keys waiting for a delay to pass.
  delayedLen(): number {
    return this.delayed.size;
  }

  inFlight(): number {
    return this.processing.size;
  }

  isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  shutdown(): void {
    this.shuttingDown = true;
    for (const { handle } of this.delayed.values()) this.clock.clearTimeout(handle);
    this.delayed.clear();
    this.notify();
  }

  // Hands the next key out; the caller must call `done(key)` when finished. Undefined if none waits.
  get(): string | undefined {
    if (this.shuttingDown) return undefined;
    for (const priority of ['high', 'normal'] as const) {
      const fifo = this.fifo[priority];
      for (let key = fifo.shift(); key !== undefined; key = fifo.shift()) {
        if (this.waiting.get(key) !== priority) continue; // stale
        this.waiting.delete(key);
        this.processing.add(key);
        this.dirty.delete(key);
        if (this.minIntervalMs > 0) this.noteStarted(key);
        return key;
      }
    }
    return undefined;
  }

  done(key: string): void {
    this.processing.delete(key);
    const priority: Priority = this.rerunHigh.delete(key) ? 'high' : 'normal';
    if (!this.dirty.has(key) || this.shuttingDown) {
      this.notify();
      return;
    }
    const wait = this.intervalLeft(key);
    if (wait > 0) {
      this.dirty.delete(key);
      this.addAfter(key, wait);
      this.notify();
    } else this.enqueue(key, priority);
  }

  // How long `key` must still wait before it may be handed out again (minIntervalMs), 0 if it may now.
  private intervalLeft(key: string): number {
    if (this.minIntervalMs === 0) return 0;
    const at = this.started.get(key);
    if (at === undefined) return 0;
    const left = at + this.minIntervalMs - this.clock.now();
    if (left > 0) return left;
    this.started.delete(key);
    return 0;
  }

  private noteStarted(key: string): void {
    const now = this.clock.now();
    // Keys never added again would stay for good: drop the lapsed ones once the map has grown.
    if (this.started.size >= 1024) for (const [k, at] of this.started) if (at + this.minIntervalMs <= now) this.started.delete(k);
    this.started.set(key, now);
  }

  // Runs `worker` over the keys with at most `concurrency` keys in flight, until the queue shuts down or
  // the signal aborts. Resolves when the in-flight runs have finished.
  async run(worker: Worker, concurrency: number, opts: RunOptions = {}): Promise<void> {
    if (!(concurrency >= 1)) throw new Error(`work queue ${this.name}: concurrency must be >= 1`);
    if (this.running) throw new Error(`work queue ${this.name}: already running`);
    this.running = true;
    const signal = opts.signal;
    const onAbort = () => this.notify();
    signal?.addEventListener('abort', onAbort);
    const inFlight = new Set<Promise<void>>();
    try {
      for (;;) {
        if (this.shuttingDown || signal?.aborted) break;
        while (inFlight.size < concurrency && !signal?.aborted) {
          const key = this.get();
          if (key === undefined) break;
          const p = this.processOne(worker, key).finally(() => {
            inFlight.delete(p);
            // `done` already woke the loop, but the slot is free only now.
            this.notify();
          });
          inFlight.add(p);
        }
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          // Re-check after arming: anything that happened before `wake` was set would be lost.
          if (this.shuttingDown || signal?.aborted || (inFlight.size < concurrency && this.waiting.size > 0)) {
            resolve();
          }
        });
        this.wake = undefined;
      }
      await Promise.allSettled([...inFlight]);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.running = false;
    }
  }

  private async processOne(worker: Worker, key: string): Promise<void> {
    try {
      const res = await worker(key);
      this.forget(key);
      // requeueAfterMs 0 asks to run again at once (after this run is done), a delay to come back then.
      // "At once" still yields to I/O first: a worker that asks for it without awaiting anything would
      // otherwise re-run on microtasks alone and starve every socket and timer of the process.
      const after = res?.requeueAfterMs;
      if (after !== undefined && after > 0) this.addAfter(key, after);
      else if (after !== undefined) setImmediate(() => this.addAfter(key, 0));
    } catch (err) {
      if (err instanceof RetryAfter) {
        this.addAfter(key, err.delayMs);
      } else {
        try {
          this.onError?.(key, err, (this.failures.get(key) ?? 0) + 1);
        } catch {
          // The hook only reports; a broken reporter must not lose the retry.
        }
        this.addRateLimited(key);
      }
    } finally {
      this.done(key);
    }
  }

  private notify(): void {
    const w = this.wake;
    if (w) {
      this.wake = undefined;
      w();
    }
  }
}
