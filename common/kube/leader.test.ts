import { afterEach, beforeEach, describe, expect, jest, test } from '@jest/globals';
import { LeaderElector, microTime, nextAttemptInMs, validateLeaderTimings, type LeaderElectionOptions, type Lease } from './leader.ts';
import { FakeApiServer } from './testing/fake-apiserver.ts';
import { eventually } from './testing/eventually.ts';
import { memoryLogger } from './testing/memlog.ts';

jest.setTimeout(90_000);

const LEASES = { prefix: '/apis/coordination.k8s.io/v1', plural: 'leases' };
const NS = 'spawner-system';
const LEASE = 'spawner-operator';

let fake: FakeApiServer;
let electors: LeaderElector[];
let timeline: string[];

beforeEach(async () => {
  fake = new FakeApiServer([LEASES]);
  await fake.start();
  electors = [];
  timeline = [];
});

afterEach(async () => {
  for (const e of electors) await e.stop();
  await fake.close();
});

// Short timings keep the tests quick; the ratios are client-go's (15/10/2 s scaled down).
function elector(identity: string, extra: Partial<LeaderElectionOptions> = {}) {
  const { log, lines } = memoryLogger();
  const reasons: string[] = [];
  const signals: AbortSignal[] = [];
  const e = new LeaderElector({
    kubeConfig: fake.kubeConfig(),
    namespace: NS,
    name: LEASE,
    identity,
    leaseDurationMs: 1000,
    renewDeadlineMs: 600,
    retryPeriodMs: 100,
    log,
    onStartedLeading: (signal) => {
      // Nobody else may be leading when we start: the timeline is totally ordered in this process.
      timeline.push(`start ${identity}`);
      signals.push(signal);
    },
    onStoppedLeading: (reason) => {
      timeline.push(`stop ${identity}`);
      reasons.push(reason);
    },
    ...extra,
  });
  electors.push(e);
  return { e, reasons, signals, lines };
}

// Checks that leadership intervals never overlap: every start follows the previous leader's stop.
function assertNoOverlap(events: string[]): void {
  let current: string | undefined;
  for (const ev of events) {
    const [kind, who] = ev.split(' ');
    if (kind === 'start') {
      expect(current).toBeUndefined();
      current = who;
    } else {
      expect(current).toBe(who);
      current = undefined;
    }
  }
}

const lease = () => fake.getObject(LEASES, NS, LEASE) as Lease | undefined;

describe('validateLeaderTimings', () => {
  test.each<[number, number, number, RegExp | null]>([
    [15_000, 10_000, 2_000, null],
    [1000, 600, 100, null],
    [10_000, 10_000, 2_000, /leaseDuration must be greater/],
    [15_000, 2_000, 2_000, /renewDeadline must be greater/],
    [15_000, 10_000, 0, /retryPeriod must be > 0/],
  ])('lease=%d renew=%d retry=%d', (lease, renew, retry, err) => {
    if (err) expect(() => validateLeaderTimings(lease, renew, retry)).toThrow(err);
    else expect(() => validateLeaderTimings(lease, renew, retry)).not.toThrow();
  });
});

describe('nextAttemptInMs', () => {
  test.each<[string, number, number | undefined, number]>([
    ['no Lease observed: the poll period', 2000, undefined, 2000],
    ['the Lease expires after the next poll: the poll period', 2000, 9000, 2000],
    ['the Lease expires before the next poll: just after it expires', 2000, 700, 701],
    ['the Lease expires exactly at the poll: the poll period', 2000, 2000, 2000],
    ['already expired: at once', 2000, -50, 1],
  ])('%s', (_what, poll, expires, want) => {
    expect(nextAttemptInMs(poll, expires)).toBe(want);
  });
});

test('microTime has exactly six fractional digits', () => {
  expect(microTime(Date.UTC(2026, 0, 2, 3, 4, 5, 67))).toBe('2026-01-02T03:04:05.067000Z');
});

describe('leader election', () => {
  test('of two candidates exactly one leads, and it keeps renewing with optimistic concurrency', async () => {
    const a = elector('a');
    const b = elector('b');
    a.e.start();
    b.e.start();
    await eventually(() => a.e.isLeader() || b.e.isLeader(), 'a leader');
    const leader = a.e.isLeader() ? 'a' : 'b';
    const renewsAtStart = fake.countRequests('PUT');
    // Several renew rounds: the standby must never become leader while the leader renews.
    await eventually(() => {
      expect(a.e.isLeader() && b.e.isLeader()).toBe(false);
      return fake.countRequests('PUT') >= renewsAtStart + 8;
    }, 'eight renewals');
    expect(timeline).toEqual([`start ${leader}`]);
    expect(lease()?.spec?.holderIdentity).toBe(leader);
    expect(lease()?.spec?.leaseTransitions).toBe(0);
    expect(a.e.leader()).toBe(leader);
    expect(b.e.leader()).toBe(leader);
    const puts = fake.requests.filter((r) => r.method === 'PUT');
    expect(puts.every((r) => typeof (r.body as Lease).metadata?.resourceVersion === 'string')).toBe(true);
    const renew = lease()!.spec!.renewTime!;
    expect(renew).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  });

  test('a leader whose renewals fail stops leading by renewDeadline, and the standby takes over after leaseDuration', async () => {
    const a = elector('a');
    a.e.start();
    await eventually(() => a.e.isLeader(), 'a leads');
    const b = elector('b');
    b.e.start();
    await eventually(() => b.e.leader() === 'a', 'b sees a');
    // From now on every write by a fails, as if a were cut off from the API server.
    fake.faults.push((r) =>
      r.method === 'PUT' && (r.body as Lease).spec?.holderIdentity === 'a' ? { status: 500 } : undefined,
    );
    await eventually(() => !a.e.isLeader(), 'a stops leading');
    expect(a.reasons).toEqual(['could not renew the lease within renewDeadline']);
    expect(a.signals[0]!.aborted).toBe(true);
    await eventually(() => b.e.isLeader(), 'b takes over');
    expect(timeline).toEqual(['start a', 'stop a', 'start b']);
    expect(lease()?.spec?.holderIdentity).toBe('b');
    expect(lease()?.spec?.leaseTransitions).toBe(1);
    assertNoOverlap(timeline);
  });

  test('a leader that finds someone else holding the Lease stops leading at once', async () => {
    const a = elector('a', { leaseDurationMs: 30_000, renewDeadlineMs: 20_000 });
    a.e.start();
    await eventually(() => a.e.isLeader(), 'a leads');
    const cur = lease()!;
    fake.update(LEASES, {
      ...cur,
      spec: { ...cur.spec, holderIdentity: 'intruder', renewTime: microTime(Date.now()), leaseDurationSeconds: 30 },
    } as never);
    // With renewDeadline at 20 s this can only pass if the foreign holder is acted on at once.
    await eventually(() => !a.e.isLeader(), 'a stops leading', 10_000);
    expect(a.reasons).toEqual(['lease is held by intruder']);
    expect(a.e.leader()).toBe('intruder');
  });

  test('a hung renewal does not extend leadership past renewDeadline', async () => {
    const a = elector('a');
    a.e.start();
    await eventually(() => a.e.isLeader(), 'a leads');
    fake.faults.push((r) => (r.method === 'GET' ? 'hang' : undefined));
    await eventually(() => !a.e.isLeader(), 'a stops leading');
    expect(a.reasons).toEqual(['could not renew the lease within renewDeadline']);
  });

  test('a graceful stop releases the Lease so the standby takes over without waiting out leaseDuration', async () => {
    // A 60 s lease: the standby can only win within the 20 s polling deadline if the Lease was released.
    const slow = { leaseDurationMs: 60_000, renewDeadlineMs: 40_000, retryPeriodMs: 100 };
    const a = elector('a', slow);
    a.e.start();
    await eventually(() => a.e.isLeader(), 'a leads');
    const b = elector('b', slow);
    b.e.start();
    await eventually(() => b.e.leader() === 'a', 'b sees a');
    await a.e.stop();
    expect(a.reasons).toEqual(['shutting down']);
    await eventually(() => b.e.isLeader(), 'b takes over after the release');
    expect(timeline).toEqual(['start a', 'stop a', 'start b']);
    expect(lease()?.spec?.holderIdentity).toBe('b');
  });

  test('a standby that polls rarely still takes a released Lease at once: it watches the Lease', async () => {
    // A 30 s poll period: within the 20 s deadline b can only win if the watch told it of the release.
    const rare = { leaseDurationMs: 120_000, renewDeadlineMs: 60_000, retryPeriodMs: 30_000 };
    const a = elector('a', rare);
    a.e.start();
    await eventually(() => a.e.isLeader(), 'a leads');
    const b = elector('b', rare);
    b.e.start();
    await eventually(() => b.e.leader() === 'a', 'b sees a');
    const watches = fake.countRequests('GET', (r) => r.query.get('watch') === 'true' && r.query.get('fieldSelector') === `metadata.name=${LEASE}`);
    expect(watches).toBeGreaterThanOrEqual(1);
    await a.e.stop();
    await eventually(() => b.e.isLeader(), 'b takes over after the release');
    expect(timeline).toEqual(['start a', 'stop a', 'start b']);
    expect(lease()?.spec?.leaseTransitions).toBe(1);
  });

  test('a standby whose Lease is deleted creates it at once', async () => {
    const rare = { leaseDurationMs: 120_000, renewDeadlineMs: 60_000, retryPeriodMs: 30_000 };
    fake.create(LEASES, {
      apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: LEASE, namespace: NS },
      spec: { holderIdentity: 'gone-replica', leaseDurationSeconds: 120, renewTime: microTime(Date.now()), leaseTransitions: 3 },
    } as Lease as never);
    const b = elector('b', rare);
    b.e.start();
    await eventually(() => b.e.leader() === 'gone-replica', 'b sees the old holder');
    fake.remove(LEASES, NS, LEASE);
    await eventually(() => b.e.isLeader(), 'b creates the Lease and leads');
    expect(lease()?.spec?.holderIdentity).toBe('b');
  });

  test('without the watch (watchLease: false) no watch is opened', async () => {
    const a = elector('a', { watchLease: false });
    a.e.start();
    await eventually(() => a.e.isLeader(), 'a leads');
    expect(fake.countRequests('GET', (r) => r.query.get('watch') === 'true')).toBe(0);
  });

  test('the signal given to onStartedLeading aborts when leadership ends, and a later term gets a fresh one', async () => {
    let fail = false;
    fake.faults.push((r) => (fail && r.method === 'PUT' ? { status: 503 } : undefined));
    const a = elector('a');
    a.e.start();
    await eventually(() => a.e.isLeader(), 'a leads');
    fail = true;
    await eventually(() => !a.e.isLeader(), 'a loses');
    fail = false;
    await eventually(() => a.e.isLeader(), 'a leads again');
    expect(a.signals.map((s) => s.aborted)).toEqual([true, false]);
    expect(timeline).toEqual(['start a', 'stop a', 'start a']);
  });
});
