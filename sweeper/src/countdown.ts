// One backend's countdown on this node: its activity source, its last observation, whether it can be
// reached, and the single timer that re-runs the decision. Everything it holds is released by stop() or once the
// backend is swept.

import type { BackendActivity } from '../../common/contract.ts';
import { errText, forBackend, type Logger } from '../../common/log.ts';
import type { ActivityListener, ActivitySource } from './activity-sources.ts';
import { backoffDelay, type BackoffPolicy } from '../../common/kube/backoff.ts';
import { MAX_TIMER_MS, type Clock, type TimerHandle } from '../../common/kube/clock.ts';
import { decide, type ActivityObservation, type Decision } from './decide.ts';
import type { SessionLivedBackend } from '../../common/spawner/types.ts';
import { backendFacts, sameEndpoint, type ActivityEndpoint } from './slb.ts';
import type { SweepOutcome, SweepRequest } from './sweep.ts';

export interface CountdownDeps {
  clock: Clock;
  log: Logger;
  endpointOf(slb: SessionLivedBackend): ActivityEndpoint | undefined;
  // Why a Ready backend has no endpoint, for the warning (default: no status.podIP).
  whyNotFollowed?(slb: SessionLivedBackend): string | undefined;
  confirmTimeoutMs: number;
  retry: BackoffPolicy; // for sweeps that failed on an API error
  openSource(endpoint: ActivityEndpoint, listener: ActivityListener): ActivitySource;
  sweep(slb: SessionLivedBackend, request: SweepRequest, stillDue: () => boolean): Promise<SweepOutcome>;
  // The countdown is finished (swept, or found deleted/replaced/moved); the owner may drop it.
  finished(countdown: BackendCountdown, outcome: SweepOutcome | 'forgotten'): void;
}

function where(e: ActivityEndpoint): Record<string, string | number> {
  switch (e.mode) {
    case 'stream':
      return { url: e.eventsUrl };
    case 'poll':
      return { url: e.statusUrl };
    case 'node':
      return { pod: e.podUID, port: e.appPort };
  }
}

export class BackendCountdown {
  readonly uid: string;
  #slb: SessionLivedBackend;
  #deps: CountdownDeps;
  #log: Logger;
  #endpoint: ActivityEndpoint | undefined;
  #source: ActivitySource | undefined;
  #activity: ActivityObservation | undefined;
  #unreachableSince: number | undefined;
  #timer: TimerHandle | undefined;
  #sweeping = false;
  #sweepFailures = 0;
  #finished = false;
  #lastWhy = '';

  constructor(slb: SessionLivedBackend, deps: CountdownDeps) {
    this.uid = slb.metadata.uid ?? '';
    this.#slb = slb;
    this.#deps = deps;
    this.#log = forBackend(deps.log, slb.metadata.namespace ?? '', slb.metadata.name ?? '');
    this.update(slb);
  }

  get finished(): boolean {
    return this.#finished;
  }

  // For tests and debugging: what the countdown holds right now.
  get holds(): { source: boolean; timer: boolean } {
    return { source: this.#source !== undefined, timer: this.#timer !== undefined };
  }

  get lastObservation(): ActivityObservation | undefined {
    return this.#activity;
  }

  update(slb: SessionLivedBackend): void {
    if (this.#finished) return;
    this.#slb = slb;
    const endpoint = this.#deps.endpointOf(slb);
    if (!sameEndpoint(endpoint, this.#endpoint)) this.#follow(endpoint);
    this.#evaluate();
  }

  // Releases everything the countdown holds: the stream (or poller) and the timer. A confirmation read
  // in flight is aborted with the source; #confirm sees #finished and does nothing more.
  stop(): void {
    this.#finished = true;
    this.#closeSource();
    this.#clearTimer();
  }

  #follow(endpoint: ActivityEndpoint | undefined): void {
    this.#closeSource();
    this.#endpoint = endpoint;
    // What an old address said says nothing about a new one.
    this.#activity = undefined;
    this.#unreachableSince = undefined;
    if (endpoint === undefined) {
      if (this.#slb.status?.phase === 'Ready') this.#log.warn(this.#deps.whyNotFollowed?.(this.#slb) ?? 'Ready but no status.podIP: cannot follow its activity, not sweeping it for idleness');
      return;
    }
    this.#log.info({ mode: endpoint.mode, ...where(endpoint) }, 'following activity');
    const source = this.#deps.openSource(endpoint, {
      observation: (activity) => {
        if (this.#source === source) this.#observe(activity);
      },
      unreachable: (reason) => {
        if (this.#source === source) this.#markUnreachable(reason);
      },
    });
    this.#source = source;
    source.start();
  }

  #observe(activity: BackendActivity): void {
    const wasUnreachable = this.#unreachableSince !== undefined;
    const before = this.#activity?.activeConnections;
    this.#activity = {
      activeConnections: activity.active_connections,
      secondsInactive: activity.seconds_inactive,
      observedAt: this.#deps.clock.now(),
    };
    this.#unreachableSince = undefined;
    if (wasUnreachable) this.#log.info(`${this.#sourceName()} reachable again`);
    if (before !== activity.active_connections) {
      this.#log.debug({ active_connections: activity.active_connections, seconds_inactive: activity.seconds_inactive }, 'activity');
    }
    this.#evaluate(true);
  }

  #markUnreachable(reason: string): void {
    if (this.#unreachableSince === undefined) {
      this.#unreachableSince = this.#deps.clock.now();
      this.#log.warn({ reason }, `${this.#sourceName()} unreachable`);
    } else {
      this.#log.debug({ reason }, `${this.#sourceName()} still unreachable`);
    }
    this.#evaluate();
  }

  // What the logs and a sweep message call the source (tests and users grep for 'sidecar unreachable').
  #sourceName(): string {
    return this.#endpoint?.mode === 'node' ? "the Pod's processes" : 'sidecar';
  }

  #decide(): Decision {
    return decide(backendFacts(this.#slb), this.#activity, { unreachableSince: this.#unreachableSince, source: this.#sourceName() }, this.#deps.clock.now());
  }

  // `fresh`: the decision rests on a reading that just arrived, not on one held while a timer ran.
  #evaluate(fresh = false): void {
    if (this.#finished || this.#sweeping) return;
    this.#clearTimer();
    const decision = this.#decide();
    switch (decision.action) {
      case 'keep':
        if (decision.why !== this.#lastWhy) this.#log.debug({ why: decision.why, recheckInMs: decision.recheckInMs }, 'keeping');
        this.#lastWhy = decision.why;
        if (decision.recheckInMs !== null) this.#arm(decision.recheckInMs);
        return;
      case 'forget':
        this.#finish('forgotten');
        return;
      case 'sweep':
        // Idle is the one verdict a stale reading could get wrong: ask the sidecar once more first.
        if (decision.reason === 'Idle' && !fresh && this.#source !== undefined) void this.#confirm(this.#source);
        else void this.#apply(decision);
    }
  }

  #arm(ms: number): void {
    this.#timer = this.#deps.clock.setTimeout(() => {
      this.#timer = undefined;
      this.#evaluate();
    }, Math.min(ms, MAX_TIMER_MS));
  }

  async #confirm(source: ActivitySource): Promise<void> {
    this.#sweeping = true;
    let reading: BackendActivity | Error;
    try {
      reading = await source.fetchNow(this.#deps.confirmTimeoutMs);
    } catch (err) {
      reading = err as Error;
    }
    this.#sweeping = false;
    if (this.#finished) return;
    if (this.#source !== source) {
      this.#evaluate(); // the address changed meanwhile; the new source will report
      return;
    }
    if (reading instanceof Error) this.#markUnreachable(`confirmation failed: ${reading.message}`);
    else this.#observe(reading); // re-decides on the fresh reading
  }

  // Called with a decision made on a reading no older than the confirmation (or one that needs none).
  async #apply(decision: Extract<Decision, { action: 'sweep' }>): Promise<void> {
    this.#sweeping = true;
    this.#log.info({ reason: decision.reason, message: decision.message }, 'sweeping');
    let outcome: SweepOutcome;
    try {
      outcome = await this.#deps.sweep(this.#slb, { reason: decision.reason, message: decision.message }, () => this.#stillDue(decision));
    } catch (err) {
      if (this.#finished) return;
      const delay = backoffDelay(this.#deps.retry, this.#sweepFailures++);
      this.#log.error({ err: errText(err), retryInMs: delay }, 'sweep failed; will decide again');
      this.#sweeping = false;
      this.#arm(delay);
      return;
    }
    if (outcome === 'cancelled') {
      if (this.#finished) return;
      this.#sweeping = false;
      this.#log.info('sweep cancelled: activity resumed');
      this.#evaluate();
      return;
    }
    // The record of what the sweeper did, even when the deletion's own watch event (which can arrive
    // while the Event is still being written) has already finished this countdown.
    this.#log.info({ outcome }, outcome === 'deleted' ? 'swept' : 'not swept: the object changed');
    if (this.#finished) return;
    this.#sweeping = false;
    this.#finish(outcome);
  }

  #stillDue(decision: Extract<Decision, { action: 'sweep' }>): boolean {
    if (this.#finished) return false;
    const now = this.#decide();
    return now.action === 'sweep' && now.reason === decision.reason;
  }

  #finish(outcome: SweepOutcome | 'forgotten'): void {
    this.stop();
    this.#deps.finished(this, outcome);
  }

  #closeSource(): void {
    this.#source?.close();
    this.#source = undefined;
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) this.#deps.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
