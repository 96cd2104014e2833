// What counts as activity in a Pod's namespace, rule by rule, on made-up tables (the netns tests in
// node-observer.test.ts check the same rules against the kernel).

import { describe, expect, test } from '@jest/globals';
import { activityOf, countersMoved, fromCounters, fromTables, resolvePending, type AccountContext, type NetnsState, type TablesInput } from '../src/node/account.ts';
import { TcpState, type TcpEntry } from '../src/node/proc-net.ts';

const T0 = 1_800_000_000_000;
const POD = '10.244.0.7';
const NODE = '10.244.0.1'; // the bridge: where the kubelet's probes come from
const PEER = '10.244.0.3'; // the router's Pod
const DB = '10.96.5.5';
const ctx: AccountContext = { appPort: 8080, nodeAddresses: new Set([NODE, '192.168.1.10']), podAddresses: new Set([POD]) };

type Spec = [local: string, remote: string, state: number, timeWaitLeftMs?: number, inode?: number];
function entry([local, remote, state, left, inode]: Spec): TcpEntry {
  const [lip, lport] = local.split(':');
  const [rip, rport] = remote.split(':');
  return {
    local: { ip: lip!, port: Number(lport) },
    remote: { ip: rip!, port: Number(rport) },
    state,
    timer: left === undefined ? 0 : 3,
    timerLeftMs: left ?? 0,
    inode: inode ?? (state === TcpState.TIME_WAIT ? 0 : 1234),
  };
}
const LISTEN: Spec = ['0.0.0.0:8080', '0.0.0.0:0', TcpState.LISTEN];
const { ESTABLISHED, TIME_WAIT, LAST_ACK, CLOSE_WAIT, SYN_SENT } = TcpState;

interface Read {
  at: number; // ms after T0
  passiveOpens: number;
  currEstab?: number;
  pod: Spec[] | 'unchanged'; // 'unchanged': the counters said the Pod's table has nothing new
  tablesAfterMs?: number; // how long after the counters the Pod's table was read (1 ms unless said)
  host?: Spec[]; // the node's entries toward the Pod: its table is read after this read, settling what is pending
  hostReadMs?: number; // how long that read took (0 unless said)
  final?: boolean; // the settle before a sweep
}

function input(r: Read): TablesInput {
  return {
    countersAt: T0 + r.at,
    counters: { passiveOpens: r.passiveOpens, currEstab: r.currEstab ?? 0 },
    podAt: T0 + r.at + (r.tablesAfterMs ?? 1),
    pod: r.pod === 'unchanged' ? 'unchanged' : [LISTEN, ...r.pod].map(entry),
  };
}

// Runs reads in order the way the observer does; a read that gives the node's table settles what is
// pending right after it.
function run(reads: Read[]): { state: NetnsState; history: Array<{ active: number; last: number; unexplained: number; pending: number }> } {
  let state: NetnsState | undefined;
  const history: Array<{ active: number; last: number; unexplained: number; pending: number }> = [];
  for (const r of reads) {
    state = fromTables(state, input(r), ctx);
    let unexplained = 0;
    if (r.host !== undefined) {
      const startedAt = T0 + r.at + (r.tablesAfterMs ?? 1) + 1;
      const resolved = resolvePending(state, { startedAt, at: startedAt + (r.hostReadMs ?? 0), entries: r.host.map(entry) }, r.final);
      state = resolved.state;
      unexplained = resolved.unexplained;
    }
    const a = activityOf(state);
    history.push({ active: a.activeConnections, last: a.lastActivityAt - T0, unexplained, pending: state.pending.reduce((n, w) => n + w.count, 0) });
  }
  return { state: state!, history };
}

describe('the first read', () => {
  test('starts the countdown at the read, whatever the table holds from before', () => {
    const { state, history } = run([{ at: 0, passiveOpens: 40, pod: [[`${POD}:8080`, `${PEER}:4000`, TIME_WAIT, 59_000]] }]);
    expect(history).toEqual([{ active: 0, last: 1, unexplained: 0, pending: 0 }]);
    expect(state.listening).toBe(true);
  });
  test('sees a connection already open', () => {
    const { history } = run([{ at: 0, passiveOpens: 40, pod: [[`${POD}:8080`, `${PEER}:4000`, ESTABLISHED]] }]);
    expect(history[0]!.active).toBe(1);
  });
  test('not listening: no LISTEN entry on the app port, or only on loopback', () => {
    const none = fromTables(undefined, { ...input({ at: 0, passiveOpens: 0, pod: [] }), pod: [] }, ctx);
    expect(none.listening).toBe(false);
    const loopback = fromTables(undefined, { ...input({ at: 0, passiveOpens: 0, pod: [] }), pod: [entry(['127.0.0.1:8080', '0.0.0.0:0', TcpState.LISTEN])] }, ctx);
    expect(loopback.listening).toBe(false);
  });
});

interface Case {
  name: string;
  reads: Read[];
  expect: Array<{ active: number; last: number; unexplained?: number }>;
}

const cases: Case[] = [
  {
    name: 'an open connection from a peer: active, activity at each read while open',
    reads: [
      { at: 0, passiveOpens: 0, pod: [] },
      { at: 1000, passiveOpens: 1, currEstab: 1, pod: [[`${POD}:8080`, `${PEER}:4000`, ESTABLISHED]] },
    ],
    expect: [{ active: 0, last: 1 }, { active: 1, last: 1001 }],
  },
  {
    name: 'the app closed first: TIME_WAIT says exactly when it ended (60 s minus what is left)',
    reads: [
      { at: 0, passiveOpens: 0, pod: [] },
      { at: 1000, passiveOpens: 1, pod: [[`${POD}:8080`, `${PEER}:4000`, TIME_WAIT, 59_700]] },
    ],
    expect: [{ active: 0, last: 1 }, { active: 0, last: 1001 - 300, unexplained: 0 }],
  },
  {
    name: 'open at one read, gone without a trace at the next: ended in between, placed at the later read',
    reads: [
      { at: 0, passiveOpens: 0, pod: [[`${POD}:8080`, `${PEER}:4000`, ESTABLISHED]] },
      { at: 1000, passiveOpens: 0, pod: [] },
    ],
    expect: [{ active: 1, last: 1 }, { active: 0, last: 1001 }],
  },
  {
    name: 'a closing connection ended when it was first seen closing, not at every later read',
    reads: [
      { at: 0, passiveOpens: 0, pod: [] },
      { at: 1000, passiveOpens: 1, pod: [[`${POD}:8080`, `${PEER}:4000`, CLOSE_WAIT]] },
      { at: 2000, passiveOpens: 1, pod: [[`${POD}:8080`, `${PEER}:4000`, CLOSE_WAIT]] },
    ],
    expect: [{ active: 0, last: 1 }, { active: 0, last: 1001 }, { active: 0, last: 1001 }],
  },
  {
    name: 'the peer closed first and left nothing: the counter moved and neither table explains it',
    reads: [
      { at: 0, passiveOpens: 7, pod: [] },
      { at: 1000, passiveOpens: 8, pod: [], host: [] },
    ],
    expect: [{ active: 0, last: 1 }, { active: 0, last: 1001, unexplained: 1 }],
  },
  {
    name: "a kubelet probe: the counter moved, the node's table holds its TIME_WAIT: nothing",
    reads: [
      { at: 0, passiveOpens: 7, pod: [] },
      { at: 1000, passiveOpens: 8, pod: [], host: [[`${NODE}:51000`, `${POD}:8080`, TIME_WAIT, 59_800]] },
      { at: 2000, passiveOpens: 8, pod: [], host: [[`${NODE}:51000`, `${POD}:8080`, TIME_WAIT, 58_800]] },
    ],
    expect: [{ active: 0, last: 1 }, { active: 0, last: 1, unexplained: 0 }, { active: 0, last: 1 }],
  },
  {
    name: 'an HTTP probe the app closed first: TIME_WAIT in the Pod toward a node address explains it, counts for nothing',
    reads: [
      { at: 0, passiveOpens: 7, pod: [] },
      { at: 1000, passiveOpens: 8, pod: [[`${POD}:8080`, `${NODE}:51000`, TIME_WAIT, 59_800]] },
    ],
    expect: [{ active: 0, last: 1 }, { active: 0, last: 1, unexplained: 0 }],
  },
  {
    name: 'connections from the node, from the Pod itself or over loopback never count, open or not',
    reads: [
      { at: 0, passiveOpens: 0, pod: [] },
      {
        at: 1000,
        passiveOpens: 3,
        currEstab: 6,
        pod: [
          [`${POD}:8080`, `192.168.1.10:4000`, ESTABLISHED],
          [`127.0.0.1:8080`, `127.0.0.1:4001`, ESTABLISHED],
          [`127.0.0.1:4001`, `127.0.0.1:8080`, ESTABLISHED],
          [`${POD}:8080`, `${POD}:4002`, ESTABLISHED],
          [`${POD}:4002`, `${POD}:8080`, ESTABLISHED],
        ],
      },
    ],
    expect: [{ active: 0, last: 1 }, { active: 0, last: 1, unexplained: 0 }],
  },
  {
    name: "the app's outbound connections: not passive, not counted, not explaining anything",
    reads: [
      { at: 0, passiveOpens: 0, pod: [] },
      { at: 1000, passiveOpens: 0, currEstab: 1, pod: [[`${POD}:40000`, `${DB}:5432`, ESTABLISHED], [`${POD}:40001`, `${DB}:8080`, TIME_WAIT, 59_000]] },
    ],
    expect: [{ active: 0, last: 1 }, { active: 0, last: 1, unexplained: 0 }],
  },
  {
    name: 'accepted after the counters were read: explained now (dip), counted next time (back): nothing',
    reads: [
      { at: 0, passiveOpens: 0, pod: [] },
      { at: 1000, passiveOpens: 0, currEstab: 1, pod: [], host: [[`${NODE}:51000`, `${POD}:8080`, ESTABLISHED]] },
      { at: 2000, passiveOpens: 1, pod: [], host: [[`${NODE}:51000`, `${POD}:8080`, TIME_WAIT, 59_500]] },
    ],
    expect: [{ active: 0, last: 1 }, { active: 0, last: 1, unexplained: 0 }, { active: 0, last: 1, unexplained: 0 }],
  },
  {
    name: 'a TIME_WAIT older than the last read belongs to a connection counted then',
    reads: [
      { at: 0, passiveOpens: 5, pod: [] },
      { at: 5000, passiveOpens: 6, pod: [[`${POD}:8080`, `${PEER}:4000`, TIME_WAIT, 54_000]], host: [] },
    ],
    // Ended at 5001 − 6000, before the previous read: it does not explain the new count, which is activity
    // at the end of its window.
    expect: [{ active: 0, last: 1 }, { active: 0, last: 5001, unexplained: 1 }],
  },
  {
    // Measured on a quiet machine: a request from the node that the app closed first, made just after a
    // read, left a TIME_WAIT whose start, from its timer, came out before that read.
    name: 'a TIME_WAIT that seems to start a little before the last read is still this window\'s',
    reads: [
      { at: 0, passiveOpens: 5, pod: [] },
      { at: 1000, passiveOpens: 6, pod: [[`${POD}:8080`, `${NODE}:51000`, TIME_WAIT, 58_979]], host: [] },
    ],
    // Ended at 1001 − 1021 = −20: a connection of this window all the same, from the node, so no activity.
    expect: [{ active: 0, last: 1 }, { active: 0, last: 1, unexplained: 0 }],
  },
  {
    name: 'a request among probes is found; the probes around it are not',
    reads: [
      { at: 0, passiveOpens: 10, pod: [] },
      { at: 1000, passiveOpens: 12, pod: [], host: [[`${NODE}:51000`, `${POD}:8080`, TIME_WAIT, 59_800]] },
      { at: 2000, passiveOpens: 13, pod: [], host: [[`${NODE}:51000`, `${POD}:8080`, TIME_WAIT, 58_800], [`${NODE}:51001`, `${POD}:8080`, TIME_WAIT, 59_900]] },
    ],
    expect: [{ active: 0, last: 1 }, { active: 0, last: 1001, unexplained: 1 }, { active: 0, last: 1001, unexplained: 0 }],
  },
  {
    name: 'a connection explained twice (seen again after it vanished) is absorbed at the next clean read, never masking the one after',
    reads: [
      { at: 0, passiveOpens: 0, pod: [] },
      { at: 1000, passiveOpens: 1, currEstab: 1, pod: [[`${POD}:8080`, `${NODE}:51000`, ESTABLISHED]] },
      { at: 2000, passiveOpens: 1, pod: [] },
      { at: 3000, passiveOpens: 1, currEstab: 1, pod: [[`${POD}:8080`, `${NODE}:51000`, ESTABLISHED]] }, // the same pair again: explained twice
      { at: 4000, passiveOpens: 1, pod: [] }, // clean: nothing that could belong to the next read
      { at: 5000, passiveOpens: 2, pod: [], host: [] }, // a real request that left nothing
    ],
    expect: [
      { active: 0, last: 1 },
      { active: 0, last: 1 },
      { active: 0, last: 1 },
      { active: 0, last: 1 },
      { active: 0, last: 1 },
      { active: 0, last: 5001, unexplained: 1 },
    ],
  },
  {
    name: 'Pod table not read (nothing new in it): a probe is explained by the node\'s table alone',
    reads: [
      { at: 0, passiveOpens: 7, pod: [] },
      { at: 1000, passiveOpens: 8, pod: 'unchanged', host: [[`${NODE}:51000`, `${POD}:8080`, TIME_WAIT, 59_800]] },
      { at: 2000, passiveOpens: 9, pod: 'unchanged', host: [[`${NODE}:51000`, `${POD}:8080`, TIME_WAIT, 58_800], [`${NODE}:51002`, `${POD}:8080`, TIME_WAIT, 59_700]] },
    ],
    expect: [{ active: 0, last: 1 }, { active: 0, last: 1, unexplained: 0 }, { active: 0, last: 1, unexplained: 0 }],
  },
  {
    name: 'Pod table not read: a connection nobody explains is activity; an open one stays open',
    reads: [
      { at: 0, passiveOpens: 7, currEstab: 1, pod: [[`${POD}:8080`, `${PEER}:4000`, ESTABLISHED]] },
      { at: 1000, passiveOpens: 8, currEstab: 1, pod: 'unchanged', host: [] },
      { at: 2000, passiveOpens: 8, currEstab: 0, pod: [] },
    ],
    expect: [{ active: 1, last: 1 }, { active: 1, last: 1001, unexplained: 1 }, { active: 0, last: 2001 }],
  },
  {
    name: 'a connection seen in the Pod at one read and only in the node\'s table later is not explained twice',
    reads: [
      { at: 0, passiveOpens: 0, pod: [] },
      { at: 1000, passiveOpens: 1, currEstab: 1, pod: [[`${POD}:8080`, `${NODE}:51000`, ESTABLISHED]] },
      { at: 2000, passiveOpens: 2, currEstab: 0, pod: [], host: [[`${NODE}:51000`, `${POD}:8080`, TIME_WAIT, 59_500]] },
    ],
    // The second accepted connection left nothing anywhere: activity.
    expect: [{ active: 0, last: 1 }, { active: 0, last: 1, unexplained: 0 }, { active: 0, last: 2001, unexplained: 1 }],
  },
  {
    name: 'a loopback pair in TIME_WAIT reused by a new connection (tcp_tw_reuse) is a new connection, explained again',
    reads: [
      { at: 0, passiveOpens: 0, pod: [] },
      { at: 1000, passiveOpens: 1, pod: [['127.0.0.1:8080', '127.0.0.1:40000', TIME_WAIT, 59_900]] },
      { at: 3000, passiveOpens: 2, currEstab: 2, pod: [['127.0.0.1:8080', '127.0.0.1:40000', ESTABLISHED, undefined, 77], ['127.0.0.1:40000', '127.0.0.1:8080', ESTABLISHED, undefined, 78]] },
      { at: 4000, passiveOpens: 3, pod: [['127.0.0.1:8080', '127.0.0.1:40000', TIME_WAIT, 59_900]] },
    ],
    expect: [{ active: 0, last: 1 }, { active: 0, last: 1, unexplained: 0 }, { active: 0, last: 1, unexplained: 0 }, { active: 0, last: 1, unexplained: 0 }],
  },
  {
    name: 'the same pair with another socket (another inode) is another connection',
    reads: [
      { at: 0, passiveOpens: 0, pod: [] },
      { at: 1000, passiveOpens: 1, currEstab: 1, pod: [[`${POD}:8080`, `${NODE}:51000`, ESTABLISHED, undefined, 10]] },
      { at: 2000, passiveOpens: 2, currEstab: 1, pod: [[`${POD}:8080`, `${NODE}:51000`, ESTABLISHED, undefined, 11]] },
    ],
    expect: [{ active: 0, last: 1 }, { active: 0, last: 1, unexplained: 0 }, { active: 0, last: 1, unexplained: 0 }],
  },
  {
    name: 'connections left pending are settled later, together; what the node explains is matched oldest first, the rest is activity (late, never early)',
    reads: [
      { at: 0, passiveOpens: 0, pod: [] },
      { at: 1000, passiveOpens: 1, pod: 'unchanged' }, // a probe (ends ~900)
      { at: 2000, passiveOpens: 2, pod: 'unchanged' }, // a user's request (nothing on the node)
      { at: 3000, passiveOpens: 3, pod: 'unchanged', host: [[`${NODE}:51000`, `${POD}:8080`, TIME_WAIT, 57_900], [`${NODE}:51001`, `${POD}:8080`, TIME_WAIT, 59_900]] },
    ],
    // The probes ended at 3002 − 2100 = 902 and 3002 − 100 = 2902; matched oldest first they settle the
    // first two windows, and the one connection nobody explains is placed at the end of the last, its
    // Pod table read: 3001 (it happened in the second window, so this is late by a window, never early).
    expect: [{ active: 0, last: 1 }, { active: 0, last: 1 }, { active: 0, last: 1 }, { active: 0, last: 3001, unexplained: 1 }],
  },
  {
    name: 'a counter that went backwards is another namespace: start again',
    reads: [
      { at: 0, passiveOpens: 50, pod: [] },
      { at: 1000, passiveOpens: 3, pod: [] },
    ],
    expect: [{ active: 0, last: 1 }, { active: 0, last: 1001, unexplained: 0 }],
  },
  {
    // Measured under load: the counters count a probe still open, the Pod's table (read 150 ms later)
    // no longer lists it, and the node's TIME_WAIT for it starts after the counters were read.
    name: 'a probe that ends while the tables are read, after the counters counted it, is still the node\'s',
    reads: [
      { at: 0, passiveOpens: 0, pod: [] },
      { at: 1000, passiveOpens: 1, tablesAfterMs: 150, pod: [], host: [[`${NODE}:51000`, `${POD}:8080`, TIME_WAIT, 59_950]] },
    ],
    expect: [{ active: 0, last: 1 }, { active: 0, last: 1, unexplained: 0 }],
  },
  {
    // Measured under load: the node's table took 150 ms to read, and a probe counted by the last read
    // seemed to end 112 ms after it, since an entry's time left is read mid-way but the read's end is the
    // only instant known. A routine settle takes it as the probe it may be.
    name: "a probe whose end, read from a slow node table, may be the last window's is the node's",
    reads: [
      { at: 0, passiveOpens: 0, pod: [] },
      { at: 1000, passiveOpens: 1, pod: 'unchanged', hostReadMs: 150, host: [[`${NODE}:51000`, `${POD}:8080`, TIME_WAIT, 59_961]] },
    ],
    expect: [{ active: 0, last: 1 }, { active: 0, last: 1, unexplained: 0 }],
  },
  {
    // …but the settle before a sweep, which has no later read to correct it, counts it (late, never early).
    name: 'the settle before a sweep counts as activity an end that may be a later read\'s',
    reads: [
      { at: 0, passiveOpens: 0, pod: [] },
      { at: 1000, passiveOpens: 1, pod: 'unchanged', hostReadMs: 150, final: true, host: [[`${NODE}:51000`, `${POD}:8080`, TIME_WAIT, 59_961]] },
    ],
    expect: [{ active: 0, last: 1 }, { active: 0, last: 1001, unexplained: 1 }],
  },
  {
    name: "the node's connections still opening (SYN_SENT) explain nothing",
    reads: [
      { at: 0, passiveOpens: 0, pod: [] },
      { at: 1000, passiveOpens: 1, pod: [], host: [[`${NODE}:51000`, `${POD}:8080`, SYN_SENT]] },
    ],
    expect: [{ active: 0, last: 1 }, { active: 0, last: 1001, unexplained: 1 }],
  },
  {
    name: 'LAST_ACK of a counted peer is a close: activity when first seen',
    reads: [
      { at: 0, passiveOpens: 0, pod: [[`${POD}:8080`, `${PEER}:4000`, ESTABLISHED]] },
      { at: 1000, passiveOpens: 0, pod: [[`${POD}:8080`, `${PEER}:4000`, LAST_ACK]] },
    ],
    expect: [{ active: 1, last: 1 }, { active: 0, last: 1001 }],
  },
];

describe('reads in order', () => {
  test.each(cases)('$name', ({ reads, expect: want }) => {
    const { history } = run(reads);
    expect(history.map((h, i) => (want[i]?.unexplained === undefined ? { active: h.active, last: h.last } : { active: h.active, last: h.last, unexplained: h.unexplained }))).toEqual(want);
  });
});

describe('reads of the counters alone', () => {
  const base = run([{ at: 0, passiveOpens: 4, currEstab: 1, pod: [[`${POD}:8080`, `${PEER}:4000`, ESTABLISHED]] }]).state;
  test('unchanged counters: nothing to read; an open connection stays open (activity now)', () => {
    expect(countersMoved(base, { passiveOpens: 4, currEstab: 1 })).toBe(false);
    const next = fromCounters(base, { passiveOpens: 4, currEstab: 1 }, T0 + 5000);
    expect(next.activeConnections).toBe(1);
    expect(next.lastActivityAt).toBe(T0 + 5000);
  });
  test('idle stays idle: the last activity does not move', () => {
    const idle = run([{ at: 0, passiveOpens: 4, pod: [] }]).state;
    expect(fromCounters(idle, { passiveOpens: 4, currEstab: 0 }, T0 + 5000).lastActivityAt).toBe(T0 + 1);
  });
  test.each([
    ['an accepted connection', { passiveOpens: 5, currEstab: 1 }],
    ['one opened or closed', { passiveOpens: 4, currEstab: 0 }],
  ])('%s: the tables must be read', (_name, counters) => {
    expect(countersMoved(base, counters)).toBe(true);
  });
});
