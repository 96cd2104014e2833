import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { teardownRealNode } from './node-teardown.ts';
import type { RealNodeRecord } from './node-teardown.ts';

export interface RecordedProcess {
  name: string;
  pid: number;
  /** The executable, checked against /proc before signalling so a reused pid is never hit. */
  bin: string;
  /** How it was started, so a test can stop and start it again with the same ports and state. */
  args?: string[];
  logFile?: string;
}

/** What `up` leaves behind for `down` (or the next `up`) to find, written as the run progresses. */
export interface RunRecord {
  dir: string;
  kubeconfig?: string;
  server?: string;
  kubectl?: string;
  version?: string;
  mounts: string[];
  /** Folders outside `dir` (e.g. etcd's data in /dev/shm when mounting is not allowed). */
  extraDirs: string[];
  processes: RecordedProcess[];
  startedAt: string;
  /** A real node joined with `up --real-node`: what its teardown must undo on the host. */
  node?: RealNodeRecord;
  /** Set once everything is healthy. */
  ready?: boolean;
}

export function readRecord(stateFile: string): RunRecord | undefined {
  if (!existsSync(stateFile)) return undefined;
  try {
    return JSON.parse(readFileSync(stateFile, 'utf8')) as RunRecord;
  } catch {
    return undefined;
  }
}

export async function writeRecord(stateFile: string, record: RunRecord): Promise<void> {
  await mkdir(path.dirname(stateFile), { recursive: true });
  const tmp = `${stateFile}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(record, null, 2) + '\n');
  await rename(tmp, stateFile);
}

/** True when `pid` is alive and still runs `bin` (argv[0] as the harness started it). */
export async function runs(pid: number, bin: string): Promise<boolean> {
  try {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.split('\0')[0] === bin;
  } catch {
    return false;
  }
}

export async function stopProcess(p: RecordedProcess, log: (line: string) => void, graceMs: number): Promise<void> {
  if (!(await runs(p.pid, p.bin))) return;
  // Each component leads its own process group (started detached): signal the group.
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-p.pid, sig);
    } catch {
      try {
        process.kill(p.pid, sig);
      } catch {
        /* already gone */
      }
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!(await runs(p.pid, p.bin))) return;
    await sleep(100);
  }
  log(`${p.name} (pid ${p.pid}) ignored SIGTERM for ${graceMs} ms; killing it`);
  signal('SIGKILL');
  while (await runs(p.pid, p.bin)) await sleep(50);
}

export async function isMounted(dir: string): Promise<boolean> {
  try {
    const mounts = await readFile('/proc/self/mounts', 'utf8');
    return mounts.split('\n').some((line) => line.split(' ')[1] === dir);
  } catch {
    return false;
  }
}

/**
 * Stops what a record names, newest process first (clients before the API server before etcd),
 * unmounts and removes its folders, then deletes the record. Safe to run on a half-started or
 * crashed run and to run twice.
 */
export async function cleanRecord(stateFile: string, record: RunRecord, log: (line: string) => void): Promise<void> {
  for (const p of [...record.processes].reverse()) await stopProcess(p, log, 10_000);
  if (record.node) await teardownRealNode(record.node, log);
  for (const m of record.mounts) {
    if (!(await isMounted(m))) continue;
    const r = await execa('umount', [m], { reject: false });
    if (r.exitCode !== 0) {
      log(`umount ${m} failed (${r.stderr.trim()}); detaching it lazily`);
      await execa('umount', ['-l', m], { reject: false });
    }
  }
  for (const d of [...record.extraDirs, record.dir]) {
    // A damaged record must never turn into removing some unrelated folder.
    if (!path.basename(d).startsWith('spawner-')) {
      log(`not removing ${d}: not a folder this harness made`);
      continue;
    }
    await rm(d, { recursive: true, force: true });
  }
  await rm(stateFile, { force: true });
}
