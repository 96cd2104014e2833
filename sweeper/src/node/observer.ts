// The node-level activity source: one loop per sweeper reads, for every followed backend Pod on this
// node, its network namespace's TCP counters (every tick, ~30 µs) and, only when they moved, its TCP
// tables; it turns them into the same observation the sidecar sends (account.ts decides what counts).
// Needs the host's PID namespace (hostPID) to see the Pods' processes; no capability, no root.
//
// Why the counters come first: /proc/<pid>/net/tcp walks the kernel's whole TCP hash table (shared
// by every namespace unless the node sets net.ipv4.tcp_child_ehash_entries), which costs milliseconds
// per read on a large machine whatever the namespace holds. The counters cost tens of microseconds.

import type { BackendActivity } from '../../../common/contract.ts';
import type { Logger } from '../../../common/log.ts';
import { systemClock, type Clock, type TimerHandle } from '../../../common/kube/clock.ts';
import type { ActivityListener } from '../activity-sources.ts';
import { countersMoved, fromCounters, fromTables, type AccountContext, type Activity, type NetnsState, type TablesInput, type TablesResult } from './account.ts';
import { canonicalIp, type TcpEntry } from './proc-net.ts';
import { DEFAULT_PROC_ROOT, isGone, locatePods, podUidOf, readCounters, readLocalAddresses, readSockets, readTable, type Sockets } from './procfs.ts';

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
  refreshMs?: number; // tables at least this often while a connection is open
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
  closed: boolean;
}

const PID_RECHECK_MS = 5_000;
const YIELD_AFTER_MS = 10;

export class NodeObserver {
  readonly stats: ObserverStats = { ticks: 0, counterReads: 0, tableReads: 0, hostTableReads: 0, scans: 0, lastTickMs: 0 };
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
    this.#o = {
      procRoot: options.procRoot ?? DEFAULT_PROC_ROOT,
      hostPid: options.hostPid ?? 1,
      intervalMs: options.intervalMs ?? 1_000,
      refreshMs: options.refreshMs ?? 30_000,
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
    if (previous) previous.closed = true;
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
      closed: false,
    };
    this.#watched.set(key, w);
    this.#nextScanAt = 0; // look for it at the next tick
    this.#schedule(0);
    return {
      close: () => {
        w.closed = true;
        if (this.#watched.get(key) === w) this.#watched.delete(key);
        if (this.#watched.size === 0) this.#cancel();
      },
      readNow: async () => {
        await this.#running; // never two readers of one namespace at once
        if (w.closed) throw new Error('no longer observed');
        if (w.pid === undefined) this.#locate(true);
        if (w.pid === undefined) throw new Error(w.unreachable ?? `no process of Pod ${pod.uid} on this node`);
        this.#refreshNodeAddresses();
        const result = this.#readPod(w, true);
        if (result === undefined) throw new Error(w.unreachable ?? `no process of Pod ${pod.uid} on this node`);
        this.#commit(w, result.wantsHostTable ? this.#withHostTable(w, result.input, this.#readHostTable()) : result.result, true);
        return this.#activity(w.state!);
      },
    };
  }

  stop(): void {
    this.#stopped = true;
    this.#cancel();
    this.#watched.clear();
  }

  // One full pass now (tests and benchmarks; the loop calls the same).
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
      void this.tick().then(() => this.#schedule(this.#o.intervalMs));
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
    const waiting: Array<{ w: Watched; input: TablesInput }> = [];
    let sinceYield = performance.now();
    for (const w of [...this.#watched.values()]) {
      if (w.closed || w.pid === undefined) continue;
      const read = this.#readPod(w, false);
      if (read === undefined) continue;
      if (read.wantsHostTable) waiting.push({ w, input: read.input });
      else this.#commit(w, read.result, false);
      if (performance.now() - sinceYield > YIELD_AFTER_MS) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        sinceYield = performance.now();
      }
    }
    if (waiting.length > 0) {
      const host = this.#readHostTable();
      for (const { w, input } of waiting) if (!w.closed) this.#commit(w, this.#withHostTable(w, input, host), false);
    }
    this.stats.lastTickMs = performance.now() - started;
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
    const missing = new Map<string, Watched[]>();
    for (const w of this.#watched.values()) {
      if (w.pid !== undefined || w.closed) continue;
      missing.set(w.pod.uid, [...(missing.get(w.pod.uid) ?? []), w]);
    }
    const now = this.#clock.now();
    if (missing.size === 0 || (!force && now < this.#nextScanAt)) return;
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

  #readPod(w: Watched, forceTables: boolean): { result: TablesResult; input: TablesInput; wantsHostTable: boolean } | undefined {
    const root = this.#o.procRoot;
    const pid = w.pid!;
    try {
      const countersAt = this.#clock.now();
      // A PID is only reused after its process is gone; checking now and then that it still belongs to
      // the Pod keeps a reused one from being read as this Pod.
      if (countersAt - w.pidCheckedAt >= PID_RECHECK_MS) {
        if (podUidOf(root, pid) !== w.pod.uid) throw Object.assign(new Error('process gone'), { code: 'ESRCH' });
        w.pidCheckedAt = countersAt;
      }
      const counters = readCounters(root, pid);
      this.stats.counterReads++;
      const s = w.state;
      const due = s !== undefined && s.activeConnections > 0 && countersAt - s.tablesAt >= this.#o.refreshMs;
      if (!forceTables && s !== undefined && s.listening && !due && !countersMoved(s, counters)) {
        this.#commitCounters(w, fromCounters(s, counters, countersAt));
        return undefined;
      }
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
      const input: TablesInput = { countersAt, counters, podAt: this.#clock.now(), pod };
      const result = fromTables(s, input, this.#context(w));
      return { result, input, wantsHostTable: result.wantsHostTable };
    } catch (err) {
      if (isGone(err)) {
        // The process ended: the Pod may still have others (or this one was the app, gone for good).
        w.pid = undefined;
        this.#nextScanAt = 0;
        this.#log.debug({ key: w.key, pid }, 'process gone; looking for the Pod again');
        return undefined;
      }
      this.#markUnreachable(w, `cannot read the network namespace of Pod ${w.pod.uid}: ${(err as Error).message}`);
      return undefined;
    }
  }

  #context(w: Watched): AccountContext {
    return { appPort: w.pod.appPort, nodeAddresses: this.#nodeAddresses, podAddresses: w.podAddresses };
  }

  // The node's own table (its namespace's sockets), split by the Pod address each entry talks to.
  #readHostTable(): Map<string, TcpEntry[]> | Error {
    const byRemote = new Map<string, TcpEntry[]>();
    try {
      for (const family of ['v4', 'v6'] as const) {
        for (const e of readTable(this.#o.procRoot, this.#o.hostPid, family)) {
          const list = byRemote.get(e.remote.ip);
          if (list) list.push(e);
          else byRemote.set(e.remote.ip, [e]);
        }
      }
      this.stats.hostTableReads++;
      return byRemote;
    } catch (err) {
      this.#log.error({ err: (err as Error).message, hostPid: this.#o.hostPid }, "cannot read the node's TCP table; unexplained connections count as activity");
      return err as Error;
    }
  }

  #withHostTable(w: Watched, input: TablesInput, host: Map<string, TcpEntry[]> | Error): TablesResult {
    const entries: TcpEntry[] = [];
    if (!(host instanceof Error)) for (const ip of w.podAddresses) entries.push(...(host.get(ip) ?? []));
    // Unreadable: an empty table explains nothing, so what is unexplained counts (late, never early).
    return fromTables(w.state, { ...input, host: { at: this.#clock.now(), entries } }, this.#context(w));
  }

  #commitCounters(w: Watched, state: NetnsState): void {
    w.state = state;
    this.#emit(w, false);
  }

  #commit(w: Watched, result: TablesResult, force: boolean): void {
    if (w.closed) return;
    const before = w.state;
    w.state = result.state;
    if (result.unexplained > 0) this.#log.debug({ key: w.key, unexplained: result.unexplained }, 'connections came and went between two reads');
    if (before?.listening !== result.state.listening) this.#log.debug({ key: w.key, listening: result.state.listening }, 'listening changed');
    this.#emit(w, force);
  }

  #emit(w: Watched, force: boolean): void {
    const s = w.state!;
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
