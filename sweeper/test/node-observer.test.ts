// The node observer against real network namespaces made here (netns-lab.ts): each "Pod" is a
// namespace on a bridge whose address is the node's, with the app running inside as an unprivileged
// user in a cgroup named the way the kubelet names a Pod's; the far end of its connections (the
// router, on a real node) runs in a namespace of its own; probes come from the node's namespace, as the
// kubelet's do. Needs root. Assertions are about what is observed, never about how fast.

import { afterAll, afterEach, beforeAll, describe, expect, jest, test } from '@jest/globals';
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import type { BackendActivity } from '../../common/contract.ts';
import { systemClock } from '../../common/kube/clock.ts';
import { memoryLogger } from '../../common/kube/testing/memlog.ts';
import { createLogger } from '../../common/log.ts';
import type { ActivityListener } from '../src/activity-sources.ts';
import { NodeObserver, type ObservedPod } from '../src/node/observer.ts';
import { NetnsLab, type Netns, type PodProcess, type Program, tcpProbe as tcpProbeTo } from './support/netns-lab.ts';
import { sleep, until } from './support/harness.ts';

jest.setTimeout(90_000);

const APP_PORT = 8080;
// SPAWNER_TEST_OBSERVER_LOG=trace prints what the observer reads and why.
const testLog = process.env.SPAWNER_TEST_OBSERVER_LOG ? createLogger('observer', process.env.SPAWNER_TEST_OBSERVER_LOG) : memoryLogger().log;
const TICK_MS = 150;
// Connections that left nothing in the Pod are settled against the node's table this often (15 s in
// production; what these tests look for would take that long to show).
const RESOLVE_MS = 300;

// The observer's clock, remembering its last reading: an observation's `seconds_inactive` is relative to
// the instant the observer read, so a reader taking its own Date.now() a moment later would see the last
// activity drift by that moment (and one instant, observed twice, compare unequal to itself).
const observerClock = {
  ...systemClock,
  lastNow: 0,
  now(): number {
    this.lastNow = Date.now();
    return this.lastNow;
  },
};

class Seen implements ActivityListener {
  readonly observations: Array<BackendActivity & { at: number }> = [];
  readonly unreachableReasons: string[] = [];
  observation(a: BackendActivity): void {
    this.observations.push({ ...a, at: observerClock.lastNow });
  }
  unreachable(reason: string): void {
    this.unreachableReasons.push(reason);
  }
  get last(): (BackendActivity & { at: number }) | undefined {
    return this.observations.at(-1);
  }
  // When the backend was last active, as a reader of these observations computes it.
  get lastActivityAt(): number {
    const o = this.last!;
    // Whole milliseconds: seconds_inactive is a fraction of a second, and ×1000 is not exact in floats.
    return o.active_connections > 0 ? o.at : Math.round(o.at - o.seconds_inactive * 1000);
  }
}

let lab: NetnsLab;
let peerNs: Netns;
let peer: Program; // the far end: a namespace that is neither the node nor the Pod
let observer: NodeObserver | undefined;

beforeAll(async () => {
  lab = await NetnsLab.create();
  peerNs = await lab.addNamespace();
  peer = await lab.startPeer(peerNs, 'client');
  await peer.send('serve', { port: 5432 }); // something for the app to connect out to
});

afterAll(async () => {
  await lab?.close();
});

afterEach(() => {
  observer?.stop();
  observer = undefined;
});

async function backend(args: string[] = [], driver: 'cgroupfs' | 'systemd' = 'cgroupfs'): Promise<PodProcess> {
  const ns = await lab.addNamespace();
  return lab.startPod(ns, 'app', ['--port', String(APP_PORT), ...args], { driver });
}

function observe(pod: PodProcess, opts: { podIPs?: string[] } = {}): Seen {
  observer ??= new NodeObserver({ log: testLog, intervalMs: TICK_MS, resolveEveryMs: RESOLVE_MS, clock: observerClock });
  const seen = new Seen();
  const target: ObservedPod = { uid: pod.podUid, appPort: APP_PORT, podIPs: opts.podIPs ?? [pod.ns.ip] };
  observer.observe(pod.podUid, target, seen);
  return seen;
}

const tcpProbe = (ip: string) => tcpProbeTo(ip, APP_PORT);

// An HTTP request from the node's namespace (an httpGet probe); `Connection: close` like the kubelet's.
// `appClosesFirst`: the app answers with Connection: close too, so the TIME_WAIT stays in the Pod.
function nodeRequest(ip: string, appClosesFirst = false): Promise<void> {
  return new Promise((resolve, reject) => {
    const path = appClosesFirst ? '/?close=server' : '/';
    http.get({ host: ip, port: APP_PORT, path, agent: false, headers: { connection: 'close' } }, (res) => {
      res.resume().on('end', () => resolve());
    }).on('error', reject);
  });
}

const ticks = (n: number) => sleep(n * TICK_MS);

describe('finding a Pod from the node', () => {
  test.each(['cgroupfs', 'systemd'] as const)('by the Pod UID in its cgroup path (%s driver)', async (driver) => {
    const pod = await backend([], driver);
    const seen = observe(pod);
    await until(() => seen.last !== undefined, 'first observation');
    expect(seen.last).toMatchObject({ active_connections: 0, listening: true, ready: true });
    expect(seen.unreachableReasons).toEqual([]);
  });

  test('a Pod with no process on this node is unreachable, and reachable once its process appears', async () => {
    const podUid = randomUUID();
    const ns = await lab.addNamespace();
    const seen = observe({ podUid, pid: 0, ns, program: undefined as unknown as Program });
    await until(() => seen.unreachableReasons.length > 0, 'unreachable');
    expect(seen.unreachableReasons[0]).toContain(podUid);
    await lab.startPod(ns, 'app', ['--port', String(APP_PORT)], { podUid });
    await until(() => seen.last?.listening === true, 'observed once it runs');
  });

  test('a Pod whose processes ended becomes unreachable', async () => {
    const pod = await backend();
    const seen = observe(pod);
    await until(() => seen.last !== undefined, 'first observation');
    await pod.program.kill();
    await until(() => seen.unreachableReasons.length > 0, 'unreachable after its process ended');
  });
});

describe('semantics', () => {
  test('(1) an open connection keeps the backend active however silent, for as long as it is open', async () => {
    const pod = await backend();
    const seen = observe(pod);
    await until(() => seen.last !== undefined, 'first observation');
    await peer.send('open', { key: 'silent', host: pod.ns.ip, port: APP_PORT });
    await until(() => seen.last?.active_connections === 1, 'the connection observed');
    const from = seen.observations.length;
    await ticks(15); // many reads with not a byte on the connection
    expect(seen.observations.slice(from).every((o) => o.active_connections === 1)).toBe(true);
    expect(seen.last?.active_connections).toBe(1);
    const closing = Date.now();
    await peer.send('close', { key: 'silent' });
    await until(() => seen.last?.active_connections === 0, 'the close observed');
    expect(seen.lastActivityAt).toBeGreaterThanOrEqual(closing); // late, never early
  });

  test.each(['server', 'client'] as const)('(2) every short request counts, none missed between two reads (the %s closes first)', async (closer) => {
    const pod = await backend(['--delay-ms', '50']);
    const seen = observe(pod);
    await until(() => seen.last !== undefined, 'first observation');
    for (let i = 0; i < 8; i++) {
      await sleep(TICK_MS * (1 + Math.random() * 3)); // land anywhere between two reads
      const before = seen.lastActivityAt;
      const r = await peer.send<{ startedAt: number; answeredAt: number }>('request', { host: pod.ns.ip, port: APP_PORT, closer });
      await until(() => seen.last !== undefined && seen.last.active_connections === 0 && seen.lastActivityAt > before, `request ${i} observed`, 10_000);
      // The activity is placed at or after the request started: never earlier than it was.
      expect(seen.lastActivityAt).toBeGreaterThanOrEqual(r.startedAt);
    }
  });

  test('(2) requests in a burst between two reads count too', async () => {
    const pod = await backend(['--delay-ms', '10']);
    const seen = observe(pod);
    await until(() => seen.last !== undefined, 'first observation');
    await ticks(2);
    const before = seen.lastActivityAt;
    await Promise.all([0, 1, 2].map(() => peer.send('request', { host: pod.ns.ip, port: APP_PORT, closer: 'client' })));
    await until(() => seen.lastActivityAt > before, 'the burst observed', 10_000);
  });

  test('(3) probes and requests from the node, outbound and loopback connections never count', async () => {
    const pod = await backend(['--delay-ms', '5']);
    const seen = observe(pod);
    await until(() => seen.last !== undefined, 'first observation');
    const baseline = seen.lastActivityAt;
    await pod.program.send('open-outbound', { key: 'db', host: peerNs.ip, port: 5432 }); // kept open throughout
    for (let i = 0; i < 12; i++) {
      await tcpProbe(pod.ns.ip);
      await nodeRequest(pod.ns.ip, i % 2 === 0);
      await pod.program.send('request-outbound', { host: peerNs.ip, port: 5432 });
      await pod.program.send('loopback');
      await sleep(TICK_MS * Math.random() * 2);
    }
    await ticks(4);
    expect(seen.observations.every((o) => o.active_connections === 0)).toBe(true);
    expect(seen.lastActivityAt).toBe(baseline);

    // A real request among the probes is still seen, and the probes after it do not move it further.
    const r = await peer.send<{ startedAt: number; closedAt: number }>('request', { host: pod.ns.ip, port: APP_PORT, closer: 'client' });
    // Settled: a read after the client closed that finds no connection. A read that caught the request
    // open dates it at that read, and the read that finds it gone dates the close one tick later (nothing
    // in the Pod says when a client's close happened), so taking the first move as final would compare a
    // tick too early whenever the request straddles a read, as it does under load.
    await until(() => seen.last!.at > r.closedAt && seen.last!.active_connections === 0 && seen.lastActivityAt > baseline, 'the real request observed and settled', 10_000);
    expect(seen.lastActivityAt).toBeGreaterThanOrEqual(r.startedAt);
    const afterRequest = seen.lastActivityAt;
    for (let i = 0; i < 8; i++) {
      await tcpProbe(pod.ns.ip);
      await nodeRequest(pod.ns.ip, i % 2 === 1);
      await sleep(TICK_MS * Math.random());
    }
    await ticks(4);
    expect(seen.lastActivityAt).toBe(afterRequest);
    await pod.program.send('close-outbound', { key: 'db' });
  });

  test('(4) a new observer (a restarted sweeper) starts the countdown at its first read, and sees open connections at once', async () => {
    const pod = await backend(['--delay-ms', '5']);
    await peer.send('request', { host: pod.ns.ip, port: APP_PORT, closer: 'server' }); // leaves a TIME_WAIT in the Pod
    const startedAt = Date.now();
    const seen = observe(pod);
    await until(() => seen.last !== undefined, 'first observation');
    expect(seen.lastActivityAt).toBeGreaterThanOrEqual(startedAt);

    await peer.send('open', { key: 'kept', host: pod.ns.ip, port: APP_PORT });
    observer!.stop();
    observer = undefined;
    const again = observe(pod);
    await until(() => again.last !== undefined, 'first observation after the restart');
    expect(again.last?.active_connections).toBe(1);
    await peer.send('close', { key: 'kept' });
  });

  test('(5) listening turns true once the app listens on its port; loopback only is not listening', async () => {
    const pod = await backend(['--listen-later']);
    const seen = observe(pod);
    await until(() => seen.last !== undefined, 'first observation');
    expect(seen.last).toMatchObject({ listening: false, ready: false });
    await pod.program.send('listen');
    await until(() => seen.last?.listening === true, 'listening');

    const local = await backend(['--host', '127.0.0.1']);
    const seenLocal = observe(local);
    await until(() => seenLocal.last !== undefined, 'first observation');
    await ticks(3);
    expect(seenLocal.last?.listening).toBe(false);
  });
});

describe('cost', () => {
  test('an idle backend costs a counter read per tick; its tables are read only when the counters move', async () => {
    const pod = await backend(['--host', '0.0.0.0', '--delay-ms', '5']); // IPv4 only: the tcp table
    const seen = observe(pod);
    await until(() => seen.last !== undefined, 'first observation');
    await ticks(2);
    const tables = observer!.stats.tableReads;
    const counters = observer!.stats.counterReads;
    await ticks(6);
    expect(observer!.stats.counterReads).toBeGreaterThan(counters);
    expect(observer!.stats.tableReads).toBe(tables);
    // The app closes first: a TIME_WAIT appears, so the (IPv4) table is read for its time.
    const before = seen.lastActivityAt;
    const r = await peer.send<{ answeredAt: number }>('request', { host: pod.ns.ip, port: APP_PORT, closer: 'server' });
    // Settled: a read after the answer that finds no connection open (a read that caught the request
    // open dates activity at that read, before the answer).
    await until(() => seen.last!.at > r.answeredAt && seen.last!.active_connections === 0 && seen.lastActivityAt > before, 'request observed through the IPv4 table', 10_000);
    expect(observer!.stats.tableReads).toBeGreaterThan(tables);
    expect(seen.lastActivityAt).toBeGreaterThanOrEqual(r.answeredAt - 20); // its TIME_WAIT start, to the clock tick
  });

  // A probe caught half-way (its socket still open, or in CLOSE_WAIT until the app closes it, when the
  // counters are read) moves CurrEstab and costs a table read; the others cost none.
  test("probes are explained by the node's table; most never make the Pod's table be read", async () => {
    const pod = await backend();
    const seen = observe(pod);
    await until(() => seen.last !== undefined, 'first observation');
    await ticks(2);
    const tables = observer!.stats.tableReads;
    const hostReads = observer!.stats.hostTableReads;
    const probes = 10;
    for (let i = 0; i < probes; i++) {
      await tcpProbe(pod.ns.ip);
      await ticks(1.5);
    }
    expect(observer!.stats.hostTableReads).toBeGreaterThan(hostReads);
    expect(observer!.stats.tableReads - tables).toBeLessThan(probes);
    expect(seen.observations.every((o) => o.active_connections === 0)).toBe(true);
    // No probe moved the last activity: every observation dates it where the first did (seconds_inactive
    // is whole seconds, hence the second of slack). A count of observations is not asserted: a late tick
    // on a loaded machine may repeat one, which says nothing about the probes.
    const activityOf = (o: { at: number; seconds_inactive: number }) => o.at - o.seconds_inactive * 1000;
    const first = activityOf(seen.observations[0]!);
    for (const o of seen.observations) expect(activityOf(o)).toBeLessThanOrEqual(first + 1000);
  });

  test('a Pod with a connection open is looked at every active interval and read when its sockets change; an idle one is read only every interval', async () => {
    const pod = await backend();
    await peer.send('open', { key: 'held', host: pod.ns.ip, port: APP_PORT });
    observer?.stop();
    // An interval no test waits for: whatever is seen after the first read, the active interval's looks
    // brought about.
    observer = new NodeObserver({ log: testLog, intervalMs: 3_600_000, activeIntervalMs: TICK_MS, resolveEveryMs: RESOLVE_MS, clock: observerClock });
    const seen = new Seen();
    observer.observe(pod.podUid, { uid: pod.podUid, appPort: APP_PORT, podIPs: [pod.ns.ip] }, seen);
    await until(() => seen.last?.active_connections === 1, 'the open connection at the first read');
    // The silent connection changes nothing: after the first look (nothing to compare with, so it
    // reads), only looks.
    await ticks(3);
    const readsWhileSilent = observer.stats.counterReads;
    const looksWhileSilent = observer.stats.socketCountReads;
    await ticks(6);
    expect(observer.stats.socketCountReads).toBeGreaterThan(looksWhileSilent);
    expect(observer.stats.counterReads).toBe(readsWhileSilent);
    const closing = Date.now();
    await peer.send('close', { key: 'held' });
    await until(() => seen.last?.active_connections === 0, 'the close, seen by a read at the active interval', 10_000);
    expect(seen.lastActivityAt).toBeGreaterThanOrEqual(closing);
    // Idle now: no read until the full interval, so a new connection is not seen (and nothing is read).
    const reads = observer.stats.counterReads;
    await peer.send('open', { key: 'unseen', host: pod.ns.ip, port: APP_PORT });
    await ticks(8);
    expect(observer.stats.counterReads).toBe(reads);
    expect(seen.last?.active_connections).toBe(0);
    await peer.send('close', { key: 'unseen' });
  });

  test('readNow reads the tables at once', async () => {
    const pod = await backend();
    const seen = observe(pod);
    await until(() => seen.last !== undefined, 'first observation');
    await peer.send('open', { key: 'now', host: pod.ns.ip, port: APP_PORT });
    observer!.stop(); // no loop: only readNow reads
    observer = new NodeObserver({ log: memoryLogger().log, intervalMs: 60_000 });
    const handle = observer.observe('x', { uid: pod.podUid, appPort: APP_PORT, podIPs: [pod.ns.ip] }, new Seen());
    expect(await handle.readNow()).toMatchObject({ active_connections: 1, listening: true });
    handle.close();
    await peer.send('close', { key: 'now' });
  });
});
