// The sidecar's whole observable state, kept apart from any socket so it can be tested by tables with
// a fake clock. The proxy reports what happens; the admin port reads snapshots.
import type { BackendActivity } from '../../common/contract.ts';

import type { Clock } from '../../common/kube/clock.ts';

// The one clock type's reading (milliseconds, like Date.now): all the sidecar asks of time.
export type Now = Clock['now'];

// Whole seconds, rounded down: a sweeper that arms `grace - seconds_inactive` can only be late by up to
// a second, never early.
export function secondsInactive(liveConnections: number, lastActivityMs: number, nowMs: number): number {
  if (liveConnections > 0) return 0;
  return Math.max(0, Math.floor((nowMs - lastActivityMs) / 1000));
}

export class ActivityTracker {
  #clock: Now;
  #inFlightRequests = 0;
  #upgradedConnections = 0;
  #lastActivityMs: number;
  #listening = false;
  #draining = false;
  #listeners = new Set<() => void>();

  // Start-up counts as activity: a backend nobody ever connects to is idle from the moment it started.
  constructor(clock: Now = Date.now) {
    this.#clock = clock;
    this.#lastActivityMs = clock();
  }

  // Called synchronously on every change; listeners decide themselves how often to act on it.
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  requestStarted(): void {
    this.#inFlightRequests++;
    this.#touch();
  }

  requestEnded(): void {
    // Clamped rather than thrown: a double report must not crash the proxy of a live backend.
    if (this.#inFlightRequests > 0) this.#inFlightRequests--;
    this.#touch();
  }

  // The app answered 101: the request becomes an upgraded connection, with no moment in between
  // where the backend would look less busy.
  requestUpgraded(): void {
    if (this.#inFlightRequests > 0) this.#inFlightRequests--;
    this.#upgradedConnections++;
    this.#touch();
  }

  upgradeOpened(): void {
    this.#upgradedConnections++;
    this.#touch();
  }

  upgradeClosed(): void {
    if (this.#upgradedConnections > 0) this.#upgradedConnections--;
    this.#touch();
  }

  setListening(listening: boolean): void {
    if (this.#listening === listening) return;
    this.#listening = listening;
    this.#emit();
  }

  // Once shutdown starts the pod must leave the Service's endpoints even though the app still listens.
  setDraining(): void {
    if (this.#draining) return;
    this.#draining = true;
    this.#emit();
  }

  get inFlightRequests(): number {
    return this.#inFlightRequests;
  }

  get upgradedConnections(): number {
    return this.#upgradedConnections;
  }

  get liveConnections(): number {
    return this.#inFlightRequests + this.#upgradedConnections;
  }

  get listening(): boolean {
    return this.#listening;
  }

  get ready(): boolean {
    return this.#listening && !this.#draining;
  }

  get draining(): boolean {
    return this.#draining;
  }

  get lastActivityMs(): number {
    return this.#lastActivityMs;
  }

  snapshot(): BackendActivity {
    const live = this.liveConnections;
    return {
      active_connections: live,
      seconds_inactive: secondsInactive(live, this.#lastActivityMs, this.#clock()),
      listening: this.#listening,
      ready: this.ready,
    };
  }

  // What an event subscriber must hear about: everything but the passing of time. The last-activity
  // instant is part of it so that a request that started and ended between two events still resets
  // the subscriber's countdown.
  changeKey(): string {
    return `${this.liveConnections}|${this.#listening}|${this.ready}|${this.#lastActivityMs}`;
  }

  #touch(): void {
    this.#lastActivityMs = this.#clock();
    this.#emit();
  }

  #emit(): void {
    for (const listener of this.#listeners) listener();
  }
}
