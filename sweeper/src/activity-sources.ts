// Where a backend's activity comes from: the sidecar's event stream, polling the app's /status, or the
// node observer reading the Pod's TCP state from the node (node/). All report the same two things to their listener: an observation, or that the
// backend could not be reached. Both can also be asked for a fresh reading right before a sweep.

import * as http from 'node:http';
import type { BackendActivity } from '../../common/contract.ts';
import { backoffDelay, type BackoffPolicy } from '../../common/kube/backoff.ts';
import { systemClock, type Clock, type TimerHandle } from '../../common/kube/clock.ts';
import type { NodeObserver } from './node/observer.ts';
import { NodeSource } from './node/source.ts';
import { SseClient } from './sse.ts';
import type { ActivityEndpoint } from './slb.ts';

export interface ActivityListener {
  observation(activity: BackendActivity): void;
  unreachable(reason: string): void;
}

export interface ActivitySource {
  readonly mode: ActivityEndpoint['mode'];
  start(): void;
  close(): void;
  // A reading taken now, bypassing the stream: the last check before a backend is swept for idleness.
  fetchNow(timeoutMs: number): Promise<BackendActivity>;
}

export interface SourceSettings {
  // Node mode: the one observer of this node's Pods (absent: this sweeper cannot see the node's processes).
  nodeObserver?: NodeObserver;
  deadAfterMs: number; // stream: silence that means dead (2× the sidecar heartbeat)
  connectTimeoutMs: number;
  pollIntervalMs: number; // sidecar disabled: how often /status is read
  backoff: BackoffPolicy;
  clock?: Clock;
}

const MAX_STATUS_BYTES = 64 * 1024;

// Accepts the contract's JSON and nothing looser: a wrong reading could sweep a live backend.
export function parseActivity(text: string): BackendActivity {
  const value: unknown = JSON.parse(text);
  if (typeof value !== 'object' || value === null) throw new Error('not a JSON object');
  const v = value as Record<string, unknown>;
  const count = v.active_connections;
  const inactive = v.seconds_inactive;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 0) throw new Error('active_connections must be a whole number ≥ 0');
  if (typeof inactive !== 'number' || !Number.isFinite(inactive) || inactive < 0) throw new Error('seconds_inactive must be a number ≥ 0');
  return {
    active_connections: count,
    seconds_inactive: inactive,
    listening: v.listening === true,
    ready: v.ready === true,
  };
}

export function fetchStatus(url: string, timeoutMs: number, signal?: AbortSignal): Promise<BackendActivity> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, headers: { accept: 'application/json' }, signal });
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    req.on('close', () => clearTimeout(timer));
    req.on('error', (err) => reject(err));
    req.on('response', (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`GET ${url}: HTTP ${res.statusCode}`));
        return;
      }
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
        if (body.length > MAX_STATUS_BYTES) req.destroy(new Error('status answer too large'));
      });
      res.on('error', reject);
      res.on('end', () => {
        try {
          resolve(parseActivity(body));
        } catch (err) {
          reject(new Error(`GET ${url}: ${(err as Error).message}`));
        }
      });
    });
  });
}

export class StreamSource implements ActivitySource {
  readonly mode = 'stream';
  #endpoint: Extract<ActivityEndpoint, { mode: 'stream' }>;
  #client: SseClient;
  #aborts = new AbortController();

  constructor(endpoint: Extract<ActivityEndpoint, { mode: 'stream' }>, listener: ActivityListener, settings: SourceSettings) {
    this.#endpoint = endpoint;
    this.#client = new SseClient({
      url: endpoint.eventsUrl,
      deadAfterMs: settings.deadAfterMs,
      connectTimeoutMs: settings.connectTimeoutMs,
      backoff: settings.backoff,
      clock: settings.clock,
      handlers: {
        message: (data) => {
          let activity: BackendActivity;
          try {
            activity = parseActivity(data);
          } catch (err) {
            // Treated like a broken stream: nothing it says can be trusted until it says it properly.
            listener.unreachable(`bad event: ${(err as Error).message}`);
            return;
          }
          listener.observation(activity);
        },
        down: (reason, retryInMs) => listener.unreachable(`${reason}; reconnecting in ${retryInMs} ms`),
      },
    });
  }

  start(): void {
    this.#client.start();
  }

  close(): void {
    this.#client.close();
    this.#aborts.abort();
  }

  fetchNow(timeoutMs: number): Promise<BackendActivity> {
    return fetchStatus(this.#endpoint.statusUrl, timeoutMs, this.#aborts.signal);
  }
}

export class PollSource implements ActivitySource {
  readonly mode = 'poll';
  #url: string;
  #listener: ActivityListener;
  #settings: SourceSettings;
  #clock: Clock;
  #timer: TimerHandle | undefined;
  #failures = 0;
  #closed = false;
  #aborts = new AbortController();

  constructor(endpoint: Extract<ActivityEndpoint, { mode: 'poll' }>, listener: ActivityListener, settings: SourceSettings) {
    this.#url = endpoint.statusUrl;
    this.#listener = listener;
    this.#settings = settings;
    this.#clock = settings.clock ?? systemClock;
  }

  start(): void {
    this.#poll();
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#aborts.abort();
  }

  fetchNow(timeoutMs: number): Promise<BackendActivity> {
    return fetchStatus(this.#url, timeoutMs, this.#aborts.signal);
  }

  #poll(): void {
    this.#timer = undefined;
    fetchStatus(this.#url, this.#settings.connectTimeoutMs, this.#aborts.signal).then(
      (activity) => {
        if (this.#closed) return;
        this.#failures = 0;
        this.#listener.observation(activity);
        this.#schedule(this.#settings.pollIntervalMs);
      },
      (err: Error) => {
        if (this.#closed) return;
        const delay = Math.min(this.#settings.pollIntervalMs, backoffDelay(this.#settings.backoff, this.#failures++));
        this.#listener.unreachable(`${err.message}; retrying in ${delay} ms`);
        this.#schedule(delay);
      },
    );
  }

  #schedule(ms: number): void {
    if (this.#closed) return;
    this.#timer = this.#clock.setTimeout(() => this.#poll(), ms);
  }
}

export function openSource(endpoint: ActivityEndpoint, listener: ActivityListener, settings: SourceSettings): ActivitySource {
  switch (endpoint.mode) {
    case 'stream':
      return new StreamSource(endpoint, listener, settings);
    case 'poll':
      return new PollSource(endpoint, listener, settings);
    case 'node':
      if (!settings.nodeObserver) throw new Error('node mode without a node observer');
      return new NodeSource(settings.nodeObserver, endpoint, listener);
  }
}
