// GET /events: Server-Sent Events carrying BackendActivity. The wire format is a contract (see
// sidecar/README.md); the formatting and the throttling decision are pure and tested by tables.
import type { ServerResponse } from 'node:http';
import type { BackendActivity } from '../../common/contract.ts';
import type { ActivityTracker, Now } from './activity.ts';

export const HEARTBEAT = ': heartbeat\n\n';

export function formatEvent(activity: BackendActivity): string {
  return `data: ${JSON.stringify(activity)}\n\n`;
}

// Sent once, before the first event: how long an EventSource waits before reconnecting.
export function formatRetry(retryMs: number): string {
  return `retry: ${retryMs}\n\n`;
}

export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
} as const;

// Under load the connection count changes thousands of times a second; subscribers get the latest
// state at most once per `minIntervalMs`. The first change after a quiet spell goes out at once.
export function throttleDelay(nowMs: number, lastSentMs: number | undefined, minIntervalMs: number): number {
  if (lastSentMs === undefined) return 0;
  return Math.max(0, lastSentMs + minIntervalMs - nowMs);
}

export interface EventHubOptions {
  heartbeatMs: number;
  minIntervalMs: number;
  retryMs: number;
  clock?: Now;
}

export class EventHub {
  #tracker: ActivityTracker;
  #options: EventHubOptions;
  #clock: Now;
  // Each stream with the state it was last sent: a subscriber hears about a change only if its own
  // picture is out of date, whenever it joined (a single shared key would go stale while nobody
  // listens, and then swallow the first real change after someone subscribes).
  #streams = new Map<ServerResponse, string>();
  #lastSentMs: number | undefined;
  #flushTimer: NodeJS.Timeout | undefined;
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #unsubscribe: () => void;

  constructor(tracker: ActivityTracker, options: EventHubOptions) {
    this.#tracker = tracker;
    this.#options = options;
    this.#clock = options.clock ?? Date.now;
    this.#unsubscribe = tracker.onChange(() => this.#changed());
  }

  get subscribers(): number {
    return this.#streams.size;
  }

  subscribe(res: ServerResponse): void {
    res.writeHead(200, SSE_HEADERS);
    res.write(formatRetry(this.#options.retryMs) + formatEvent(this.#tracker.snapshot()));
    this.#streams.set(res, this.#tracker.changeKey());
    res.once('close', () => {
      this.#streams.delete(res);
      if (this.#streams.size === 0) this.#stopHeartbeat();
    });
    this.#startHeartbeat();
  }

  // Ends every stream and stops every timer; the hub is unusable afterwards.
  close(): void {
    this.#unsubscribe();
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    this.#stopHeartbeat();
    for (const res of this.#streams.keys()) res.end();
    this.#streams.clear();
  }

  #changed(): void {
    if (this.#flushTimer !== undefined || this.#streams.size === 0) return;
    const delay = throttleDelay(this.#clock(), this.#lastSentMs, this.#options.minIntervalMs);
    if (delay === 0) this.#flush();
    else this.#flushTimer = setTimeout(() => this.#flush(), delay);
  }

  #flush(): void {
    this.#flushTimer = undefined;
    const key = this.#tracker.changeKey();
    let chunk: string | undefined;
    for (const [res, sentKey] of this.#streams) {
      if (sentKey === key) continue;
      chunk ??= formatEvent(this.#tracker.snapshot());
      res.write(chunk);
      this.#streams.set(res, key);
    }
    if (chunk !== undefined) this.#lastSentMs = this.#clock();
  }

  #broadcast(chunk: string): void {
    for (const res of this.#streams.keys()) res.write(chunk);
  }

  #startHeartbeat(): void {
    if (this.#heartbeatTimer !== undefined) return;
    this.#heartbeatTimer = setInterval(() => this.#broadcast(HEARTBEAT), this.#options.heartbeatMs);
  }

  #stopHeartbeat(): void {
    clearInterval(this.#heartbeatTimer);
    this.#heartbeatTimer = undefined;
  }
}
