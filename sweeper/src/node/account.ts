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
// - A connection that came and went between two reads without leaving any entry in the Pod (its peer
//   closed first, and the app answered at once) still moved the namespace's PassiveOpens counter. Such
//   connections are *pending*, by read window: when the peer was the node (the kubelet's probes) its
//   TIME_WAIT sits in the node's own table for 60 s and explains it; whatever the node's table does not
//   explain came from elsewhere, and is activity at the end of its window. Reading the node's table is
//   the expensive part (on a busy node, thousands of lines), so pending windows are resolved in batches
//   (resolvePending), well within those 60 s, and at once before a sweep.
//
// The counters are read before the tables, so a connection accepted in between is explained before the
// counter shows it (the balance dips), and shows up in the counter one read later (it recovers). Only a
// rise above the highest balance seen so far is pending; after a read that explained nothing that could
// belong to the next one, that mark is reset to the balance, so a connection explained twice is
// absorbed there.

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
  podGoneAt?: number; // when that end was first missing: kept a while, its node end may outlive it
  host?: SocketSeen; // its end in the node's table, at the last read of it
}

interface Included {
  open: boolean;
  endedAt: number | undefined; // for a closing connection: when it was first seen closing, or its TIME_WAIT start
}

// Accepted connections a read window left unexplained: they came and went between two counter reads.
export interface PendingWindow {
  from: number; // the previous counter read: each of them was accepted after it
  // The Pod's table read after this window's counters (or the moment it would have been): each of them
  // had ended by then. Not the counters' own time: a connection they counted may end while the tables are
  // read, the longer on a loaded node (120 ms measured here at load 4), and its end on the node then
  // follows the counters.
  to: number;
  count: number;
}

export interface NetnsState {
  countersAt: number;
  counters: Counters;
  tablesAt: number;
  balance: number; // accepted connections counted minus connections explained, since the first read
  mark: number; // the balance already accounted for (pending, or reset after a clean read)
  pending: readonly PendingWindow[];
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
  // closed and no new TIME_WAIT: the connections counted came and went leaving nothing in the Pod.
  pod: readonly TcpEntry[] | 'unchanged';
}

export interface NodeTable {
  at: number; // when its read ended
  // When its read began (the entries are snapshots taken in between: 200 ms apart and more on a loaded
  // node holding thousands of sockets). Omitted: `at`.
  startedAt?: number;
  // The node's entries whose remote end is one of the Pod's addresses.
  entries: readonly TcpEntry[];
}

export interface Resolution {
  state: NetnsState;
  explainedByNode: number; // pending connections the node's table explained (probes and the like)
  unexplained: number; // pending connections from elsewhere: activity
}

const OPEN = new Set<number>([TcpState.ESTABLISHED, TcpState.SYN_RECV, TcpState.NEW_SYN_RECV]);
// States that belong to no accepted connection (or to none yet, for SYN_RECV: the counter moves when
// the handshake completes).
const NOT_ACCEPTED = new Set<number>([TcpState.LISTEN, TcpState.SYN_SENT, TcpState.SYN_RECV, TcpState.NEW_SYN_RECV]);
const REUSED_AFTER_MS = 2_000; // TIME_WAIT starts computed at two reads differ by a few clock ticks at most
// A TIME_WAIT start is known to the clock tick (10 ms; measured 10–30 ms before the close it follows)
// and the read times to a few ms on a quiet machine, more on a loaded one: matching a connection's end
// to the windows that counted it, an end this much before a window's start may still be its.
const EARLY_END_SLACK_MS = 500;
// An end this much after the last window (its Pod table read) may still be of a connection that read
// counted; later ones belong to a read still to come (kept small: taking one of those would hide a
// user's request).
const LATE_END_SLACK_MS = 50;

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
export function firstRead(input: TablesInput & { pod: readonly TcpEntry[] }, ctx: AccountContext): NetnsState {
  const at = input.podAt;
  const listenPorts = new Set(input.pod.filter((e) => e.state === TcpState.LISTEN).map((e) => e.local.port));
  const known = new Map<string, Known>();
  const included = new Map<string, Included>();
  let active = 0;
  for (const e of input.pod) {
    if (e.state === TcpState.LISTEN || e.state === TcpState.SYN_SENT) continue;
    const key = connectionKey(e.local, e.remote);
    if (!NOT_ACCEPTED.has(e.state)) known.set(key, { pod: socketSeen(e, at) });
    if (e.local.port === ctx.appPort && listenPorts.has(e.local.port) && isCounted(e.remote, ctx)) {
      const open = OPEN.has(e.state);
      if (open) active++;
      included.set(key, { open, endedAt: open ? undefined : at });
    }
  }
  return {
    countersAt: input.countersAt,
    counters: input.counters,
    tablesAt: at,
    balance: 0,
    mark: 0,
    pending: [],
    known,
    included,
    listenPorts,
    listening: listensOn(input.pod, ctx.appPort),
    activeConnections: active,
    lastActivityAt: at,
  };
}

// A read that looked past the counters: the Pod's table (or the knowledge that it holds nothing new).
// Connections it cannot explain become a pending window (state.pending).
export function fromTables(prev: NetnsState | undefined, input: TablesInput, ctx: AccountContext): NetnsState {
  const counterReset = prev !== undefined && input.counters.passiveOpens < prev.counters.passiveOpens;
  if (input.pod === 'unchanged' && (prev === undefined || counterReset)) throw new Error('a first read needs the Pod table');
  if (prev === undefined || counterReset) return firstRead({ ...input, pod: input.pod as readonly TcpEntry[] }, ctx);
  const at = input.podAt;
  const windowStart = prev.countersAt; // connections counted now were accepted after this
  const podTable = input.pod === 'unchanged' ? undefined : input.pod;
  const listenPorts = new Set(prev.listenPorts);
  for (const e of podTable ?? []) if (e.state === TcpState.LISTEN) listenPorts.add(e.local.port);

  const known = new Map<string, Known>();
  let explained = 0;
  let mayBelongToNextRead = false;
  const explain = (key: string, entry: TcpEntry): void => {
    const before = prev.known.get(key);
    const socket = socketSeen(entry, at);
    // A new connection on an address pair still listed from an old one: not the one explained then.
    const reused = before?.pod !== undefined && !sameSocket(before.pod, socket);
    known.set(key, { ...known.get(key), pod: socket });
    if (before !== undefined && !reused) return;
    const ended = socket.kind === 'timeWait' ? socket.endedAt : undefined;
    // A TIME_WAIT that ended before the last read belongs to a connection counted then; one that seems to
    // have ended just before it is this window's: its start, computed from its timer, comes out up to
    // tens of milliseconds early, and a connection that old would have been in that read's table.
    if (ended !== undefined && ended <= windowStart - EARLY_END_SLACK_MS) return;
    explained++;
    if (ended === undefined || ended > input.countersAt) mayBelongToNextRead = true;
  };

  const included = podTable ? new Map<string, Included>() : new Map(prev.included);
  let active = podTable ? 0 : prev.activeConnections;
  let lastActivityAt = active > 0 ? Math.max(prev.lastActivityAt, at) : prev.lastActivityAt;
  for (const e of podTable ?? []) {
    if (e.state === TcpState.LISTEN || e.state === TcpState.SYN_SENT) continue;
    const key = connectionKey(e.local, e.remote);
    const peerIsPod = isLoopback(e.remote.ip) || ctx.podAddresses.has(e.remote.ip);
    const passive = listenPorts.has(e.local.port) || (peerIsPod && listenPorts.has(e.remote.port));
    if (passive && !NOT_ACCEPTED.has(e.state)) explain(key, e);
    if (e.local.port !== ctx.appPort || !listenPorts.has(e.local.port) || !isCounted(e.remote, ctx)) continue;
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
  // What the tables not read this time still vouch for; a connection gone from the Pod's table is kept
  // as long as its other end may sit in TIME_WAIT on the node, so that it is not taken for a new one.
  for (const [key, k] of prev.known) {
    const carried: Known = { ...known.get(key) };
    if (k.pod && !carried.pod) {
      const goneAt = podTable ? (k.podGoneAt ?? at) : k.podGoneAt;
      if (goneAt === undefined || at - goneAt <= TIME_WAIT_MS + REUSED_AFTER_MS) {
        carried.pod = k.pod;
        if (goneAt !== undefined) carried.podGoneAt = goneAt;
      }
    }
    if (k.host && !carried.host) carried.host = k.host;
    if (carried.pod || carried.host) known.set(key, carried);
  }

  const balance = prev.balance + (input.counters.passiveOpens - prev.counters.passiveOpens) - explained;
  let mark = prev.mark;
  let pending = prev.pending;
  if (balance > mark) {
    pending = [...pending, { from: windowStart, to: input.podAt, count: balance - mark }];
    mark = balance;
  } else if (!mayBelongToNextRead) {
    mark = balance;
  }
  return {
    countersAt: input.countersAt,
    counters: input.counters,
    tablesAt: podTable ? at : prev.tablesAt,
    balance,
    mark,
    pending,
    known,
    included,
    listenPorts,
    listening: podTable ? listensOn(podTable, ctx.appPort) : prev.listening,
    activeConnections: active,
    lastActivityAt,
  };
}

// Settles every pending window with the node's table, read after them: each TIME_WAIT (or closing
// entry) of the node toward the Pod's listening ports that no earlier read knew is one connection whose
// peer was the node. Their ends are matched to the windows oldest first (a connection counted in a
// window ended after that window began, possibly a little after it closed: the clocks of the two
// tables are not one); ends after the last window belong to reads still to come. Whatever remains came
// from elsewhere and is activity, placed at the end of the window it remains in (matching oldest first
// leaves the remainder in the latest windows: late, never early).
// An end is known to lie between the instants the node's read began and ended. A routine settle takes
// an end for a later read's only when it certainly is: taken wrongly, it would leave a probe counted as
// a user's request; matched wrongly, it leaves a later window unexplained instead, which moves the
// activity later and never loses it, since that window is settled before any sweep. The `final` settle
// before a sweep has no later window to do so, so there an end that may be a later read's is one.
export function resolvePending(state: NetnsState, node: NodeTable, final = false): Resolution {
  const windows = state.pending.map((w) => ({ ...w }));
  const known = new Map(state.known);
  const seenNow = new Set<string>();
  const ends: Array<{ key: string; ended: number; socket: SocketSeen; before: Known | undefined }> = [];
  const readSpread = final ? 0 : node.at - (node.startedAt ?? node.at);
  for (const e of node.entries) {
    if (e.state === TcpState.SYN_SENT || e.state === TcpState.LISTEN || OPEN.has(e.state)) continue;
    if (!state.listenPorts.has(e.remote.port)) continue; // the Pod's end is the remote one
    const key = connectionKey(e.local, e.remote);
    seenNow.add(key);
    const socket = socketSeen(e, node.at);
    const before = known.get(key);
    if (before?.host !== undefined && sameSocket(before.host, socket)) continue; // explained already
    if (before?.pod !== undefined) {
      known.set(key, { ...before, host: socket }); // seen in the Pod's table at an earlier read: explained then
      continue;
    }
    ends.push({ key, ended: socket.kind === 'timeWait' ? socket.endedAt : node.at, socket, before });
  }
  ends.sort((a, b) => a.ended - b.ended);
  const first = windows[0];
  const last = windows.at(-1);
  let explainedByNode = 0;
  for (const end of ends) {
    if (first === undefined || end.ended <= first.from - EARLY_END_SLACK_MS) {
      known.set(end.key, { ...end.before, host: end.socket }); // older than anything pending: counted long ago
      continue;
    }
    if (end.ended - readSpread > last!.to + LATE_END_SLACK_MS) continue; // belongs to a read still to come
    const window = windows.find((w) => w.count > 0 && end.ended > w.from - EARLY_END_SLACK_MS);
    if (!window) continue;
    window.count--;
    explainedByNode++;
    known.set(end.key, { ...end.before, host: end.socket });
  }
  // The node's table was read whole: what it no longer lists is gone from it.
  for (const [key, k] of known) {
    if (k.host !== undefined && !seenNow.has(key)) {
      const { host: _gone, ...rest } = k;
      if (rest.pod) known.set(key, rest);
      else known.delete(key);
    }
  }
  let lastActivityAt = state.lastActivityAt;
  let unexplained = 0;
  for (const w of windows) {
    if (w.count <= 0) continue;
    unexplained += w.count;
    lastActivityAt = Math.max(lastActivityAt, w.to);
  }
  return { state: { ...state, pending: [], known, lastActivityAt }, explainedByNode, unexplained };
}
