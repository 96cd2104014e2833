// Gives memory back once a burst of connections is over. V8 keeps the heap it grew to while
// thousands of connections opened and closed: its own memory reducer waits for a low allocation rate
// it rarely sees in a proxy, and an ordinary full GC frees objects but keeps their pages. Measured on
// the sidecar (sidecar/README.md): 8 × 1,000 WebSockets opened and closed left RSS at 2.6× idle for
// good; one compacting GC once the proxy had been quiet for a few seconds brought it back to
// 1.2–1.3×, in about 25 ms. So: when no connection has opened or closed for `quietMs` and the heap
// has grown by `growthBytes` since the last reduction, run V8's memory-reducing GC (the one it runs
// under memory pressure), once.
import type { Now } from './activity.ts';

export interface HeapReading {
  committedBytes: number; // what the heap holds from the system (v8.getHeapStatistics().total_heap_size)
}

/** The decision, pure: reduce once quiet long enough after the heap grew enough. */
export function shouldReduce(o: { sinceActivityMs: number; quietMs: number; committedBytes: number; baselineBytes: number; growthBytes: number }): boolean {
  return o.sinceActivityMs >= o.quietMs && o.committedBytes - o.baselineBytes >= o.growthBytes;
}

export interface MemoryReducerOptions {
  lastActivityMs: () => number; // when a connection last opened or closed
  heap: () => HeapReading;
  gc: () => void; // the memory-reducing collection
  clock?: Now;
  checkEveryMs?: number;
  quietMs?: number;
  growthBytes?: number;
  onReduced?: (before: number, after: number, tookMs: number) => void;
}

export const QUIET_MS = 5_000;
// Below this the heap's own growth and shrinking is noise; one idle sidecar's heap is ~9 MB.
export const GROWTH_BYTES = 8 * 1024 * 1024;

export class MemoryReducer {
  #o: Required<Omit<MemoryReducerOptions, 'onReduced'>> & Pick<MemoryReducerOptions, 'onReduced'>;
  #baseline: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: MemoryReducerOptions) {
    this.#o = {
      ...options,
      clock: options.clock ?? Date.now,
      checkEveryMs: options.checkEveryMs ?? 1000,
      quietMs: options.quietMs ?? QUIET_MS,
      growthBytes: options.growthBytes ?? GROWTH_BYTES,
    };
    this.#baseline = this.#o.heap().committedBytes;
  }

  start(): void {
    this.#timer ??= setInterval(() => this.check(), this.#o.checkEveryMs).unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One check; the timer calls it, tests call it directly. Returns whether it reduced. */
  check(): boolean {
    const now = this.#o.clock();
    const committedBytes = this.#o.heap().committedBytes;
    const reduce = shouldReduce({
      sinceActivityMs: now - this.#o.lastActivityMs(),
      quietMs: this.#o.quietMs,
      committedBytes,
      baselineBytes: this.#baseline,
      growthBytes: this.#o.growthBytes,
    });
    if (!reduce) {
      // A heap that shrank by itself lowers the bar for the next reduction.
      this.#baseline = Math.min(this.#baseline, committedBytes);
      return false;
    }
    const start = performance.now();
    this.#o.gc();
    this.#baseline = this.#o.heap().committedBytes;
    this.#o.onReduced?.(committedBytes, this.#baseline, performance.now() - start);
    return true;
  }
}

type Gc = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

/**
 * V8's memory-reducing collection. `gc` is a global only under `--expose-gc`, and that flag costs
 * every start ~25% more CPU (measured: 63 vs 48 ms to load the sidecar); so the flag is set at run
 * time, the first time memory is to be returned, and `gc` taken from a fresh context, which is where
 * V8 installs it (4 ms, once).
 */
export function memoryReducingGc(): () => void {
  let gc: Gc | undefined;
  return () => {
    if (!gc) {
      gc = (globalThis as { gc?: Gc }).gc;
      if (typeof gc !== 'function') {
        process.getBuiltinModule('node:v8').setFlagsFromString('--expose-gc');
        gc = process.getBuiltinModule('node:vm').runInNewContext('gc') as Gc;
      }
    }
    // 'last-resort' is the collection V8 runs under memory pressure: it compacts and hands empty
    // pages back; a plain gc() frees the objects but keeps the pages.
    gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  };
}
