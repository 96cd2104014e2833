// How one Pod's network namespace turns into the activity the sidecar would report: open connections
// to the app's port from someone other than the node, and when the last one ended. Pure: the I/O layer
// (observer.ts) reads the counters and tables and hands them here; tests drive every rule by table.
//
// What counts (sweeper/README.md, "Node mode", has the measurements behind each line):
// - A connection to the app's port whose peer is not the node itself (none of the node's addresses),
//   not the Pod itself (loopback, its own addresses): the app's outbound connections never count, and
//   neither do the kubelet's probes (they come from the node).
// - Open (ESTABLISHED, SYN_RECV): the backend is active, however silent the connection is.
// - Ended: a TIME_WAIT entry tells exactly when (its timer runs 60 s from the close); a connection
//   that was open at the last read and is gone now ended since then (the read time is used: late,
//   never early); one in another closing state ended when it was first seen closing.
// - A connection that came and went between two reads without leaving any entry (the peer closed first
//   and the app answered at once, so no TIME_WAIT stays in the Pod) still moved the namespace's
//   PassiveOpens counter. Every accepted connection either shows up in the Pod's table (open, closing,
//   TIME_WAIT for 60 s), or, when the node was the peer and closed first, in the node's own table
//   (TIME_WAIT there). Connections the counter saw that neither table explains came from elsewhere
//   and ended client-first: they count as activity at the read. This is what keeps a backend alive
//   through short plain requests whose proxy closes its upstream connection before the app does.
//
// The counters are read before the tables, so a connection accepted in between is explained before the
// counter shows it (the balance dips), and shows up in the counter one read later (it recovers). Only a
// rise above the highest balance seen so far is activity; after a read that explained nothing that
// could belong to the next one, that mark is reset to the balance, so a connection explained twice (a
// reused address pair, a peer seen in both tables at different times) is absorbed there.

import { TcpState, TIMER_TIME_WAIT, TIME_WAIT_MS, isLoopback, type Endpoint, type TcpEntry } from './proc-net.ts';

export interface Counters {
  passiveOpens: number;
  currEstab: number; // ESTABLISHED + CLOSE_WAIT sockets right now
}

export interface AccountContext {
  appPort: number;
  nodeAddresses: ReadonlySet<string>; // the node's own addresses (its namespace's LOCAL routes)
  podAddresses: ReadonlySet<string>; // the Pod's own addresses
}

// One end of a connection as last seen in a table: enough to tell the same connection from a new one
// that reuses its address pair (loopback connections may reuse a TIME_WAIT pair after 1 s:
// net.ipv4.tcp_tw_reuse = 2, the default).
type SocketSeen = { kind: 'open'; inode: number } | { kind: 'orphan' } | { kind: 'timeWait'; endedAt: number };

interface Known {
  pod?: SocketSeen; // its end in the Pod's table, at the last read of it
  host?: SocketSeen; // its end in the node's table, at the last read of it
}

const REUSED_AFTER_MS = 2_000; // TIME_WAIT starts computed at two reads differ by a few clock ticks at most

function socketSeen(entry: TcpEntry, at: number): SocketSeen {
  const ended = timeWaitEnd(entry, at);
  if (ended !== undefined) return { kind: 'timeWait', endedAt: ended };
  return entry.inode > 0 ? { kind: 'open', inode: entry.inode } : { kind: 'orphan' };
}

// Whether `now` can be the same socket as `before`: a socket never leaves TIME_WAIT for another state,
// and keeps its inode while it has one.
function sameSocket(before: SocketSeen, now: SocketSeen): boolean {
  if (before.kind === 'timeWait') return now.kind === 'timeWait' && Math.abs(now.endedAt - before.endedAt) < REUSED_AFTER_MS;
  if (before.kind === 'open' && now.kind === 'open') return before.inode === now.inode;
  return true;
}

interface Included {
  open: boolean;
  endedAt: number | undefined; // for a closing connection: when it was first seen closing, or its TIME_WAIT start
}

export interface NetnsState {
  countersAt: number;
  counters: Counters;
  tablesAt: number;
  balance: number; // accepted connections counted minus connections explained, since the first read
  mark: number; // highest balance taken as activity (or reset to the balance after a clean read)
  known: ReadonlyMap<string, Known>; // passive connections already explained
  included: ReadonlyMap<string, Included>; // app-port connections that count, from the last table read
  listenPorts: ReadonlySet<number>;
  listening: boolean;
  activeConnections: number;
  lastActivityAt: number;
}

export interface Activity {
  activeConnections: number;
  lastActivityAt: number;
  listening: boolean;
}

export interface TablesInput {
  countersAt: number; // when the counters were read (before the tables)
  counters: Counters;
  podAt: number; // when the Pod's table was read (or would have been)
  // The Pod's sockets (tcp + tcp6), or 'unchanged' when the counters showed no connection opened or
  // closed and no new TIME_WAIT: the connections counted came and went leaving nothing in the Pod, so
  // only the node's table can explain them (a probe) or not (someone else, who closed first).
  pod: readonly TcpEntry[] | 'unchanged';
  // The node's table entries whose remote end is one of the Pod's addresses, when it was read.
  host?: { at: number; entries: readonly TcpEntry[] };
}

export interface TablesResult {
  state: NetnsState;
  activity: Activity;
  // Accepted connections the Pod's table does not explain; the node's table may (its peer was the node).
  wantsHostTable: boolean;
  unexplained: number; // counted as activity at this read
}

const OPEN = new Set<number>([TcpState.ESTABLISHED, TcpState.SYN_RECV, TcpState.NEW_SYN_RECV]);
// States that belong to no accepted connection (or to none yet, for SYN_RECV: the counter moves when
// the handshake completes).
const NOT_ACCEPTED = new Set<number>([TcpState.LISTEN, TcpState.SYN_SENT, TcpState.SYN_RECV, TcpState.NEW_SYN_RECV]);

const endpointKey = (e: Endpoint): string => `${e.ip}|${e.port}`;
export function connectionKey(a: Endpoint, b: Endpoint): string {
  const x = endpointKey(a);
  const y = endpointKey(b);
  return x < y ? `${x}>${y}` : `${y}>${x}`;
}

export function activityOf(state: NetnsState): Activity {
  return { activeConnections: state.activeConnections, lastActivityAt: state.lastActivityAt, listening: state.listening };
}

function timeWaitEnd(entry: TcpEntry, at: number): number | undefined {
  if (entry.state !== TcpState.TIME_WAIT || entry.timer !== TIMER_TIME_WAIT) return undefined;
  return Math.min(at, at - (TIME_WAIT_MS - Math.min(entry.timerLeftMs, TIME_WAIT_MS)));
}

// Whether the counters say anything changed that only the tables can explain. Moving PassiveOpens (a
// connection was accepted) or CurrEstab (one opened or closed) does; time alone does not.
export function countersMoved(state: NetnsState, counters: Counters): boolean {
  return counters.passiveOpens !== state.counters.passiveOpens || counters.currEstab !== state.counters.currEstab;
}

// A read where the counters did not move: nothing opened, nothing closed. An open connection is still
// open (activity now).
export function fromCounters(state: NetnsState, counters: Counters, at: number): NetnsState {
  return {
    ...state,
    countersAt: at,
    counters,
    lastActivityAt: state.activeConnections > 0 ? Math.max(state.lastActivityAt, at) : state.lastActivityAt,
  };
}

function listensOn(entries: readonly TcpEntry[], port: number): boolean {
  return entries.some((e) => e.state === TcpState.LISTEN && e.local.port === port && !isLoopback(e.local.ip));
}

function isCounted(remote: Endpoint, ctx: AccountContext): boolean {
  return !isLoopback(remote.ip) && !ctx.nodeAddresses.has(remote.ip) && !ctx.podAddresses.has(remote.ip);
}

// The first read of a namespace (or the first after its counter went backwards: not the same
// namespace any more). Nothing is known about the time before it, so the idle countdown starts now:
// a restarted sweeper never sweeps early.
export function firstRead(input: TablesInput & { pod: readonly TcpEntry[] }, ctx: AccountContext): TablesResult {
  const at = input.podAt;
  const listenPorts = new Set(input.pod.filter((e) => e.state === TcpState.LISTEN).map((e) => e.local.port));
  const known = new Map<string, Known>();
  const included = new Map<string, Included>();
  let active = 0;
  for (const e of input.pod) {
    if (NOT_ACCEPTED.has(e.state) && !OPEN.has(e.state)) continue;
    const key = connectionKey(e.local, e.remote);
    if (!NOT_ACCEPTED.has(e.state)) known.set(key, { pod: socketSeen(e, at) });
    if (e.local.port === ctx.appPort && listenPorts.has(e.local.port) && isCounted(e.remote, ctx)) {
      const open = OPEN.has(e.state);
      if (open) active++;
      included.set(key, { open, endedAt: open ? undefined : at });
    }
  }
  for (const e of input.host?.entries ?? []) {
    if (e.state === TcpState.SYN_SENT) continue;
    const key = connectionKey(e.local, e.remote);
    known.set(key, { ...known.get(key), host: socketSeen(e, input.host!.at) });
  }
  const state: NetnsState = {
    countersAt: input.countersAt,
    counters: input.counters,
    tablesAt: at,
    balance: 0,
    mark: 0,
    known,
    included,
    listenPorts,
    listening: listensOn(input.pod, ctx.appPort),
    activeConnections: active,
    lastActivityAt: at,
  };
  return { state, activity: activityOf(state), wantsHostTable: false, unexplained: 0 };
}

export function fromTables(prev: NetnsState | undefined, input: TablesInput, ctx: AccountContext): TablesResult {
  const counterReset = prev !== undefined && input.counters.passiveOpens < prev.counters.passiveOpens;
  if (input.pod === 'unchanged' && (prev === undefined || counterReset)) throw new Error('a first read needs the Pod table');
  if (prev === undefined || counterReset) return firstRead({ ...input, pod: input.pod as readonly TcpEntry[] }, ctx);
  const last: NetnsState = prev;
  const at = input.podAt;
  const windowStart = prev.countersAt; // connections counted now were accepted after this
  const podTable = input.pod === 'unchanged' ? undefined : input.pod;
  const listenPorts = new Set(prev.listenPorts);
  for (const e of podTable ?? []) if (e.state === TcpState.LISTEN) listenPorts.add(e.local.port);

  const known = new Map<string, Known>();
  let explained = 0;
  let mayBelongToNextRead = false;
  const explain = (key: string, entry: TcpEntry, entryAt: number, side: 'pod' | 'host'): void => {
    const now = known.get(key);
    const before = prev.known.get(key);
    const socket = socketSeen(entry, entryAt);
    // A new connection on an address pair still listed from an old one: not the one explained then.
    const reused = before?.[side] !== undefined && !sameSocket(before[side]!, socket);
    // Already explained at an earlier read (or already in this one, from the other table).
    const seenBefore = (now !== undefined || before !== undefined) && !reused;
    known.set(key, { ...now, [side]: socket });
    if (seenBefore) return;
    const ended = socket.kind === 'timeWait' ? socket.endedAt : undefined;
    // A TIME_WAIT that ended before the last read belongs to a connection counted then.
    if (ended !== undefined && ended <= windowStart) return;
    explained++;
    if (ended === undefined || ended > input.countersAt) mayBelongToNextRead = true;
  };

  const included = podTable ? new Map<string, Included>() : new Map(prev.included);
  let active = podTable ? 0 : prev.activeConnections;
  let lastActivityAt = active > 0 ? Math.max(prev.lastActivityAt, at) : prev.lastActivityAt;
  for (const e of podTable ?? []) {
    if (e.state === TcpState.LISTEN || e.state === TcpState.SYN_SENT) continue;
    const key = connectionKey(e.local, e.remote);
    const podSide = e.local;
    const peerIsPod = isLoopback(e.remote.ip) || ctx.podAddresses.has(e.remote.ip);
    const passive = listenPorts.has(podSide.port) || (peerIsPod && listenPorts.has(e.remote.port));
    if (passive && !NOT_ACCEPTED.has(e.state)) explain(key, e, at, 'pod');
    if (podSide.port !== ctx.appPort || !listenPorts.has(podSide.port) || !isCounted(e.remote, ctx)) continue;
    if (OPEN.has(e.state)) {
      active++;
      included.set(key, { open: true, endedAt: undefined });
      lastActivityAt = Math.max(lastActivityAt, at);
      continue;
    }
    const endedAt = timeWaitEnd(e, at) ?? prev.included.get(key)?.endedAt ?? at;
    included.set(key, { open: false, endedAt });
    lastActivityAt = Math.max(lastActivityAt, endedAt);
  }
  // Open at the last read and without any entry now: it ended in between.
  for (const [key, was] of prev.included) {
    if (podTable && was.open && !included.has(key)) lastActivityAt = Math.max(lastActivityAt, at);
  }

  if (input.host) {
    for (const e of input.host.entries) {
      if (e.state === TcpState.SYN_SENT || e.state === TcpState.LISTEN) continue;
      // The node's end of a connection to the Pod: the Pod's end is the remote one.
      if (!listenPorts.has(e.remote.port)) continue;
      explain(connectionKey(e.local, e.remote), e, input.host.at, 'host');
    }
  }
  // Keep what a table not read this time still vouches for.
  for (const [key, k] of prev.known) {
    const carried: Known = { ...known.get(key) };
    if (!podTable && k.pod && !carried.pod) carried.pod = k.pod;
    if (!input.host && k.host && !carried.host) carried.host = k.host;
    if (carried.pod || carried.host) known.set(key, carried);
  }

  const balance = prev.balance + (input.counters.passiveOpens - prev.counters.passiveOpens) - explained;
  let mark = prev.mark;
  let unexplained = 0;
  if (balance > mark) {
    unexplained = balance - mark;
    // Before counting it, let the node's table have its say: its peer may have been the node.
    if (!input.host) {
      const state = settle();
      return { state, activity: activityOf(state), wantsHostTable: true, unexplained: 0 };
    }
    mark = balance;
    lastActivityAt = Math.max(lastActivityAt, at);
  } else if (!mayBelongToNextRead) {
    mark = balance;
  }
  const state = settle();
  return { state, activity: activityOf(state), wantsHostTable: false, unexplained };

  function settle(): NetnsState {
    return {
      countersAt: input.countersAt,
      counters: input.counters,
      tablesAt: podTable ? at : last.tablesAt,
      balance,
      mark,
      known,
      included,
      listenPorts,
      listening: podTable ? listensOn(podTable, ctx.appPort) : last.listening,
      activeConnections: active,
      lastActivityAt,
    };
  }
}
