// Sweeper resident memory: the sweeper is one Pod per node, so what one process holds is paid on every
// node. Starts each given sweeper entry file as its own process against the cluster in KUBECONFIG (a
// node with no backends: the idle baseline), waits until /readyz answers 200 and the process has
// settled, then reads VmRSS (and VmHWM, the peak) from /proc. Entries run interleaved, --rounds times,
// so a loaded machine weighs on all of them alike; it prints medians, the spread and the load average.
//
//   KUBECONFIG=… node bench/sweeper/rss.ts [--entry NAME=PATH]… [--rounds 5] [--settle-ms 8000]
//
// Default entry: this checkout's sweeper/src/main.ts. To compare with another checkout's sweeper, name
// both, e.g. --entry before=/work/main/sweeper/src/main.ts --entry after=sweeper/src/main.ts.
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { repoRoot } from '../../e2e/harness/paths.ts';
import { freePortOn } from '../../sweeper/test/support/cluster.ts';

const { values: args } = parseArgs({
  options: {
    entry: { type: 'string', multiple: true, default: [`current=${path.join(repoRoot, 'sweeper/src/main.ts')}`] },
    rounds: { type: 'string', default: '5' },
    'settle-ms': { type: 'string', default: '8000' },
  },
});
const kubeconfig = process.env.KUBECONFIG;
if (!kubeconfig) throw new Error('KUBECONFIG must name the cluster (node e2e/harness/cli.ts env)');
const rounds = Number(args.rounds);
const settleMs = Number(args['settle-ms']);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds must be a whole number ≥ 1');
if (!(settleMs >= 0)) throw new Error('--settle-ms must be ≥ 0');
const entries = args.entry.map((e) => {
  const eq = e.indexOf('=');
  if (eq <= 0) throw new Error(`--entry ${e}: write NAME=PATH`);
  return { name: e.slice(0, eq), file: path.resolve(e.slice(eq + 1)) };
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function kib(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  if (!m) throw new Error(`no ${field} for pid ${pid}`);
  return Number(m[1]);
}

async function measure(file: string): Promise<{ rss: number; peak: number }> {
  const healthPort = await freePortOn('127.0.0.1');
  const child = spawn(process.execPath, [file, `--kubeconfig=${kubeconfig}`, '--node-name=rss-bench-node', `--health-port=${healthPort}`], {
    env: { ...process.env, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${file} exited with ${child.exitCode}`);
      const ok = await fetch(`http://127.0.0.1:${healthPort}/readyz`).then((r) => r.ok, () => false);
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`${file}: not ready within 60 s`);
      await sleep(200);
    }
    await sleep(settleMs);
    return { rss: await kib(child.pid!, 'VmRSS'), peak: await kib(child.pid!, 'VmHWM') };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const mb = (k: number) => (k / 1024).toFixed(1);

const results = new Map(entries.map((e) => [e.name, { rss: [] as number[], peak: [] as number[] }]));
const loadBefore = os.loadavg();
for (let round = 0; round < rounds; round++) {
  for (const e of round % 2 ? [...entries].reverse() : entries) {
    const r = await measure(e.file);
    results.get(e.name)!.rss.push(r.rss);
    results.get(e.name)!.peak.push(r.peak);
    process.stderr.write(`[bench] round ${round + 1} ${e.name}: VmRSS ${mb(r.rss)} MB, VmHWM ${mb(r.peak)} MB\n`);
  }
}
const loadAfter = os.loadavg();
console.log(`sweeper RSS, idle node, ${rounds} rounds interleaved, settle ${settleMs} ms; load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')} → ${loadAfter.map((l) => l.toFixed(2)).join(' ')}`);
const first = entries[0]!.name;
for (const e of entries) {
  const r = results.get(e.name)!;
  const ratio = e.name === first ? '' : `  (${(median(r.rss) / median(results.get(first)!.rss)).toFixed(2)}× ${first})`;
  console.log(`${e.name.padEnd(10)} VmRSS median ${mb(median(r.rss))} MB (min ${mb(Math.min(...r.rss))}, max ${mb(Math.max(...r.rss))}); VmHWM median ${mb(median(r.peak))} MB${ratio}`);
}
