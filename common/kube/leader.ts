// Leader election on a coordination.k8s.io/v1 Lease, following client-go's leaderelection package:
// a candidate takes the Lease when it is free or its holder has not renewed it for leaseDuration (as
// observed on our own clock, so clock skew between nodes does not matter); the leader renews every
// retryPeriod and stops leading at once when it cannot renew within renewDeadline or finds someone else
// holding the Lease. Every write is a replace carrying the resourceVersion we read, so two candidates
// racing for the same Lease cannot both win.
//
// Unlike client-go, a candidate also watches the Lease: a graceful leader releases it on its way out,
// and a candidate that only polled every retryPeriod would notice up to 1.2 × retryPeriod later; with
// the watch it tries at once. A crashed leader's Lease is tried the moment it expires (by our clock)
// rather than on the next poll. Polling stays as the safety net for a watch that is down.

import type { KubeAccess } from './kubeconfig.ts';
import { errText, type Logger } from '../log.ts';
import { interruptibleSleep } from './clock.ts';
import { isNotFound } from './errors.ts';
import { createInformer, type Informer } from './informer.ts';
import { requestJson } from './rest.ts';

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

export interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
  spec?: LeaseSpec;
}

export interface LeaderElectionOptions {
  kubeConfig: KubeAccess;
  namespace: string;
  name: string; // the Lease's name
  identity: string; // this replica: the pod name
  leaseDurationMs?: number; // default 15 s
  renewDeadlineMs?: number; // default 10 s
  retryPeriodMs?: number; // default 2 s
  releaseOnStop?: boolean; // default true: a graceful stop frees the Lease so a standby takes over at once
  // default true: watch the Lease (list/watch on leases, one name) so a released or expired Lease is
  // tried at once instead of on the next retryPeriod tick.
  watchLease?: boolean;
  log: Logger;
  // Called each time this replica becomes leader; `signal` aborts the moment leadership is lost.
  onStartedLeading: (signal: AbortSignal) => void | Promise<void>;
  // Called each time leadership ends (lost or released), right after the signal aborted.
  onStoppedLeading?: (reason: string) => void;
  onNewLeader?: (identity: string) => void;
}

const JITTER = 1.2;

export function validateLeaderTimings(leaseDurationMs: number, renewDeadlineMs: number, retryPeriodMs: number): void {
  if (!(retryPeriodMs > 0)) throw new Error('leader election: retryPeriod must be > 0');
  if (!(renewDeadlineMs > JITTER * retryPeriodMs)) {
    throw new Error(`leader election: renewDeadline must be greater than ${JITTER} × retryPeriod`);
  }
  if (!(leaseDurationMs > renewDeadlineMs)) {
    throw new Error('leader election: leaseDuration must be greater than renewDeadline');
  }
}

export function leasePath(namespace: string, name?: string): string {
  const base = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases`;
  return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
}

// metav1.MicroTime: RFC 3339 with exactly six fractional digits; the API server rejects other precisions.
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, '000Z');
}

type Attempt = { kind: 'ok' } | { kind: 'held'; holder: string } | { kind: 'failed'; err: unknown };

export class LeaderElector {
  private readonly o: LeaderElectionOptions;
  private readonly log: Logger;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;

  private stopped = false;
  private leading = false;
  private term = 0;
  private termAbort: AbortController | undefined;
  private requestAbort: AbortController | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private loopDone: Promise<void> | undefined;
  private leaseWatch: Informer<Lease> | undefined;

  // What we last saw in the Lease, and when we saw it change (our clock).
  private observedKey = '';
  private observedAt = 0;
  private observedDurationMs = 0;
  private observedHolder: string | undefined;

  constructor(opts: LeaderElectionOptions) {
    this.o = opts;
    this.leaseDurationMs = opts.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = opts.retryPeriodMs ?? 2_000;
    validateLeaderTimings(this.leaseDurationMs, this.renewDeadlineMs, this.retryPeriodMs);
    if (!opts.identity) throw new Error('leader election: identity (the pod name) is required');
    this.log = opts.log.child({ lease: `${opts.namespace}/${opts.name}`, identity: opts.identity });
  }

  isLeader(): boolean {
    return this.leading;
  }

  // The holder we last observed (possibly ourselves).
  leader(): string | undefined {
    return this.observedHolder;
  }

  // Starts campaigning in the background. Safe to call once.
  start(): void {
    if (this.loopDone) return;
    if (this.o.watchLease !== false) this.startLeaseWatch();
    this.loopDone = this.loop().catch((err: unknown) => {
      this.log.error({ err: String(err) }, 'leader election loop crashed');
      this.lose('leader election loop crashed');
    });
  }

  // Stops campaigning; when leading, stops leading and (by default) releases the Lease.
  async stop(): Promise<void> {
    if (this.stopped) return this.loopDone;
    this.stopped = true;
    const wasLeading = this.leading;
    this.lose('shutting down');
    this.requestAbort?.abort();
    this.wake?.();
    this.leaseWatch?.stop();
    await this.loopDone;
    if (wasLeading && this.o.releaseOnStop !== false) await this.release();
  }

  // The candidate's ear: every change of the Lease is observed as it happens (so the leaseDuration
  // countdown starts when the change happened, not when a poll saw it), and a Lease that is free or
  // gone wakes the campaign loop at once.
  private startLeaseWatch(): void {
    const { namespace, name } = this.o;
    const watch = createInformer<Lease>({
      kubeConfig: this.o.kubeConfig,
      path: leasePath(namespace),
      fieldSelector: `metadata.name=${name}`,
      log: this.log,
      name: `lease ${namespace}/${name}`,
      // A Lease renewed every retryPeriod is never quiet for long; a silent watch is a dead one.
      silenceTimeoutMs: Math.max(30_000, 10 * this.retryPeriodMs),
      backoffInitialMs: this.retryPeriodMs,
      backoffMaxMs: Math.max(this.retryPeriodMs, this.leaseDurationMs),
    });
    watch.onEvent((ev) => {
      if (this.stopped || this.leading) return;
      if (ev.type === 'delete') {
        this.wake?.();
        return;
      }
      this.observe(ev.obj);
      if (!ev.obj.spec?.holderIdentity) this.wake?.();
    });
    this.leaseWatch = watch;
    watch.start().catch(() => undefined); // stopped before its first list: nothing to do
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const got = await this.tryAcquireOrRenew(this.renewDeadlineMs);
      if (this.stopped) break;
      if (got.kind === 'ok') {
        await this.lead();
        continue;
      }
      if (got.kind === 'failed') this.log.warn({ err: errText(got.err) }, 'could not acquire the lease; retrying');
      await this.sleep(nextAttemptInMs(this.retryPeriodMs * (1 + Math.random() * (JITTER - 1)), got.kind === 'held' ? this.expiresInMs() : undefined));
    }
  }

  private async lead(): Promise<void> {
    const term = ++this.term;
    this.leading = true;
    const ac = new AbortController();
    this.termAbort = ac;
    let lastRenew = Date.now();
    this.armDeadline(lastRenew);
    this.log.info('started leading');
    try {
      const r = this.o.onStartedLeading(ac.signal);
      if (r && typeof r.then === 'function') {
        r.catch((err: unknown) => this.log.error({ err: errText(err) }, 'onStartedLeading failed'));
      }
    } catch (err) {
      this.log.error({ err: errText(err) }, 'onStartedLeading failed');
    }
    while (this.leading && this.term === term && !this.stopped) {
      await this.sleep(this.retryPeriodMs);
      if (!this.leading || this.term !== term || this.stopped) break;
      const remaining = lastRenew + this.renewDeadlineMs - Date.now();
      const r = await this.tryAcquireOrRenew(Math.max(1, remaining));
      if (!this.leading || this.term !== term) break; // lost while the request was out; a late answer counts for nothing
      if (r.kind === 'ok') {
        lastRenew = Date.now();
        this.armDeadline(lastRenew);
      } else if (r.kind === 'held') {
        this.lose(`lease is held by ${r.holder}`);
      } else {
        this.log.warn({ err: errText(r.err), remainingMs: remaining }, 'failed to renew the lease');
      }
    }
  }

  // How long until the Lease we last observed expires, by our clock.
  private expiresInMs(now = Date.now()): number {
    return this.observedAt + this.observedDurationMs - now;
  }

  private armDeadline(lastRenew: number): void {
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    const ms = lastRenew + this.renewDeadlineMs - Date.now();
    this.deadlineTimer = setTimeout(() => this.lose('could not renew the lease within renewDeadline'), Math.max(0, ms));
    this.deadlineTimer.unref();
  }

  private lose(reason: string): void {
    if (!this.leading) return;
    this.leading = false;
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = undefined;
    this.requestAbort?.abort();
    this.termAbort?.abort();
    this.wake?.();
    this.log.warn({ reason }, 'stopped leading');
    try {
      this.o.onStoppedLeading?.(reason);
    } catch (err) {
      this.log.error({ err: errText(err) }, 'onStoppedLeading failed');
    }
  }

  private async sleep(ms: number): Promise<void> {
    const s = interruptibleSleep(ms);
    this.wake = s.wake;
    await s.done;
    if (this.wake === s.wake) this.wake = undefined;
  }

  private async request<T>(method: 'GET' | 'POST' | 'PUT', path: string, body: unknown, timeoutMs: number): Promise<T> {
    const ac = new AbortController();
    this.requestAbort = ac;
    return requestJson<T>(this.o.kubeConfig, { method, path, body, timeoutMs, signal: ac.signal });
  }

  private observe(lease: Lease): void {
    const s = lease.spec ?? {};
    const key = JSON.stringify([s.holderIdentity, s.renewTime, s.acquireTime, s.leaseDurationSeconds, s.leaseTransitions]);
    if (key !== this.observedKey) {
      this.observedKey = key;
      this.observedAt = Date.now();
      this.observedDurationMs = Math.max(1, s.leaseDurationSeconds ?? 1) * 1000;
      const holder = s.holderIdentity || undefined;
      if (holder !== this.observedHolder) {
        this.observedHolder = holder;
        if (holder) {
          this.log.info({ leader: holder }, 'new leader observed');
          try {
            this.o.onNewLeader?.(holder);
          } catch (err) {
            this.log.error({ err: errText(err) }, 'onNewLeader failed');
          }
        }
      }
    }
  }

  private spec(prev: LeaseSpec | undefined): LeaseSpec {
    const now = Date.now();
    const mine = prev?.holderIdentity === this.o.identity;
    return {
      holderIdentity: this.o.identity,
      leaseDurationSeconds: Math.max(1, Math.round(this.leaseDurationMs / 1000)),
      acquireTime: mine && prev?.acquireTime ? prev.acquireTime : microTime(now),
      renewTime: microTime(now),
      leaseTransitions: mine ? (prev?.leaseTransitions ?? 0) : (prev?.leaseTransitions ?? -1) + 1,
    };
  }

  private async tryAcquireOrRenew(timeoutMs: number): Promise<Attempt> {
    const { namespace, name } = this.o;
    let current: Lease;
    try {
      current = await this.request<Lease>('GET', leasePath(namespace, name), undefined, timeoutMs);
    } catch (err) {
      if (!isNotFound(err)) return { kind: 'failed', err };
      const body: Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name, namespace },
        spec: this.spec(undefined),
      };
      try {
        const created = await this.request<Lease>('POST', leasePath(namespace), body, timeoutMs);
        this.observe(created);
        return { kind: 'ok' };
      } catch (e) {
        return { kind: 'failed', err: e };
      }
    }
    this.observe(current);
    const holder = current.spec?.holderIdentity;
    if (holder && holder !== this.o.identity && this.observedAt + this.observedDurationMs > Date.now()) {
      return { kind: 'held', holder };
    }
    const body: Lease = {
      ...current,
      metadata: { ...current.metadata, resourceVersion: current.metadata?.resourceVersion },
      spec: { ...current.spec, ...this.spec(current.spec) },
    };
    try {
      const updated = await this.request<Lease>('PUT', leasePath(namespace, name), body, timeoutMs);
      this.observe(updated);
      return { kind: 'ok' };
    } catch (err) {
      return { kind: 'failed', err };
    }
  }

  // Frees the Lease if we still hold it: an empty holder with a 1 s duration lets a standby take it
  // on its next try instead of waiting out leaseDuration.
  private async release(): Promise<void> {
    const { namespace, name } = this.o;
    try {
      const cur = await requestJson<Lease>(this.o.kubeConfig, {
        path: leasePath(namespace, name),
        timeoutMs: this.renewDeadlineMs,
      });
      if (cur.spec?.holderIdentity !== this.o.identity) return;
      const now = microTime(Date.now());
      await requestJson<Lease>(this.o.kubeConfig, {
        method: 'PUT',
        path: leasePath(namespace, name),
        timeoutMs: this.renewDeadlineMs,
        body: {
          ...cur,
          spec: { ...cur.spec, holderIdentity: '', leaseDurationSeconds: 1, acquireTime: now, renewTime: now },
        },
      });
      this.log.info('released the lease');
    } catch (err) {
      this.log.warn({ err: errText(err) }, 'could not release the lease; a standby takes over after leaseDuration');
    }
  }
}

// A candidate's wait before its next attempt: the poll period, or less when the observed Lease expires
// sooner (a crashed leader's Lease is then tried the moment it may be taken, not up to a period later).
export function nextAttemptInMs(pollMs: number, expiresInMs: number | undefined): number {
  if (expiresInMs === undefined || !(expiresInMs < pollMs)) return pollMs;
  return Math.max(1, expiresInMs + 1);
}
