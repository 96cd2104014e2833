// The sweeper's per-backend logic against real sockets: loopback fake sidecars speaking the admin
// protocol, a recording API, the real clock and short grace periods. Assertions are about what happens
// and in which order; the only time bound asserted is a lower one (never swept before its deadline),
// which a slow machine can only make easier to meet.

import { afterEach, describe, expect, jest, test } from '@jest/globals';
import { Harness, NODE, sleep, until } from './support/harness.ts';

jest.setTimeout(60_000);

// Date.now and the timer clock may disagree by a millisecond or two.
const CLOCK_SLACK_MS = 5;

let h: Harness;
afterEach(async () => {
  await h?.stop();
});

describe('countdown: idleness', () => {
  test('idle backend is swept once its grace period has passed, not before', async () => {
    h = new Harness();
    const sidecar = await h.sidecarFor('apps', 'idle');
    const slb = h.add({ name: 'idle', grace: 1 });
    await until(() => h.deleteCall('apps', 'idle') !== undefined, 'deleted');
    const del = h.deleteCall('apps', 'idle')!;
    expect(del.uid).toBe(slb.metadata.uid);
    expect(del.at).toBeGreaterThanOrEqual(sidecar.lastActivityMs + 1000 - CLOCK_SLACK_MS);
    expect(h.sweptReason('apps', 'idle')).toBe('Idle');
    // The informer's delete removed the countdown and with it the stream.
    await until(() => h.sweeper.size === 0 && sidecar.openSockets === 0, 'countdown and stream gone');
  });

  test('an open connection is never swept, however long it stays open; once closed the countdown runs', async () => {
    h = new Harness();
    const sidecar = await h.sidecarFor('apps', 'busy');
    sidecar.connect();
    h.add({ name: 'busy', grace: 1 });
    await until(() => h.sweeper.countdown('apps', 'busy')?.lastObservation?.activeConnections === 1, 'connection observed');
    await sleep(2500); // more than twice the grace period
    expect(h.api.calls).toEqual([]);
    sidecar.disconnect();
    const closedAt = sidecar.lastActivityMs;
    await until(() => h.deleteCall('apps', 'busy') !== undefined, 'deleted after the connection closed');
    expect(h.deleteCall('apps', 'busy')!.at).toBeGreaterThanOrEqual(closedAt + 1000 - CLOCK_SLACK_MS);
  });

  test('a connection during the countdown cancels it; a new full countdown starts when it closes', async () => {
    h = new Harness();
    const sidecar = await h.sidecarFor('apps', 'flicker');
    h.add({ name: 'flicker', grace: 2 });
    await until(() => h.sweeper.countdown('apps', 'flicker')?.lastObservation !== undefined, 'first observation');
    const firstDeadline = sidecar.lastActivityMs + 2000;
    sidecar.connect();
    await until(() => h.sweeper.countdown('apps', 'flicker')?.lastObservation?.activeConnections === 1, 'connection observed');
    await until(() => Date.now() > firstDeadline + 500, 'past the first deadline');
    expect(h.api.calls).toEqual([]);
    sidecar.disconnect();
    const closedAt = sidecar.lastActivityMs;
    await until(() => h.deleteCall('apps', 'flicker') !== undefined, 'deleted');
    expect(h.deleteCall('apps', 'flicker')!.at).toBeGreaterThanOrEqual(closedAt + 2000 - CLOCK_SLACK_MS);
  });

  test('a restarted sweeper takes seconds_inactive from the sidecar: never early, not a full grace late', async () => {
    h = new Harness();
    const sidecar = await h.sidecarFor('apps', 'restart');
    sidecar.setIdleFor(1500); // idle since before this sweeper existed
    const addedAt = Date.now();
    h.add({ name: 'restart', grace: 3, readyAt: Date.now() - 60_000 });
    await until(() => h.deleteCall('apps', 'restart') !== undefined, 'deleted');
    const at = h.deleteCall('apps', 'restart')!.at;
    expect(at).toBeGreaterThanOrEqual(sidecar.lastActivityMs + 3000 - CLOCK_SLACK_MS);
    // Whole seconds rounded down make it at most a second late; a sweeper that ignored the sidecar's
    // figure would wait the full 3 s from its own start.
    expect(at).toBeLessThan(addedAt + 3000);
  });

  test('already idle past its grace period when first seen: swept on that first reading', async () => {
    h = new Harness();
    const sidecar = await h.sidecarFor('apps', 'stale');
    sidecar.setIdleFor(10_000);
    h.add({ name: 'stale', grace: 2, readyAt: Date.now() - 60_000 });
    await until(() => h.deleteCall('apps', 'stale') !== undefined, 'deleted');
    expect(h.sweptReason('apps', 'stale')).toBe('Idle');
  });

  test('the countdown does not start before Ready', async () => {
    h = new Harness();
    const sidecar = await h.sidecarFor('apps', 'slowstart');
    sidecar.setIdleFor(30_000); // the sidecar ran long before the app became Ready
    const readyAt = Date.now();
    h.add({ name: 'slowstart', grace: 1, readyAt });
    await until(() => h.deleteCall('apps', 'slowstart') !== undefined, 'deleted');
    expect(h.deleteCall('apps', 'slowstart')!.at).toBeGreaterThanOrEqual(readyAt + 1000 - CLOCK_SLACK_MS);
  });
});

describe('countdown: a stream that lies or dies', () => {
  test('before an idle sweep the sidecar is asked again: a connection the silent stream missed saves it', async () => {
    h = new Harness({ deadAfterMs: 30_000 });
    const sidecar = await h.sidecarFor('apps', 'silent');
    h.add({ name: 'silent', grace: 1 });
    await until(() => h.sweeper.countdown('apps', 'silent')?.lastObservation !== undefined, 'first observation');
    sidecar.goSilent(); // the stream stays open but stops talking
    sidecar.connect(); // so this connection only shows on /status
    await until(() => sidecar.statusRequests >= 1, 'confirmation read');
    await sleep(1500);
    expect(h.api.calls).toEqual([]);
    expect(h.sweeper.countdown('apps', 'silent')?.lastObservation?.activeConnections).toBe(1);
  });

  test('a silent stream is declared dead and reopened; the fresh state is used', async () => {
    h = new Harness({ deadAfterMs: 300 });
    const sidecar = await h.sidecarFor('apps', 'revive');
    sidecar.connect();
    h.add({ name: 'revive', grace: 1 });
    await until(() => h.sweeper.countdown('apps', 'revive')?.lastObservation?.activeConnections === 1, 'connected');
    sidecar.goSilent();
    await until(() => h.logLines.some((l) => l.msg === 'sidecar unreachable' && l.name === 'revive'), 'dead stream noticed');
    sidecar.recover();
    sidecar.disconnect();
    await until(() => sidecar.eventRequests >= 2, 'stream reopened');
    await until(() => h.deleteCall('apps', 'revive') !== undefined, 'deleted once idle');
    expect(h.sweptReason('apps', 'revive')).toBe('Idle');
  });

  test('unreachable and never heard from: swept as Unreachable after the grace period, not before', async () => {
    h = new Harness();
    const sidecar = await h.sidecarFor('apps', 'ghost');
    await sidecar.stopListening();
    const addedAt = Date.now();
    h.add({ name: 'ghost', grace: 1 });
    await until(() => h.deleteCall('apps', 'ghost') !== undefined, 'deleted');
    expect(h.sweptReason('apps', 'ghost')).toBe('Unreachable');
    expect(h.deleteCall('apps', 'ghost')!.at).toBeGreaterThanOrEqual(addedAt + 1000 - CLOCK_SLACK_MS);
  });

  test('unreachable while last seen with a live connection: kept', async () => {
    h = new Harness();
    const sidecar = await h.sidecarFor('apps', 'cut');
    sidecar.connect();
    h.add({ name: 'cut', grace: 1 });
    await until(() => h.sweeper.countdown('apps', 'cut')?.lastObservation?.activeConnections === 1, 'connected');
    await sidecar.stopListening();
    await until(() => h.logLines.some((l) => l.msg === 'sidecar unreachable' && l.name === 'cut'), 'unreachable noticed');
    await sleep(2500);
    expect(h.api.calls).toEqual([]);
    // It comes back with the connection closed: from then on the ordinary idle countdown applies.
    sidecar.disconnect();
    await sidecar.listenAgain();
    await until(() => h.deleteCall('apps', 'cut') !== undefined, 'deleted once idle');
    expect(h.sweptReason('apps', 'cut')).toBe('Idle');
  });

  test('briefly unreachable, then back: the idle countdown follows the sidecar, not the outage', async () => {
    h = new Harness();
    const sidecar = await h.sidecarFor('apps', 'blip');
    h.add({ name: 'blip', grace: 2 });
    await until(() => h.sweeper.countdown('apps', 'blip')?.lastObservation !== undefined, 'first observation');
    sidecar.fail();
    await until(() => h.logLines.some((l) => l.msg === 'sidecar unreachable' && l.name === 'blip'), 'unreachable noticed');
    sidecar.recover();
    await until(() => h.logLines.some((l) => l.msg === 'sidecar reachable again' && l.name === 'blip'), 'reachable again');
    await until(() => h.deleteCall('apps', 'blip') !== undefined, 'deleted');
    expect(h.sweptReason('apps', 'blip')).toBe('Idle');
    expect(h.deleteCall('apps', 'blip')!.at).toBeGreaterThanOrEqual(sidecar.lastActivityMs + 2000 - CLOCK_SLACK_MS);
  });
});

describe('countdown: sidecar disabled (polling /status)', () => {
  test('an open connection is kept, an idle app is swept', async () => {
    h = new Harness({ pollIntervalMs: 100 });
    const busy = await h.sidecarFor('apps', 'poll-busy');
    const idle = await h.sidecarFor('apps', 'poll-idle');
    busy.connect();
    h.add({ name: 'poll-busy', grace: 1, sidecar: false });
    h.add({ name: 'poll-idle', grace: 1, sidecar: false });
    await until(() => h.deleteCall('apps', 'poll-idle') !== undefined, 'idle one deleted');
    expect(h.deleteCall('apps', 'poll-idle')!.at).toBeGreaterThanOrEqual(idle.lastActivityMs + 1000 - CLOCK_SLACK_MS);
    await until(() => busy.statusRequests >= 5, 'busy one polled several times');
    await sleep(1500);
    expect(h.deleteCall('apps', 'poll-busy')).toBeUndefined();
    expect(busy.eventRequests).toBe(0);
  });
});

describe('countdown: other reasons', () => {
  test('maxLifetime sweeps even with an open connection', async () => {
    h = new Harness();
    const sidecar = await h.sidecarFor('apps', 'old');
    sidecar.connect();
    const createdAt = Date.now();
    h.add({ name: 'old', grace: 300, maxLifetime: 1, createdAt });
    await until(() => h.deleteCall('apps', 'old') !== undefined, 'deleted');
    expect(h.sweptReason('apps', 'old')).toBe('MaxLifetime');
    expect(h.deleteCall('apps', 'old')!.at).toBeGreaterThanOrEqual(createdAt + 1000 - CLOCK_SLACK_MS);
  });

  test('a Failed backend is left to the operator: its stream is closed and nothing is swept', async () => {
    h = new Harness();
    const sidecar = await h.sidecarFor('apps', 'broken');
    sidecar.connect(); // kept while Ready
    const slb = h.add({ name: 'broken', grace: 1 });
    await until(() => h.sweeper.countdown('apps', 'broken')?.lastObservation?.activeConnections === 1, 'following its activity');
    h.update(slb, (s) => {
      s.status!.phase = 'Failed';
    });
    await until(() => h.sweeper.size === 0 && sidecar.openSockets === 0, 'countdown and stream gone');
    await sleep(1500); // past its grace period
    expect(h.api.calls).toEqual([]);
  });

  test('a Pending backend is not swept for idleness', async () => {
    h = new Harness();
    const sidecar = await h.sidecarFor('apps', 'starting');
    sidecar.setIdleFor(60_000);
    h.add({ name: 'starting', grace: 1, phase: 'Pending' });
    await sleep(1500);
    expect(h.api.calls).toEqual([]);
    expect(sidecar.eventRequests).toBe(0); // nothing to follow until Ready
  });
});

describe('countdown: lifecycle and hygiene', () => {
  test('removing every SLB closes every stream and clears every timer', async () => {
    const baseline = countResources();
    h = new Harness();
    const names = ['r1', 'r2', 'r3', 'r4'];
    const sidecars = await Promise.all(names.map((n) => h.sidecarFor('apps', n)));
    sidecars[0]!.connect();
    const slbs = names.map((name, i) => h.add({ name, grace: 30, sidecar: i !== 3 }));
    await until(() => sidecars.every((s) => s.eventRequests + s.statusRequests > 0), 'all followed');
    expect(h.sweeper.size).toBe(4);
    for (const slb of slbs) h.sweeper.remove(slb);
    expect(h.sweeper.size).toBe(0);
    await until(() => sidecars.every((s) => s.openSockets === 0), 'every sidecar sees its sweeper connections closed');
    await Promise.all(sidecars.map((s) => s.stop()));
    await until(() => noMoreThan(countResources(), baseline), 'no timers or sockets left behind');
    expect(h.api.calls).toEqual([]);
  });

  test('deletion by someone else (deletionTimestamp) forgets the backend and closes its stream', async () => {
    h = new Harness();
    const sidecar = await h.sidecarFor('apps', 'byhand');
    const slb = h.add({ name: 'byhand', grace: 1 });
    await until(() => sidecar.subscribers === 1, 'subscribed');
    h.update(slb, (s) => {
      s.metadata.deletionTimestamp = new Date().toISOString() as unknown as Date;
    });
    expect(h.sweeper.size).toBe(0);
    await until(() => sidecar.openSockets === 0, 'stream closed');
    await sleep(1500);
    expect(h.api.calls).toEqual([]);
  });

  test('an SLB of another node is never followed or deleted; one that moves away is dropped', async () => {
    h = new Harness();
    const other = await h.sidecarFor('apps', 'elsewhere');
    h.add({ name: 'elsewhere', grace: 0, nodeName: 'node-b' });
    const mover = await h.sidecarFor('apps', 'mover');
    const slb = h.add({ name: 'mover', grace: 1, nodeName: NODE });
    await until(() => mover.subscribers === 1, 'mover followed');
    h.update(slb, (s) => {
      s.status!.nodeName = 'node-b';
    });
    await until(() => mover.openSockets === 0, 'mover dropped');
    await sleep(1500);
    expect(h.api.calls).toEqual([]);
    expect(other.eventRequests + other.statusRequests).toBe(0);
    expect(h.sweeper.size).toBe(0);
  });

  test('a re-created SLB of the same name replaces the old countdown; only the new uid is deleted', async () => {
    h = new Harness();
    const sidecar = await h.sidecarFor('apps', 'again');
    sidecar.connect();
    const first = h.add({ name: 'again', grace: 1 });
    await until(() => sidecar.subscribers === 1, 'first followed');
    const second = h.add({ name: 'again', grace: 1 });
    expect(second.metadata.uid).not.toBe(first.metadata.uid);
    await until(() => sidecar.eventRequests === 2 && sidecar.subscribers === 1, 'old stream closed, new one open');
    sidecar.disconnect();
    await until(() => h.deleteCall('apps', 'again') !== undefined, 'deleted');
    expect(h.api.callsOf('deleteSlb').map((c) => c.uid)).toEqual([second.metadata.uid]);
  });

  test('a failing API is retried; the sweep completes when it recovers', async () => {
    h = new Harness();
    await h.sidecarFor('apps', 'flaky');
    let failures = 2;
    h.api.faults.push((c) => (c.call === 'deleteSlb' && failures-- > 0 ? Object.assign(new Error('unavailable'), { code: 503 }) : undefined));
    h.add({ name: 'flaky', grace: 1 });
    await until(() => h.api.store.size === 0, 'finally deleted');
    expect(h.api.callsOf('deleteSlb')).toHaveLength(3);
    expect(h.logLines.filter((l) => l.msg === 'sweep failed; will decide again')).toHaveLength(2);
  });

  test('every log line about a backend carries its namespace and name', async () => {
    h = new Harness({ logLevel: 'debug' });
    await h.sidecarFor('team-x', 'logged');
    h.add({ name: 'logged', namespace: 'team-x', grace: 1 });
    await until(() => h.deleteCall('team-x', 'logged') !== undefined, 'deleted');
    const about = h.logLines.filter((l) => ['following activity', 'sweeping', 'swept'].includes(String(l.msg)));
    expect(about.map((l) => l.msg)).toEqual(['following activity', 'sweeping', 'swept']);
    for (const line of about) expect(line).toMatchObject({ namespace: 'team-x', name: 'logged' });
  });
});

function countResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) counts[r] = (counts[r] ?? 0) + 1;
  return counts;
}

function noMoreThan(now: Record<string, number>, baseline: Record<string, number>): boolean {
  return ['Timeout', 'TCPSocketWrap', 'TCPServerWrap'].every((k) => (now[k] ?? 0) <= (baseline[k] ?? 0));
}
