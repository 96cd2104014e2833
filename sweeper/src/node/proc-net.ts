// What the kernel prints about a network namespace under /proc/<pid>/net, parsed. Pure: text in,
// values out, so every format detail is a row in a table test (sweeper/test/node/proc-net.test.ts).
//
// Facts these parsers rely on, checked on this machine's kernel (see sweeper/README.md, "Node mode"):
// - tcp / tcp6: one header line, then one line per socket, whitespace-separated:
//   `sl local rem st tx:rx tr:when retrnsmt uid timeout inode …`. Addresses are hex words in the host's
//   byte order (`0200D20A:1F90` is 10.210.0.2:8080 on a little-endian machine); tcp6 holds four such
//   words. `tr` is the active timer (3 for a TIME_WAIT socket) and `when` what is left of it in clock
//   ticks (USER_HZ, 100 per second). Sockets in TIME_WAIT print inode 0.
// - snmp: `Tcp:` header line then `Tcp:` values line; PassiveOpens counts every connection this
//   namespace accepted (IPv4 and IPv6 alike), whatever the port, since the namespace was made.
// - fib_trie: under the `Local:` table, an address line `|-- 10.0.0.5` followed by `/32 host LOCAL`
//   is an address of this namespace. if_inet6: one local IPv6 address per line, 32 hex digits first.
// - cgroup: `hierarchy:controllers:path` lines; a Pod's processes carry `pod<uid>` (cgroupfs driver)
//   or `pod<uid with _ for ->.slice` (systemd driver) in their path.

import os from 'node:os';

// TCP states as the kernel numbers them (include/net/tcp_states.h).
export const TcpState = {
  ESTABLISHED: 0x01,
  SYN_SENT: 0x02,
  SYN_RECV: 0x03,
  FIN_WAIT1: 0x04,
  FIN_WAIT2: 0x05,
  TIME_WAIT: 0x06,
  CLOSE: 0x07,
  CLOSE_WAIT: 0x08,
  LAST_ACK: 0x09,
  LISTEN: 0x0a,
  CLOSING: 0x0b,
  NEW_SYN_RECV: 0x0c,
} as const;

// The timer type a TIME_WAIT socket prints in the `tr` column.
export const TIMER_TIME_WAIT = 3;
// USER_HZ: /proc prints timers in clock ticks of 1/100 s on every Linux architecture.
export const MS_PER_CLOCK_TICK = 10;
// TCP_TIMEWAIT_LEN: fixed at 60 s in the kernel (not a sysctl; tcp_fin_timeout is FIN_WAIT2's).
export const TIME_WAIT_MS = 60_000;

export interface Endpoint {
  ip: string; // canonical text: dotted quad for IPv4 and IPv4-mapped IPv6, 8 lowercase groups otherwise
  port: number;
}

export interface TcpEntry {
  local: Endpoint;
  remote: Endpoint;
  state: number;
  timer: number; // the `tr` column
  timerLeftMs: number; // what is left of that timer
  inode: number;
}

const littleEndian = os.endianness() === 'LE';

function hexByte(text: string, at: number): number {
  return parseInt(text.slice(at, at + 2), 16);
}

// One 32-bit word as printed by the kernel (host byte order) → its four bytes in network order.
function wordBytes(word: string): [number, number, number, number] {
  const b: [number, number, number, number] = [hexByte(word, 0), hexByte(word, 2), hexByte(word, 4), hexByte(word, 6)];
  return littleEndian ? [b[3], b[2], b[1], b[0]] : b;
}

export function ipFromKernelHex(hex: string): string {
  if (hex.length === 8) return wordBytes(hex).join('.');
  if (hex.length !== 32) throw new Error(`not a kernel address: ${hex}`);
  const bytes: number[] = [];
  for (let i = 0; i < 32; i += 8) bytes.push(...wordBytes(hex.slice(i, i + 8)));
  return ipv6FromBytes(bytes);
}

// The inverse: how the tcp (8 hex digits) and tcp6 (32) tables spell an address, IPv4 ones also as a
// dual-stack socket's peer (::ffff:a.b.c.d), so table lines can be picked without parsing them.
export function kernelHexOf(ip: string): string[] {
  const word = (bytes: number[]) => (littleEndian ? [...bytes].reverse() : bytes).map((b) => b.toString(16).padStart(2, '0')).join('').toUpperCase();
  if (!ip.includes(':')) {
    const b = ip.split('.').map(Number);
    return [word(b), `0000000000000000FFFF0000${word(b)}`.toUpperCase()];
  }
  const groups = ip.split(':').map((g) => parseInt(g, 16));
  const bytes = groups.flatMap((g) => [g >> 8, g & 0xff]);
  let hex = '';
  for (let i = 0; i < 16; i += 4) hex += word(bytes.slice(i, i + 4));
  return [hex];
}

// The lines of a tcp or tcp6 table whose remote address is one of `remoteHex` (kernelHexOf), parsed;
// the others are skipped without being split, which matters for a node with thousands of sockets. Fed
// the table in pieces as it is read: a node's table can hold tens of thousands of lines (20,000 on this
// shared VM, 3 MB), which as one string V8 keeps in its large-object space until a full collection;
// pieces die young.
export class TcpTableScanner {
  readonly #entries: TcpEntry[] = [];
  readonly #remoteHex: ReadonlySet<string>;
  #rest = '';
  #header = true;

  constructor(remoteHex: ReadonlySet<string>) {
    this.#remoteHex = remoteHex;
  }

  push(piece: string): void {
    const text = this.#rest + piece;
    const last = text.lastIndexOf('\n');
    this.#rest = text.slice(last + 1);
    if (last >= 0) this.#scan(text.slice(0, last + 1));
  }

  end(): TcpEntry[] {
    if (this.#rest !== '') this.#scan(`${this.#rest}\n`);
    this.#rest = '';
    return this.#entries;
  }

  // Whole lines only.
  #scan(lines: string): void {
    let from = 0;
    if (this.#header) {
      from = lines.indexOf('\n') + 1;
      this.#header = false;
    }
    parseTcpLinesFor(lines, from, this.#remoteHex, this.#entries);
  }
}

// Adds them to `entries`.
function parseTcpLinesFor(text: string, from: number, remoteHex: ReadonlySet<string>, entries: TcpEntry[]): void {
  let start = from;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    // `   12: LOCAL:PORT REMOTE:PORT …`: the remote address starts after the local field's space.
    const colon = text.indexOf(':', start);
    let i = colon + 1;
    while (text.charCodeAt(i) === 32) i++;
    const localEnd = text.indexOf(' ', i);
    let r = localEnd;
    while (text.charCodeAt(r) === 32) r++;
    const remoteEnd = text.indexOf(':', r);
    if (colon > 0 && colon < end && remoteEnd > 0 && remoteEnd < end && remoteHex.has(text.slice(r, remoteEnd))) {
      const entry = parseTcpLine(text.slice(start, end));
      if (entry) entries.push(entry);
    }
    start = end + 1;
  }
}

// if_inet6 prints addresses in network byte order, unlike tcp6.
export function ipFromNetworkHex(hex: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < hex.length; i += 2) bytes.push(hexByte(hex, i));
  return bytes.length === 4 ? bytes.join('.') : ipv6FromBytes(bytes);
}

function ipv6FromBytes(bytes: number[]): string {
  // ::ffff:a.b.c.d is an IPv4 peer of a dual-stack socket: the same address as in the tcp table.
  const mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  if (mapped) return bytes.slice(12).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return groups.join(':');
}

// The same canonical text for an address written by a person or by Kubernetes (status.podIP).
export function canonicalIp(text: string): string {
  const t = text.trim().toLowerCase();
  if (!t.includes(':')) return t;
  const v4Tail = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(t);
  let head = t;
  let tail: string[] = [];
  if (v4Tail) {
    const q = v4Tail[2]!.split('.').map(Number);
    head = v4Tail[1]!.endsWith('::') ? v4Tail[1]! : v4Tail[1]!.slice(0, -1);
    tail = [((q[0]! << 8) | q[1]!).toString(16), ((q[2]! << 8) | q[3]!).toString(16)];
  }
  const [left, right] = head.includes('::') ? head.split('::') : [head, undefined];
  const l = left ? left.split(':').filter((g) => g !== '') : [];
  const r = right !== undefined && right !== '' ? right.split(':') : [];
  const fill = 8 - l.length - r.length - tail.length;
  const groups = [...l, ...(right !== undefined ? Array(Math.max(0, fill)).fill('0') : []), ...r, ...tail].map((g) => parseInt(g, 16));
  if (groups.length !== 8 || groups.some((g) => !Number.isInteger(g) || g < 0 || g > 0xffff)) throw new Error(`not an IP address: ${text}`);
  const bytes = groups.flatMap((g) => [g >> 8, g & 0xff]);
  return ipv6FromBytes(bytes);
}

export function isLoopback(ip: string): boolean {
  return ip.startsWith('127.') || ip === '0:0:0:0:0:0:0:1';
}

export function isWildcard(ip: string): boolean {
  return ip === '0.0.0.0' || ip === '0:0:0:0:0:0:0:0';
}

function endpoint(field: string): Endpoint {
  const colon = field.indexOf(':');
  return { ip: ipFromKernelHex(field.slice(0, colon)), port: parseInt(field.slice(colon + 1), 16) };
}

// Lines that do not look like sockets (the header, a truncated last line) are skipped, never guessed.
export function parseTcpTable(text: string): TcpEntry[] {
  const entries: TcpEntry[] = [];
  let start = text.indexOf('\n') + 1; // skip the header
  while (start > 0 && start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const entry = parseTcpLine(text.slice(start, end));
    if (entry) entries.push(entry);
    start = end + 1;
  }
  return entries;
}

export function parseTcpLine(line: string): TcpEntry | undefined {
  const f = line.trim().split(/\s+/);
  if (f.length < 10 || !f[0]!.endsWith(':')) return undefined;
  const [timerType, timerWhen] = f[5]!.split(':');
  const state = parseInt(f[3]!, 16);
  const inode = Number(f[9]);
  if (!Number.isInteger(state) || timerWhen === undefined || !Number.isFinite(inode)) return undefined;
  try {
    return {
      local: endpoint(f[1]!),
      remote: endpoint(f[2]!),
      state,
      timer: parseInt(timerType!, 16),
      timerLeftMs: parseInt(timerWhen, 16) * MS_PER_CLOCK_TICK,
      inode,
    };
  } catch {
    return undefined;
  }
}

export interface TcpCounters {
  activeOpens: number;
  passiveOpens: number;
  currEstab: number; // sockets in ESTABLISHED or CLOSE_WAIT now
}

export function parseTcpCounters(snmp: string): TcpCounters {
  const lines = snmp.split('\n').filter((l) => l.startsWith('Tcp:'));
  if (lines.length < 2) throw new Error('no Tcp: lines in snmp');
  const names = lines[0]!.trim().split(/\s+/);
  const values = lines[1]!.trim().split(/\s+/);
  const get = (name: string): number => {
    const i = names.indexOf(name);
    const v = i < 0 ? NaN : Number(values[i]);
    if (!Number.isFinite(v)) throw new Error(`snmp Tcp: has no ${name}`);
    return v;
  };
  return { activeOpens: get('ActiveOpens'), passiveOpens: get('PassiveOpens'), currEstab: get('CurrEstab') };
}

export interface SocketCounts {
  inUse: number; // sockets of this family in use (listening or connected; TIME_WAIT not included)
  timeWait: number; // TIME_WAIT (and FIN_WAIT2 orphan) sockets of the namespace, both families
}

// `TCP: inuse N orphan N tw N …` (sockstat) or `TCP6: inuse N` (sockstat6, which has no tw), from the
// first `length` bytes of `bytes`.
export function parseSockstat(bytes: Buffer, length: number, family: 'TCP' | 'TCP6'): SocketCounts {
  const inUse = sockstatFigure(bytes, length, family, 'inuse');
  if (inUse < 0) throw new Error(`no ${family}: line in sockstat`);
  const timeWait = sockstatFigure(bytes, length, family, 'tw');
  return { inUse, timeWait: Math.max(0, timeWait) };
}

const SOCKSTAT_LINE = { TCP: Buffer.from('TCP: inuse '), TCP6: Buffer.from('TCP6: inuse ') };
const SOCKSTAT_TIME_WAIT = Buffer.from(' tw ');
const NEWLINE = 0x0a;

// One figure of that line, from the first `length` bytes of `bytes` (any after them are left from an
// earlier, longer read), without allocating anything: the observer looks at a Pod with a connection open
// several times a second. (Its heap with 200 such Pods was no smaller for it than when looks were parsed
// through strings: 12.5 against 12.7 MiB used, in two runs of bench/density/observer-alone.ts. The ~4 MiB
// it stood above the heap of reads every 250 ms was, by that bench's later heap figures, V8 letting the
// old generation grow 8 MB past what is live before collecting it: images/node-images.ts,
// --memory-saver-mode.) -1 when it is not there.
export function sockstatFigure(bytes: Buffer, length: number, family: 'TCP' | 'TCP6', figure: 'inuse' | 'tw'): number {
  const start = SOCKSTAT_LINE[family];
  let line = bytes.indexOf(start);
  while (line > 0 && bytes[line - 1] !== NEWLINE) line = bytes.indexOf(start, line + 1);
  if (line < 0 || line + start.length >= length) return -1;
  let end = bytes.indexOf(NEWLINE, line);
  if (end < 0 || end > length) end = length;
  if (figure === 'inuse') return digitsAt(bytes, line + start.length, end);
  const tw = bytes.indexOf(SOCKSTAT_TIME_WAIT, line);
  return tw < 0 || tw >= end ? -1 : digitsAt(bytes, tw + SOCKSTAT_TIME_WAIT.length, end);
}

function digitsAt(bytes: Buffer, from: number, end: number): number {
  let n = 0;
  let i = from;
  for (; i < end; i++) {
    const c = bytes[i]!;
    if (c < 0x30 || c > 0x39) break;
    n = n * 10 + (c - 0x30);
  }
  return i > from ? n : -1;
}

// TcpExt's TIME_WAIT counters (netstat): TW, TWKilled, TWRecycled added up. Kernels differ in when
// they count TW (this one at creation, older ones when the timer expires), so this sum is used only
// to tell "maybe a new TIME_WAIT" from "certainly none": together with sockstat's current count, any
// TIME_WAIT created since the last read moves one of them, on either kind of kernel.
export function parseTimeWaitEvents(netstat: string): number {
  const lines = netstat.split('\n').filter((l) => l.startsWith('TcpExt:'));
  if (lines.length < 2) throw new Error('no TcpExt: lines in netstat');
  const names = lines[0]!.trim().split(/\s+/);
  const values = lines[1]!.trim().split(/\s+/);
  let sum = 0;
  for (const name of ['TW', 'TWKilled', 'TWRecycled']) {
    const v = Number(values[names.indexOf(name)]);
    if (names.indexOf(name) < 0 || !Number.isFinite(v)) throw new Error(`netstat TcpExt: has no ${name}`);
    sum += v;
  }
  return sum;
}

// The addresses a namespace owns: LOCAL entries of fib_trie's Local table, and every if_inet6 line.
export function parseLocalAddresses(fibTrie: string, ifInet6 = ''): Set<string> {
  const out = new Set<string>();
  let last: string | undefined;
  for (const raw of fibTrie.split('\n')) {
    const line = raw.trim();
    const leaf = /^\|--\s+(\d+\.\d+\.\d+\.\d+)$/.exec(line);
    if (leaf) {
      last = leaf[1];
      continue;
    }
    if (last !== undefined && /^\/32 host LOCAL$/.test(line)) out.add(last);
  }
  for (const raw of ifInet6.split('\n')) {
    const hex = raw.trim().split(/\s+/)[0];
    if (hex && /^[0-9a-f]{32}$/i.test(hex)) out.add(ipFromNetworkHex(hex.toLowerCase()));
  }
  return out;
}

// The Pod UID in a process's cgroup file, in either driver's spelling, or undefined for a process
// outside any Pod (the host's own, or one of a cgroup layout we do not know).
//   cgroupfs: …/kubepods/besteffort/pod0f1e…-…/<container>
//   systemd:  …/kubepods-besteffort-pod0f1e…_….slice/cri-containerd-<container>.scope
// Under a cgroup namespace the path may start with /.. segments; only the pod segment matters.
const POD_SEGMENT = /(?:^|[/-])pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?:\.slice)?(?=\/|$)/;

export function podUidOfCgroup(text: string): string | undefined {
  for (const line of text.split('\n')) {
    const path = line.slice(line.indexOf(':', line.indexOf(':') + 1) + 1);
    const m = POD_SEGMENT.exec(path.trim());
    if (m) return m[1]!.replaceAll('_', '-');
  }
  return undefined;
}
