// What a process costs, read from /proc: memory (RSS, PSS, anonymous) and CPU time, summed over a
// process and its children (nginx is a master and a worker).
import { readFileSync, readdirSync } from 'node:fs';
import { kbField } from '../support/proc-fields.ts';

export interface Memory {
  rssMb: number; // resident: what `ps`, `top` and a container's working set start from
  pssMb: number; // proportional: shared pages (the Node binary's) split between the processes using them
  anonMb: number; // anonymous: heap, stacks, buffers — what one more instance really adds
  fileMb: number; // file pages: the binary's code and data, shared with every process mapping them
}

/** The process and its descendants. */
export function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    for (const task of safeReaddir(`/proc/${out[i]}/task`)) {
      const children = safeRead(`/proc/${out[i]}/task/${task}/children`).trim();
      if (children) out.push(...children.split(/\s+/).map(Number));
    }
  }
  return out;
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

export function memoryOf(pid: number): Memory {
  const total: Memory = { rssMb: 0, pssMb: 0, anonMb: 0, fileMb: 0 };
  for (const p of processTree(pid)) {
    const rollup = safeRead(`/proc/${p}/smaps_rollup`);
    if (!rollup) continue;
    total.rssMb += kbField(rollup, 'Rss') / 1024;
    total.pssMb += kbField(rollup, 'Pss') / 1024;
    total.anonMb += kbField(rollup, 'Anonymous') / 1024;
    total.fileMb += kbField(safeRead(`/proc/${p}/status`), 'RssFile') / 1024;
  }
  return total;
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** User + system CPU seconds used so far by the process (all its threads) and its children. */
export function cpuSecondsOf(pid: number): number {
  let ticks = 0;
  for (const p of processTree(pid)) {
    const stat = safeRead(`/proc/${p}/stat`);
    if (!stat) continue;
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / TICKS_PER_SECOND;
}

export function threadsOf(pid: number): number {
  return safeReaddir(`/proc/${pid}/task`).length;
}
