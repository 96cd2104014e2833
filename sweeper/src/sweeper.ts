// The set of backends this node's sweeper follows, fed by the SLB informer (add/update/delete). It
// makes sure there is exactly one countdown per live SLB of this node and none for anything else.

import type { Logger } from '../../common/log.ts';
import { openSource, type ActivityListener, type ActivitySource, type SourceSettings } from './activity-sources.ts';
import type { BackoffPolicy } from '../../common/kube/backoff.ts';
import { systemClock, type Clock } from '../../common/kube/clock.ts';
import { joinKey, objectKey } from '../../common/kube/owners.ts';
import type { SessionLivedBackend } from '../../common/spawner/types.ts';
import { activitySourceOf } from '../../common/spawner/activity.ts';
import type { NodeObserver } from './node/observer.ts';
import { activityEndpoint, type ActivityEndpoint } from './slb.ts';
import { sweepBackend, type SweepApi, type SweepOutcome } from './sweep.ts';
import { BackendCountdown, type CountdownDeps } from './countdown.ts';

export interface SweeperOptions {
  nodeName: string;
  api: SweepApi;
  log: Logger;
  clock?: Clock;
  sidecarAdminPort: number;
  // The node observer for backends in node mode; absent when this sweeper cannot see the node's processes.
  nodeObserver?: NodeObserver;
  source: Omit<SourceSettings, 'clock' | 'nodeObserver'>;
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
  #countdowns = new Map<string, BackendCountdown>();
  // Backends already swept or forgotten, by uid, until the informer confirms they are gone: a late
  // update of an object we just deleted must not start a second sweep of it.
  #settled = new Set<string>();
  #stopped = false;

  constructor(opts: SweeperOptions) {
    this.#opts = opts;
    this.#clock = opts.clock ?? systemClock;
  }

  get size(): number {
    return this.#countdowns.size;
  }

  countdown(namespace: string, name: string): BackendCountdown | undefined {
    return this.#countdowns.get(joinKey(namespace, name));
  }

  // From the informer's add and update.
  upsert(slb: SessionLivedBackend): void {
    if (this.#stopped) return;
    const key = objectKey(slb);
    const uid = slb.metadata?.uid ?? '';
    const existing = this.#countdowns.get(key);
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
      if (this.#countdowns.has(key)) this.#drop(key, reason);
      return;
    }
    const countdown = this.#countdowns.get(key);
    if (countdown) {
      countdown.update(slb);
      return;
    }
    const created = new BackendCountdown(slb, this.#countdownDeps());
    if (!created.finished) this.#countdowns.set(key, created);
  }

  // From the informer's delete: someone (maybe us) deleted it.
  remove(slb: SessionLivedBackend): void {
    const key = objectKey(slb);
    const countdown = this.#countdowns.get(key);
    if (countdown && countdown.uid === (slb.metadata?.uid ?? '')) this.#drop(key, 'deleted');
    this.#settled.delete(slb.metadata?.uid ?? '');
  }

  // After a relist: anything we follow that the API server no longer lists is gone.
  retainOnly(live: Iterable<SessionLivedBackend>): void {
    const keep = new Set<string>();
    for (const slb of live) keep.add(`${objectKey(slb)}|${slb.metadata?.uid ?? ''}`);
    for (const [key, countdown] of this.#countdowns) {
      if (!keep.has(`${key}|${countdown.uid}`)) this.#drop(key, 'no longer listed');
    }
    const uids = new Set([...keep].map((k) => k.slice(k.lastIndexOf('|') + 1)));
    for (const uid of this.#settled) if (!uids.has(uid)) this.#settled.delete(uid);
  }

  stop(): void {
    this.#stopped = true;
    for (const key of [...this.#countdowns.keys()]) this.#drop(key, 'sweeper stopping');
    this.#settled.clear();
  }

  #drop(key: string, why: string): void {
    const countdown = this.#countdowns.get(key);
    if (!countdown) return;
    countdown.stop();
    this.#countdowns.delete(key);
    const [namespace, name] = key.split('/');
    this.#opts.log.debug({ namespace, name, why }, 'stopped following');
  }

  #countdownDeps(): CountdownDeps {
    const o = this.#opts;
    const settings: SourceSettings = { ...o.source, clock: this.#clock, nodeObserver: o.nodeObserver };
    return {
      clock: this.#clock,
      log: o.log,
      endpointOf: o.endpointOf ?? ((slb) => {
        const endpoint = activityEndpoint(slb, o.sidecarAdminPort);
        return endpoint?.mode === 'node' && !o.nodeObserver ? undefined : endpoint;
      }),
      whyNotFollowed: (slb) => {
        if (activitySourceOf(slb) !== 'Node' || !slb.status?.podIP) return undefined;
        if (!slb.status.podUID) return 'Ready in node mode but no status.podUID: cannot find its Pod on this node, not sweeping it for idleness';
        return "Ready in node mode but this sweeper cannot see the node's processes (it needs hostPID): not sweeping it for idleness";
      },
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
      finished: (countdown, outcome) => {
        // A countdown whose own finish comes from a 'cancelled' never gets here; everything else is final.
        for (const [key, t] of this.#countdowns) {
          if (t === countdown) {
            this.#countdowns.delete(key);
            if (outcome !== 'moved') this.#settled.add(countdown.uid);
          }
        }
      },
    };
  }
}
