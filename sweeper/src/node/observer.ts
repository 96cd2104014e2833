// The node-level activity source: one loop per sweeper reads, for every followed backend Pod on this
// node, its network namespace's TCP counters (~30 µs, every --interval) and, only when they moved, its TCP
// tables; while a connection is open, also its socket counts (~2 µs, every --active-interval), whose
// change brings the next read forward. It turns them into the same observation the sidecar sends
// (account.ts decides what counts).
// Needs the host's PID namespace (hostPID) to see the Pods' processes; no capability, no root.
//
// Why the counters come first: /proc/<pid>/net/tcp walks the kernel's whole TCP hash table (shared
// by every namespace unless the node sets net.ipv4.tcp_child_ehash_entries), which costs milliseconds
// per read on a large machine whatever the namespace holds. The counters cost tens of microseconds.
// The node's own table, which tells the kubelet's probes from users' requests, can hold thousands of
// lines: it is read once per --resolve-every for every Pod with connections to settle (their evidence
// there lasts 60 s), and at once before a sweep (readNow). Until a Pod's pending connections are settled,
// only readings that keep it (an open connection) are passed on: an idle reading could start a
// countdown too early, and a countdown that ends is always confirmed by readNow first.

import type { BackendActivity } from '../../../common/contract.ts';
import type { Logger } from '../../../common/log.ts';
import { systemClock, type Clock, type TimerHandle } from '../../../common/kube/clock.ts';
import type { ActivityListener } from '../activity-sources.ts';
import { countersMoved, fromCounters, fromTables, resolvePending, type AccountContext, type Activity, type NetnsState, type TablesInput } from './account.ts';
import { canonicalIp, isLoopback, kernelHexOf, type TcpEntry } from './proc-net.ts';
import { DEFAULT_PROC_ROOT, HeldSocketCounts, isGone, locatePods, podUidOf, readCounters, readLocalAddresses, readSockets, readTable, readTablesFor, type SocketCountsSeen, type Sockets } from './procfs.ts';

export interface ObservedPod {
  uid: string; // the Pod's metadata.uid: its processes' cgroup paths carry it
  appPort: number;
  podIPs: readonly string[];
}

export interface NodeObserverOptions {
  log: Logger;
  procRoot?: string;
  hostPid?: number; // a process in the node's own network namespace: PID 1 under hostPID
  intervalMs?: number; // how often the counters are read
  activeIntervalMs?: number; // a Pod with a connection open, its socket counts (≤ intervalMs): how soon its last close is seen
  refreshMs?: number; // tables at least this often while a connection is open
  resolveEveryMs?: number; // the node's table at most this often to settle pending connections (< 60 s)
  locateEveryMs?: number; // /proc scans for Pods not found yet, at most this often
  nodeAddressesEveryMs?: number;
  clock?: Clock;
}

export interface ObservedHandle {
  close(): void;
  // A reading taken now, tables included: the last check before a backend is swept for idleness.
  readNow(): Promise<BackendActivity>;
}

export interface ObserverStats {
  ticks: number;
  counterReads: number;
  socketCountReads: number;
  tableReads: number;
  hostTableReads: number;
  scans: number;
  lastTickMs: number;
}

interface Watched {
  key: string;
  pod: ObservedPod;
  listener: ActivityListener;
  pid: number | undefined;
  podAddresses: Set<string>;
  state: NetnsState | undefined;
  sockets: Sockets | undefined; // at the last read that looked past the counters
  hadEntries: { v4: boolean; v6: boolean };
  emitted: Activity | undefined;
  unreachable: string | undefined;
  pidCheckedAt: number;
  readAt: number; // when its counters were last read by a pass (-Infinity: never)
  countsAt: number; // when its socket counts were last read by a pass
  held: HeldSocketCounts | undefined; // its socket counts, opened at the first look
  countsSeen: SocketCountsSeen; // what they said at that look (NaN: nothing to compare with)
  closed: boolean;
}

// What a pass does for this Pod: `read` its counters (and tables if they moved), `look` at its socket
// counts only, or nothing. Every Pod is read every `intervalMs`. An idle Pod needs nothing more: its next
// activity is a connection accepted, which its counters show whenever they are read (none is missed
// between two reads). A Pod with a connection open is looked at every `activeIntervalMs` as well: when
// its last connection closes, the close is dated by the read that finds it gone (the client may leave no
// trace of when), so that delay is how late its idle countdown starts. A close takes a socket out of
// "in use" or adds a TIME_WAIT, which the look sees, and a look that sees a change reads at once.
// A timer fires a little early or late; a read due within this much is done now rather than a pass later.
const TIMER_SLACK_MS = 5;

export type PodRead = 'read' | 'look' | undefined;

export function dueForRead(
  state: { activeConnections: number } | undefined,
  at: { readAt: number; countsAt: number },
  now: number,
  o: { intervalMs: number; activeIntervalMs: number },
): PodRead {
  if (now - at.readAt >= o.intervalMs - TIMER_SLACK_MS) return 'read';
  const active = state !== undefined && state.activeConnections > 0;
  return active && now - Math.max(at.readAt, at.countsAt) >= o.activeIntervalMs - TIMER_SLACK_MS ? 'look' : undefined;
}

function forgetCounts(seen: SocketCountsSeen): void {
  seen.v4 = seen.v6 = seen.timeWait = Number.NaN;
}

// The sweeper's defaults (its --node-* flags). The active interval bounds how late a last close is dated,
// hence the sweep lag (target p99 < 1 s); looks cost little, but 200 Pods with a connection open each
// took 2.3 % of a core at 250 ms against 1.8 % at 400 (bench/density/observer-alone.ts, 125 s windows, one
// table refresh each included, quiet machine), for a sweep lag p99 of 394 against 557 ms (bench/sweeper,
// 100 backends); at 500 the lag's p99 reached 979 ms. Passes run every active interval and a read is done
// by the first pass at or after it is due, so at 400 ms an idle Pod is read every 1.2 s.
export const NODE_READ_DEFAULTS = { intervalMs: 1_000, activeIntervalMs: 400, resolveEveryMs: 15_000 } as const;

const PID_RECHECK_MS = 5_000;
const YIELD_AFTER_MS = 10;

export class NodeObserver {
  readonly stats: ObserverStats = { ticks: 0, counterReads: 0, socketCountReads: 0, tableReads: 0, hostTableReads: 0, scans: 0, lastTickMs: 0 };
  #o: Required<Omit<NodeObserverOptions, 'log' | 'clock'>>;
  #log: Logger;
  #clock: Clock;
  #watched = new Map<string, Watched>();
  #timer: TimerHandle | undefined;
  #running: Promise<void> | undefined;
  #nextScanAt = 0;
  #nodeAddresses: Set<string> = new Set();
  #nodeAddressesAt = Number.NEGATIVE_INFINITY;
  #stopped = false;

  constructor(options: NodeObserverOptions) {
    const intervalMs = options.intervalMs ?? NODE_READ_DEFAULTS.intervalMs;
    this.#o = {
      procRoot: options.procRoot ?? DEFAULT_PROC_ROOT,
      hostPid: options.hostPid ?? 1,
      intervalMs,
      activeIntervalMs: Math.min(options.activeIntervalMs ?? NODE_READ_DEFAULTS.activeIntervalMs, intervalMs),
      // What it bounds is rare (an app leaving a client's close half-open in CLOSE_WAIT is seen this late,
      // a late sweep), and what it costs is not: every Pod with a connection open walks the shared TCP
      // hash (2–3 ms) once per period, at 200 such Pods a third of the observer's CPU with a 30 s period.
      refreshMs: options.refreshMs ?? 120_000,
      resolveEveryMs: Math.min(options.resolveEveryMs ?? NODE_READ_DEFAULTS.resolveEveryMs, 45_000),
      locateEveryMs: options.locateEveryMs ?? 1_000,
      nodeAddressesEveryMs: options.nodeAddressesEveryMs ?? 60_000,
    };
    this.#log = options.log;
    this.#clock = options.clock ?? systemClock;
  }

  get size(): number {
    return this.#watched.size;
  }

  observe(key: string, pod: ObservedPod, listener: ActivityListener): ObservedHandle {
    const previous = this.#watched.get(key);
    if (previous) this.#forget(previous);
    const w: Watched = {
      key,
      pod,
      listener,
      pid: undefined,
      podAddresses: new Set(),
      state: undefined,
      sockets: undefined,
      hadEntries: { v4: true, v6: true },
      emitted: undefined,
      unreachable: undefined,
      pidCheckedAt: 0,
      readAt: Number.NEGATIVE_INFINITY,
      countsAt: Number.NEGATIVE_INFINITY,
      held: undefined,
      countsSeen: { v4: NaN, v6: NaN, timeWait: NaN },
      closed: false,
    };
    this.#watched.set(key, w);
    this.#nextScanAt = 0; // look for it at the next tick
    this.#schedule(0);
    return {
      close: () => {
        this.#forget(w);
        if (this.#watched.get(key) === w) this.#watched.delete(key);
        if (this.#watched.size === 0) this.#cancel();
      },
      readNow: async () => {
        await this.#running; // never two readers of one namespace at once
        if (w.closed) throw new Error('no longer observed');
        if (w.pid === undefined) this.#locate(true);
        if (w.pid === undefined) throw new Error(w.unreachable ?? `no process of Pod ${pod.uid} on this node`);
        this.#refreshNodeAddresses();
        const state = this.#readPod(w, true);
        if (state === undefined) throw new Error(w.unreachable ?? `no process of Pod ${pod.uid} on this node`);
        w.state = state;
        if (state.pending.length > 0) this.#resolve([w], true);
        this.#emit(w, true);
        return this.#activity(w.state);
      },
    };
  }

  stop(): void {
    this.#stopped = true;
    this.#cancel();
    for (const w of this.#watched.values()) this.#forget(w);
    this.#watched.clear();
  }

  // One pass now over the Pods whose read is due (dueForRead); the loop runs one every activeIntervalMs.
  async tick(): Promise<void> {
    if (this.#running) return this.#running;
    this.#running = this.#pass().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  #schedule(ms: number): void {
    if (this.#stopped || this.#timer !== undefined || this.#watched.size === 0) return;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      void this.tick().then(() => this.#schedule(this.#o.activeIntervalMs));
    }, ms);
  }

  #cancel(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  async #pass(): Promise<void> {
    const started = performance.now();
    this.stats.ticks++;
    this.#refreshNodeAddresses();
    this.#locate(false);
    let sinceYield = performance.now();
    const passAt = this.#clock.now();
    for (const w of [...this.#watched.values()]) {
      if (w.closed || w.pid === undefined) continue;
      const due = dueForRead(w.state, w, passAt, this.#o);
      if (due === undefined) continue;
      if (due === 'look') {
        if (!this.#countsMoved(w, passAt)) continue;
      } else if (w.state !== undefined && w.state.activeConnections > 0) {
        // What the next look compares with, taken before the read so that a change during it is seen
        // again rather than missed. Idle Pods are not looked at; one turning active has nothing to
        // compare with at its first look, which therefore reads.
        this.#countsMoved(w, passAt);
      } else {
        forgetCounts(w.countsSeen);
      }
      w.readAt = passAt;
      const state = this.#readPod(w, false);
      if (state !== undefined && !w.closed) {
        const before = w.state;
        w.state = state;
        if (before?.listening !== state.listening) this.#log.debug({ key: w.key, listening: state.listening }, 'listening changed');
        this.#emit(w, false);
      }
      if (performance.now() - sinceYield > YIELD_AFTER_MS) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        sinceYield = performance.now();
      }
    }
    // Pending connections are settled together, once the oldest has waited --resolve-every.
    const now = this.#clock.now();
    const pending = [...this.#watched.values()].filter((w) => !w.closed && w.state !== undefined && w.state.pending.length > 0);
    if (pending.some((w) => now - w.state!.pending[0]!.to >= this.#o.resolveEveryMs)) {
      this.#resolve(pending, false);
      for (const w of pending) this.#emit(w, false);
    }
    this.stats.lastTickMs = performance.now() - started;
  }

  // Reads the node's table once (only the lines toward these Pods' addresses are parsed) and settles
  // their pending connections. Unreadable: nothing is explained, so they count (late, never early).
  #resolve(watched: Watched[], final: boolean): void {
    const hex = new Set<string>();
    // The Pod's own loopback is no address the node can reach it by.
    for (const w of watched) for (const ip of w.podAddresses) if (!isLoopback(ip)) for (const h of kernelHexOf(ip)) hex.add(h);
    let entries: TcpEntry[] = [];
    const startedAt = this.#clock.now();
    try {
      entries = readTablesFor(this.#o.procRoot, this.#o.hostPid, hex);
      this.stats.hostTableReads++;
    } catch (err) {
      this.#log.error({ err: (err as Error).message, hostPid: this.#o.hostPid }, "cannot read the node's TCP table; unexplained connections count as activity");
    }
    const at = this.#clock.now();
    for (const w of watched) {
      const mine = entries.filter((e) => w.podAddresses.has(e.remote.ip));
      this.#log.trace({ key: w.key, pending: w.state!.pending, nodeEntries: mine.length, startedAt, at, final }, 'settling pending connections');
      const r = resolvePending(w.state!, { at, startedAt, entries: mine }, final);
      w.state = r.state;
      if (r.unexplained > 0) this.#log.debug({ key: w.key, unexplained: r.unexplained, probes: r.explainedByNode }, 'connections came and went between two reads');
    }
  }

  #refreshNodeAddresses(): void {
    const now = this.#clock.now();
    if (now - this.#nodeAddressesAt < this.#o.nodeAddressesEveryMs) return;
    try {
      this.#nodeAddresses = readLocalAddresses(this.#o.procRoot, this.#o.hostPid);
      this.#nodeAddressesAt = now;
    } catch (err) {
      // Without them every connection from the node would count: keep the last ones, say so loudly.
      this.#log.error({ err: (err as Error).message, hostPid: this.#o.hostPid }, "cannot read the node's own addresses");
    }
  }

  // Finds the processes of Pods not located yet (one pass over /proc for all of them).
  #locate(force: boolean): void {
    const now = this.#clock.now();
    // Passes run every active interval; the Pods still to find are only gathered when a scan is due.
    if (!force && now < this.#nextScanAt) return;
    const missing = new Map<string, Watched[]>();
    for (const w of this.#watched.values()) {
      if (w.pid !== undefined || w.closed) continue;
      missing.set(w.pod.uid, [...(missing.get(w.pod.uid) ?? []), w]);
    }
    if (missing.size === 0) return;
    this.#nextScanAt = now + this.#o.locateEveryMs;
    this.stats.scans++;
    const found = locatePods(this.#o.procRoot, new Set(missing.keys()));
    for (const [uid, watchers] of missing) {
      const pid = found.get(uid);
      for (const w of watchers) {
        if (pid === undefined) {
          this.#markUnreachable(w, `no process of Pod ${uid} on this node`);
          continue;
        }
        try {
          w.podAddresses = readLocalAddresses(this.#o.procRoot, pid);
        } catch (err) {
          this.#markUnreachable(w, `cannot read the addresses of Pod ${uid}: ${(err as Error).message}`);
          continue;
        }
        for (const ip of w.pod.podIPs) w.podAddresses.add(canonicalIp(ip));
        w.pid = pid;
        w.pidCheckedAt = now;
        this.#log.debug({ key: w.key, pod: uid, pid }, 'found the Pod’s processes');
      }
    }
  }

  #readPod(w: Watched, forceTables: boolean): NetnsState | undefined {
    const root = this.#o.procRoot;
    const pid = w.pid!;
    try {
      // A PID is only reused after its process is gone; checking now and then that it still belongs to
      // the Pod keeps a reused one from being read as this Pod.
      if (this.#clock.now() - w.pidCheckedAt >= PID_RECHECK_MS) {
        if (podUidOf(root, pid) !== w.pod.uid) throw Object.assign(new Error('process gone'), { code: 'ESRCH' });
        w.pidCheckedAt = this.#clock.now();
      }
      const counters = readCounters(root, pid);
      // Taken after the read: every connection it counted was accepted before this instant (a process
      // descheduled between the clock and the read would otherwise count some accepted after it).
      const countersAt = this.#clock.now();
      this.stats.counterReads++;
      const s = w.state;
      const due = s !== undefined && s.activeConnections > 0 && countersAt - s.tablesAt >= this.#o.refreshMs;
      if (!forceTables && s !== undefined && s.listening && !due && !countersMoved(s, counters)) return fromCounters(s, counters, countersAt);
      const sockets = readSockets(root, pid);
      const before = w.sockets;
      w.sockets = sockets;
      // Connections were accepted, none is open that was not, none closed, no TIME_WAIT appeared: they
      // came and went leaving nothing in the Pod's table, so reading it (milliseconds) would show
      // nothing new. Only the node's table can tell whose they were.
      const podUnchanged =
        !forceTables && s !== undefined && s.listening && !due && before !== undefined &&
        counters.currEstab === s.counters.currEstab &&
        sockets.timeWait <= before.timeWait && sockets.timeWaitEvents === before.timeWaitEvents;
      let pod: TablesInput['pod'] = 'unchanged';
      if (!podUnchanged) {
        this.#log.trace({ key: w.key, counters, sockets, before, last: s?.counters }, 'reading the Pod table');
        // A family with no socket in use can only hold leftovers of what the last read saw there.
        const v4 = s === undefined || sockets.v4 > 0 || w.hadEntries.v4;
        const v6 = s === undefined || sockets.v6 > 0 || w.hadEntries.v6;
        const four = v4 ? readTable(root, pid, 'v4') : [];
        const six = v6 ? readTable(root, pid, 'v6') : [];
        this.stats.tableReads++;
        if (v4) w.hadEntries.v4 = four.length > 0;
        if (v6) w.hadEntries.v6 = six.length > 0;
        pod = four.length === 0 ? six : six.length === 0 ? four : [...four, ...six];
      }
      return fromTables(s, { countersAt, counters, podAt: this.#clock.now(), pod }, this.#context(w));
    } catch (err) {
      if (isGone(err)) {
        // The process ended: the Pod may still have others (or this one was the app, gone for good).
        w.pid = undefined;
        this.#release(w);
        this.#nextScanAt = 0;
        this.#log.debug({ key: w.key, pid }, 'process gone; looking for the Pod again');
        return undefined;
      }
      this.#markUnreachable(w, `cannot read the network namespace of Pod ${w.pod.uid}: ${(err as Error).message}`);
      return undefined;
    }
  }

  // A look at the Pod's socket counts: whether they differ from the last look (or there was none to
  // compare with). Any failure says "moved", so that the read that follows meets it and says what it is.
  #countsMoved(w: Watched, at: number): boolean {
    w.countsAt = at;
    try {
      w.held ??= HeldSocketCounts.open(this.#o.procRoot, w.pid!);
      this.stats.socketCountReads++;
      return w.held.update(w.countsSeen);
    } catch {
      this.#release(w);
      return true;
    }
  }

  // Closes the Pod's held files: they keep its network namespace alive.
  #release(w: Watched): void {
    w.held?.close();
    w.held = undefined;
    forgetCounts(w.countsSeen);
  }

  #forget(w: Watched): void {
    w.closed = true;
    this.#release(w);
  }

  #context(w: Watched): AccountContext {
    return { appPort: w.pod.appPort, nodeAddresses: this.#nodeAddresses, podAddresses: w.podAddresses };
  }

  #emit(w: Watched, force: boolean): void {
    const s = w.state!;
    // Unsettled connections may be someone's request: an idle reading waits for them to be settled.
    if (s.pending.length > 0 && s.activeConnections === 0) return;
    const was = w.emitted;
    const changed =
      was === undefined ||
      w.unreachable !== undefined ||
      was.activeConnections !== s.activeConnections ||
      was.listening !== s.listening ||
      (s.activeConnections === 0 && was.lastActivityAt !== s.lastActivityAt);
    w.unreachable = undefined;
    if (!changed && !force) return;
    w.emitted = { activeConnections: s.activeConnections, lastActivityAt: s.lastActivityAt, listening: s.listening };
    w.listener.observation(this.#activity(s));
  }

  #activity(s: NetnsState): BackendActivity {
    const inactiveMs = s.activeConnections > 0 ? 0 : Math.max(0, this.#clock.now() - s.lastActivityAt);
    // Fractional seconds: a reader computing `now − seconds_inactive` lands on the exact instant.
    return { active_connections: s.activeConnections, seconds_inactive: inactiveMs / 1000, listening: s.listening, ready: s.listening };
  }

  #markUnreachable(w: Watched, reason: string): void {
    if (w.unreachable === reason) return;
    w.unreachable = reason;
    w.listener.unreachable(reason);
  }
}
