// The set of backends this node's sweeper follows, fed by the SLB informer (add/update/delete). It
// makes sure there is exactly one tracker per live SLB of this node and none for anything else.

import type { Logger } from '../../common/log.ts';
import { openSource, type ActivityListener, type ActivitySource, type SourceSettings } from './activity.ts';
import type { BackoffPolicy } from './backoff.ts';
import { systemClock, type Clock } from './clock.ts';
import { activityEndpoint, slbKey, type ActivityEndpoint, type SessionLivedBackend } from './slb.ts';
import { sweepBackend, type SweepApi, type SweepOutcome } from './sweep.ts';
import { BackendTracker, type TrackerDeps } from './tracker.ts';

export interface SweeperOptions {
  nodeName: string;
  api: SweepApi;
  log: Logger;
  clock?: Clock;
  sidecarAdminPort: number;
  source: Omit<SourceSettings, 'clock'>;
  confirmTimeoutMs: number;
  retry: BackoffPolicy;
  // Tests swap how an endpoint is followed; production opens the stream or the poller.
  openSource?: (endpoint: ActivityEndpoint, listener: ActivityListener) => ActivitySource;
  // Tests point backends at loopback servers; production derives the URL from status.podIP.
  endpointOf?: (slb: SessionLivedBackend) => ActivityEndpoint | undefined;
  onSwept?: (slb: SessionLivedBackend, outcome: SweepOutcome) => void;
}

export class Sweeper {
  #opts: SweeperOptions;
  #clock: Clock;
  #trackers = new Map<string, BackendTracker>();
  // Backends already swept or forgotten, by uid, until the informer confirms they are gone: a late
  // update of an object we just deleted must not start a second sweep of it.
  #settled = new Set<string>();
  #stopped = false;

  constructor(opts: SweeperOptions) {
    this.#opts = opts;
    this.#clock = opts.clock ?? systemClock;
  }

  get size(): number {
    return this.#trackers.size;
  }

  tracker(namespace: string, name: string): BackendTracker | undefined {
    return this.#trackers.get(`${namespace}/${name}`);
  }

  // From the informer's add and update.
  upsert(slb: SessionLivedBackend): void {
    if (this.#stopped) return;
    const key = slbKey(slb);
    const uid = slb.metadata?.uid ?? '';
    const existing = this.#trackers.get(key);
    if (existing && existing.uid !== uid) this.#drop(key, 'replaced by a new object of the same name');

    // Never act on what is not ours: another node's backend, or one already on its way out.
    const reason =
      slb.status?.nodeName !== this.#opts.nodeName
        ? 'not on this node'
        : slb.metadata?.deletionTimestamp || slb.status?.phase === 'Terminating'
          ? 'being deleted'
          : this.#settled.has(uid)
            ? 'already settled'
            : undefined;
    if (reason !== undefined) {
      if (this.#trackers.has(key)) this.#drop(key, reason);
      return;
    }
    const tracker = this.#trackers.get(key);
    if (tracker) {
      tracker.update(slb);
      return;
    }
    const created = new BackendTracker(slb, this.#trackerDeps());
    if (!created.finished) this.#trackers.set(key, created);
  }

  // From the informer's delete: someone (maybe us) deleted it.
  remove(slb: SessionLivedBackend): void {
    const key = slbKey(slb);
    const tracker = this.#trackers.get(key);
    if (tracker && tracker.uid === (slb.metadata?.uid ?? '')) this.#drop(key, 'deleted');
    this.#settled.delete(slb.metadata?.uid ?? '');
  }

  // After a relist: anything we follow that the API server no longer lists is gone.
  retainOnly(live: Iterable<SessionLivedBackend>): void {
    const keep = new Set<string>();
    for (const slb of live) keep.add(`${slbKey(slb)}|${slb.metadata?.uid ?? ''}`);
    for (const [key, tracker] of this.#trackers) {
      if (!keep.has(`${key}|${tracker.uid}`)) this.#drop(key, 'no longer listed');
    }
    const uids = new Set([...keep].map((k) => k.slice(k.lastIndexOf('|') + 1)));
    for (const uid of this.#settled) if (!uids.has(uid)) this.#settled.delete(uid);
  }

  stop(): void {
    this.#stopped = true;
    for (const key of [...this.#trackers.keys()]) this.#drop(key, 'sweeper stopping');
    this.#settled.clear();
  }

  #drop(key: string, why: string): void {
    const tracker = this.#trackers.get(key);
    if (!tracker) return;
    tracker.stop();
    this.#trackers.delete(key);
    const [namespace, name] = key.split('/');
    this.#opts.log.debug({ namespace, name, why }, 'stopped following');
  }

  #trackerDeps(): TrackerDeps {
    const o = this.#opts;
    const settings: SourceSettings = { ...o.source, clock: this.#clock };
    return {
      clock: this.#clock,
      log: o.log,
      endpointOf: o.endpointOf ?? ((slb) => activityEndpoint(slb, o.sidecarAdminPort)),
      confirmTimeoutMs: o.confirmTimeoutMs,
      retry: o.retry,
      openSource: o.openSource ?? ((endpoint, listener) => openSource(endpoint, listener, settings)),
      sweep: async (slb, request, stillDue) => {
        const outcome = await sweepBackend(o.api, slb, request, {
          nodeName: o.nodeName,
          now: () => this.#clock.now(),
          log: o.log.child({ namespace: slb.metadata.namespace, name: slb.metadata.name }),
          stillDue,
        });
        o.onSwept?.(slb, outcome);
        return outcome;
      },
      finished: (tracker, outcome) => {
        // A tracker whose own finish comes from a 'cancelled' never gets here; everything else is final.
        for (const [key, t] of this.#trackers) {
          if (t === tracker) {
            this.#trackers.delete(key);
            if (outcome !== 'moved') this.#settled.add(tracker.uid);
          }
        }
      },
    };
  }
}
