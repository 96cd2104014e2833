// The node observer's only contact with the kernel: reads under /proc (the host's, with hostPID). Each
// function reads one thing for one process and throws what the filesystem threw, so the caller can
// tell a process that is gone (ENOENT, ESRCH) from anything else.

import { closeSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import {
  parseLocalAddresses, parseSockstat, parseTcpCounters, parseTcpTable, parseTimeWaitEvents, podUidOfCgroup, sockstatFigure, TcpTableScanner,
  type TcpCounters, type TcpEntry,
} from './proc-net.ts';

export const DEFAULT_PROC_ROOT = '/proc';

// UTF-8, though every file read here is ASCII: Node reads a UTF-8 file in one native call straight into
// a string, while any other encoding goes through JavaScript, which sizes a /proc file (it reports 0
// bytes) by reading it into fresh 8 KB Buffers and joining them: at 200 backends with a connection open
// to each (~730 reads a second), ~12 MB/s of garbage outside V8's heap. bench/density/observer-alone.ts,
// 200 backends, three interleaved rounds, UTF-8 ÷ latin1 per round: RSS 0.95 (0.94–0.95) idle, 0.97
// (0.92–0.97) probed, 0.94 (0.92–0.96) all active; CPU 0.69 (0.61–0.89), 0.70 (0.62–0.90), 0.80 (0.75–0.98).
const read = (path: string): string => readFileSync(path, 'utf8');

// One buffer for every read parsed from its bytes (socket counts, and the node's table in pieces): reads
// are synchronous, and a sockstat is a few hundred bytes.
const scratch = Buffer.alloc(32 * 1024);

// Bytes read into `scratch` from the start of an open file: their count.
const readFrom = (fd: number): number => readSync(fd, scratch, 0, scratch.length, 0);

function readBytes(path: string): number {
  const fd = openSync(path, 'r');
  try {
    return readFrom(fd);
  } finally {
    closeSync(fd);
  }
}

// Every Pod UID in `wanted` that has a process here, mapped to its lowest PID (normally the Pod's
// sandbox, which lives as long as the Pod). One pass over /proc: about 10 µs per process.
export function locatePods(root: string, wanted: ReadonlySet<string>): Map<string, number> {
  const found = new Map<string, number>();
  if (wanted.size === 0) return found;
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return found;
  }
  const pids = names.filter((n) => /^\d+$/.test(n)).map(Number).sort((a, b) => a - b);
  for (const pid of pids) {
    const uid = podUidOf(root, pid);
    if (uid !== undefined && wanted.has(uid) && !found.has(uid)) {
      found.set(uid, pid);
      if (found.size === wanted.size) break;
    }
  }
  return found;
}

export function podUidOf(root: string, pid: number): string | undefined {
  try {
    return podUidOfCgroup(read(`${root}/${pid}/cgroup`));
  } catch {
    return undefined; // gone meanwhile, or not readable: not a Pod process we can use
  }
}

export function readCounters(root: string, pid: number): TcpCounters {
  return parseTcpCounters(read(`${root}/${pid}/net/snmp`));
}

export interface Sockets {
  v4: number; // IPv4 sockets in use
  v6: number; // IPv6 sockets in use
  timeWait: number; // TIME_WAIT sockets now
  timeWaitEvents: number; // TcpExt TW + TWKilled + TWRecycled
}

export function readSockets(root: string, pid: number): Sockets {
  let v6 = 0;
  try {
    v6 = parseSockstat(scratch, readBytes(`${root}/${pid}/net/sockstat6`), 'TCP6').inUse;
  } catch (err) {
    // A kernel without IPv6 has no sockstat6; a vanished process has neither file, which the v4 read
    // below reports.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const v4 = parseSockstat(scratch, readBytes(`${root}/${pid}/net/sockstat`), 'TCP');
  return { v4: v4.inUse, v6, timeWait: v4.timeWait, timeWaitEvents: parseTimeWaitEvents(read(`${root}/${pid}/net/netstat`)) };
}

// A Pod's socket counts as a look sees them: only the per-namespace figures (sockstat's orphan, alloc
// and mem count the whole node). NaN: not looked at yet.
export interface SocketCountsSeen {
  v4: number; // IPv4 TCP sockets in use
  v6: number; // IPv6 TCP sockets in use
  timeWait: number; // TIME_WAITs, both families
}

// A Pod's socket counts (its namespace's sockstat and sockstat6) through files held open and re-read
// from their start. Re-reading an open /proc file skips the path walk, the permission checks and the
// open/close a fresh read pays: about 2 µs against 8 µs for sockstat, and 13–20 µs for `snmp` (one
// interleaved loop of 20,000 reads each on this VM). An open file keeps its network namespace alive, so
// the observer closes it as soon as the Pod's process is gone.
export class HeldSocketCounts {
  readonly #fds: number[];

  private constructor(fds: number[]) {
    this.#fds = fds;
  }

  static open(root: string, pid: number): HeldSocketCounts {
    const fds = [openSync(`${root}/${pid}/net/sockstat`, 'r')];
    try {
      fds.push(openSync(`${root}/${pid}/net/sockstat6`, 'r'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        closeSync(fds[0]!);
        throw err;
      }
    }
    return new HeldSocketCounts(fds);
  }

  // Reads the counts into `seen`; whether any of them changed (always, when `seen` held NaN).
  update(seen: SocketCountsSeen): boolean {
    let length = readFrom(this.#fds[0]!);
    const v4 = sockstatFigure(scratch, length, 'TCP', 'inuse');
    const timeWait = sockstatFigure(scratch, length, 'TCP', 'tw');
    if (v4 < 0 || timeWait < 0) throw new Error('no "TCP: inuse N … tw N" line in sockstat');
    let v6 = 0;
    if (this.#fds.length > 1) {
      length = readFrom(this.#fds[1]!);
      v6 = sockstatFigure(scratch, length, 'TCP6', 'inuse');
      if (v6 < 0) throw new Error('no "TCP6: inuse N" line in sockstat6');
    }
    const changed = v4 !== seen.v4 || v6 !== seen.v6 || timeWait !== seen.timeWait;
    seen.v4 = v4;
    seen.v6 = v6;
    seen.timeWait = timeWait;
    return changed;
  }

  close(): void {
    for (const fd of this.#fds.splice(0)) closeSync(fd);
  }
}

export function readTable(root: string, pid: number, family: 'v4' | 'v6'): TcpEntry[] {
  try {
    return parseTcpTable(read(`${root}/${pid}/net/${family === 'v4' ? 'tcp' : 'tcp6'}`));
  } catch (err) {
    if (family === 'v6' && (err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

// The entries of a process's namespace (the node's, for PID 1) whose remote address is one of
// `remoteHex`, from both tables.
export function readTablesFor(root: string, pid: number, remoteHex: ReadonlySet<string>): TcpEntry[] {
  const out = readTableInPieces(`${root}/${pid}/net/tcp`, remoteHex);
  try {
    out.push(...readTableInPieces(`${root}/${pid}/net/tcp6`, remoteHex));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return out;
}

// In pieces of `scratch`'s 32 KB: strings of a regular size, which V8 frees young (TcpTableScanner says
// why). Read in turn, not from the start: each read goes on where the last stopped.
function readTableInPieces(path: string, remoteHex: ReadonlySet<string>): TcpEntry[] {
  const scanner = new TcpTableScanner(remoteHex);
  const fd = openSync(path, 'r');
  try {
    for (let n = readSync(fd, scratch); n > 0; n = readSync(fd, scratch)) scanner.push(scratch.toString('latin1', 0, n));
  } finally {
    closeSync(fd);
  }
  return scanner.end();
}

export function readLocalAddresses(root: string, pid: number): Set<string> {
  let inet6 = '';
  try {
    inet6 = read(`${root}/${pid}/net/if_inet6`);
  } catch {
    // no IPv6 in this kernel
  }
  return parseLocalAddresses(read(`${root}/${pid}/net/fib_trie`), inet6);
}

export function isGone(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ESRCH';
}

// Whether this process sees the node's processes (it runs with hostPID, or on the node itself): PID 1
// must not be a process of some Pod (it is, in a Pod's own PID namespace), and its network tables must
// be readable. The reason when not, for the log.
export function nodeProcessesVisible(root: string, hostPid: number): string | undefined {
  const pod = podUidOf(root, hostPid);
  if (pod !== undefined) return `PID ${hostPid} belongs to Pod ${pod}: this is a Pod's own PID namespace, not the node's (hostPID is off)`;
  try {
    read(`${root}/${hostPid}/net/snmp`);
  } catch (err) {
    return `cannot read ${root}/${hostPid}/net: ${(err as Error).message}`;
  }
  return undefined;
}
