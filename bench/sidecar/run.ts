// Sidecar benchmark, on loopback, one run, one upstream (bench/sidecar/upstream.ts: Node HTTP + ws
// echo, its own process), three ways to reach it: directly, through the sidecar (its own process, as in
// the Pod), and through Debian's nginx as a plain reverse proxy (one worker). Prints:
//   - HTTP keep-alive requests/s and latency p50/p99 at 64 connections (autocannon), best of --rounds;
//   - WebSocket echo round trip p50/p99 (one connection, one message at a time) and messages/s
//     (16 connections, 32 messages in flight each), best of --rounds;
//   - the sidecar's RSS with 10,000 idle WebSockets open through it;
// and the targets next to the figures.
//
//   node bench/sidecar/run.ts [--seconds 10] [--rounds 2] [--idle 10000]
//
// Needs nginx (apt-get install -y nginx-light); 10,000 WebSockets need ~40,000 descriptors, so the
// script re-runs itself under `ulimit -n 65536` when its limit is lower (as root, or with a hard limit
// that allows it).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { spawnSidecar, type SidecarProcess } from '../../sidecar/test/process.ts';
import { nginxBinary, startNginx } from './nginx.ts';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '2' },
    idle: { type: 'string', default: '10000' },
  },
});
const SECONDS = Number(args.seconds);
const ROUNDS = Number(args.rounds);
const IDLE = Number(args.idle);
for (const [flag, v] of [['--seconds', SECONDS], ['--rounds', ROUNDS], ['--idle', IDLE]] as const) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${flag} must be a whole number ≥ 1`);
}
const WANTED_FILES = 65_536;

function openFileLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
  return Number(line?.split(/\s+/)[3] ?? 1024);
}

// Re-run under a raised descriptor limit; the children (sidecar, app, nginx) inherit it.
if (openFileLimit() < WANTED_FILES && !process.env.BENCH_SIDECAR_REEXEC) {
  const r = spawnSync(
    'bash',
    ['-c', `ulimit -n ${WANTED_FILES} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"`, 'bash', process.execPath, ...process.execArgv, process.argv[1]!, ...process.argv.slice(2)],
    { stdio: 'inherit', env: { ...process.env, BENCH_SIDECAR_REEXEC: '1' } },
  );
  process.exit(r.status ?? 1);
}

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const here = path.dirname(new URL(import.meta.url).pathname);

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; average: number };
  errors: number;
  timeouts: number;
  non2xx: number;
}
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

function rssMb(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  return kb / 1024;
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

async function startUpstreamProcess(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [path.join(here, 'upstream.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').once('data', (line: string) => resolve(Number(line.trim())));
    child.once('exit', (code) => reject(new Error(`upstream exited with ${code}`)));
  });
  return { child, port };
}

async function untilAnswers(port: number, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/`);
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`${what} never answered on ${port}`);
    await sleep(100);
  }
}

// ---- HTTP ----

async function http64(port: number, seconds: number): Promise<AutocannonResult> {
  return autocannon({ url: `http://127.0.0.1:${port}/`, connections: 64, pipelining: 1, duration: seconds });
}

// ---- WebSocket ----

function openWs(port: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

const PAYLOAD = Buffer.alloc(32, 7);

// One connection, one message in flight: the round trip as a user's click would see it.
async function wsRoundTrips(port: number, count: number): Promise<number[]> {
  const ws = await openWs(port);
  ws.binaryType = 'nodebuffer';
  const times: number[] = [];
  await new Promise<void>((resolve) => {
    let start = 0n;
    let i = 0;
    ws.on('message', () => {
      times.push(Number(process.hrtime.bigint() - start) / 1e6);
      if (++i === count) return resolve();
      start = process.hrtime.bigint();
      ws.send(PAYLOAD);
    });
    start = process.hrtime.bigint();
    ws.send(PAYLOAD);
  });
  ws.close();
  return times.slice(Math.floor(count / 10)); // the first tenth warms up
}

// Several connections, each keeping `window` messages in flight: the most echoes per second.
async function wsThroughput(port: number, connections: number, window: number, seconds: number): Promise<number> {
  const sockets = await Promise.all(Array.from({ length: connections }, () => openWs(port)));
  let echoes = 0;
  let counting = false;
  let running = true;
  for (const ws of sockets) {
    ws.on('message', () => {
      if (counting) echoes++;
      if (running) ws.send(PAYLOAD);
    });
    for (let i = 0; i < window; i++) ws.send(PAYLOAD);
  }
  await sleep(1000); // warm-up
  counting = true;
  const start = performance.now();
  await sleep(seconds * 1000);
  counting = false;
  const elapsed = (performance.now() - start) / 1000;
  running = false;
  for (const ws of sockets) ws.terminate();
  return echoes / elapsed;
}

// ---- idle WebSockets ----

async function openMany(port: number, count: number, parallel = 100): Promise<WebSocket[]> {
  const sockets: WebSocket[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < count) {
        next++;
        sockets.push(await openWs(port));
      }
    }),
  );
  return sockets;
}

async function sidecarStatus(adminPort: number): Promise<{ active_connections: number }> {
  const res = await fetch(`http://127.0.0.1:${adminPort}/status`);
  return (await res.json()) as { active_connections: number };
}

interface IdleFigures {
  nodeOptions: string;
  count: number;
  counted: number; // what the sidecar's /status said
  before: number; // MB
  open: number; // MB
  perConnectionKb: number;
  at10k: number; // MB, measured or extrapolated
}

async function idleRss(upstreamPort: number, count: number, nodeOptions: string): Promise<IdleFigures> {
  const fresh = await spawnSidecar({
    args: [`--upstream-port=${upstreamPort}`, '--proxy-port=0', '--admin-port=0', '--listen-host=127.0.0.1'],
    env: { NODE_OPTIONS: nodeOptions },
  });
  try {
    await untilAnswers(fresh.proxyPort, 'the fresh sidecar');
    await sleep(1000);
    const before = rssMb(fresh.child.pid!);
    const sockets = await openMany(fresh.proxyPort, count);
    const counted = (await sidecarStatus(fresh.adminPort)).active_connections;
    await sleep(3000); // let allocation settle
    const open = rssMb(fresh.child.pid!);
    for (const socket of sockets) socket.terminate();
    const perConnectionKb = ((open - before) * 1024) / count;
    const at10k = count >= 10_000 ? open : before + (perConnectionKb * 10_000) / 1024;
    log(`idle (${nodeOptions || 'as shipped'}): ${count} WebSockets open (the sidecar counted ${counted}); RSS ${before.toFixed(1)} MB before, ${open.toFixed(1)} MB with them open (${perConnectionKb.toFixed(1)} KB each)`);
    return { nodeOptions, count, counted, before, open, perConnectionKb, at10k };
  } finally {
    await fresh.stop(10_000);
  }
}

// ---- the run ----

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');

async function main(): Promise<void> {
  if (!nginxBinary()) throw new Error('nginx not found: apt-get install -y nginx-light');
  log(`open-file limit ${openFileLimit()}, ${os.cpus().length} CPUs, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-sidecar-'));
  const upstream = await startUpstreamProcess();
  let sidecar: SidecarProcess | undefined;
  let nginx: ChildProcess | undefined;
  try {
    sidecar = await spawnSidecar({
      args: [`--upstream-port=${upstream.port}`, '--proxy-port=0', '--admin-port=0', '--listen-host=127.0.0.1'],
    });
    const nginxPort = await freePort();
    nginx = await startNginx({ dir: path.join(dir, 'nginx'), listenPort: nginxPort, upstreamPort: upstream.port, workerConnections: 4096 });
    const targets = [
      { name: 'direct', port: upstream.port },
      { name: 'sidecar', port: sidecar.proxyPort },
      { name: 'nginx', port: nginxPort },
    ];
    for (const t of targets) await untilAnswers(t.port, t.name);

    // HTTP: rounds interleave the three so a noisy neighbour hits them alike; best round reported.
    const http = new Map<string, AutocannonResult[]>(targets.map((t) => [t.name, []]));
    for (const t of targets) await http64(t.port, 2); // warm-up (JIT, keep-alive pools)
    for (let round = 1; round <= ROUNDS; round++) {
      for (const t of targets) {
        const r = await http64(t.port, SECONDS);
        http.get(t.name)!.push(r);
        log(`http round ${round} ${t.name}: ${fmt(r.requests.average)} req/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, errors ${r.errors + r.timeouts}, non-2xx ${r.non2xx}`);
      }
    }
    const best = (name: string) => http.get(name)!.reduce((a, b) => (b.requests.average > a.requests.average ? b : a));

    // WebSocket: rounds interleaved like HTTP; per target the round with the most messages/s, and the
    // round trips of the round with the lowest p50.
    const ws = new Map<string, { p50: number; p99: number; rate: number }>();
    for (const t of targets) await wsRoundTrips(t.port, 1000); // warm-up
    for (let round = 1; round <= ROUNDS; round++) {
      for (const t of targets) {
        const rtt = await wsRoundTrips(t.port, 10_000);
        const rate = await wsThroughput(t.port, 16, 32, Math.max(3, Math.round(SECONDS / 2)));
        const p50 = percentile(rtt, 50);
        const p99 = percentile(rtt, 99);
        log(`websocket round ${round} ${t.name}: round trip p50 ${p50.toFixed(3)} ms p99 ${p99.toFixed(3)} ms, ${fmt(rate)} messages/s`);
        const prev = ws.get(t.name);
        ws.set(t.name, {
          ...(prev === undefined || p50 < prev.p50 ? { p50, p99 } : { p50: prev.p50, p99: prev.p99 }),
          rate: Math.max(rate, prev?.rate ?? 0),
        });
      }
    }

    // Idle WebSockets through a fresh sidecar (no heap left over from the load above): as many as the
    // descriptor limit allows, up to --idle. Each costs the sidecar two descriptors (client and app).
    // Measured as shipped, and with V8's young generation capped (--max-semi-space-size=1, set through
    // NODE_OPTIONS), which is where most of the difference between live and resident memory sits.
    const limit = openFileLimit();
    const idleCount = Math.min(IDLE, Math.floor((limit - 100) / 2));
    if (idleCount < IDLE) log(`descriptor limit ${limit} (cannot be raised here): opening ${idleCount} idle WebSockets instead of ${IDLE}`);
    const idleRuns: IdleFigures[] = [];
    for (const nodeOptions of ['', '--max-semi-space-size=1']) idleRuns.push(await idleRss(upstream.port, idleCount, nodeOptions));

    // The report.
    const d = best('direct');
    const s = best('sidecar');
    const n = best('nginx');
    const wd = ws.get('direct')!;
    const wsd = ws.get('sidecar')!;
    const wn = ws.get('nginx')!;
    const row = (name: string, r: AutocannonResult) =>
      `  ${name.padEnd(8)} ${fmt(r.requests.average).padStart(8)} req/s   p50 ${String(r.latency.p50).padStart(3)} ms   p99 ${String(r.latency.p99).padStart(3)} ms`;
    const wsRow = (name: string, w: { p50: number; p99: number; rate: number }) =>
      `  ${name.padEnd(8)} round trip p50 ${w.p50.toFixed(3)} ms   p99 ${w.p99.toFixed(3)} ms   ${fmt(w.rate).padStart(8)} messages/s`;
    const httpRatio = s.requests.average / n.requests.average;
    const wsRatio = wsd.rate / wd.rate;
    const addedP50 = wsd.p50 - wd.p50;
    const lines = [
      `sidecar benchmark (loopback, ${os.cpus().length} CPUs shared, load average now ${os.loadavg()[0]!.toFixed(2)})`,
      `HTTP keep-alive, 64 connections, ${SECONDS} s, best of ${ROUNDS}:`,
      row('direct', d),
      row('sidecar', s),
      row('nginx', n),
      `WebSocket echo (32-byte binary messages), best of ${ROUNDS}:`,
      wsRow('direct', wd),
      wsRow('sidecar', wsd),
      wsRow('nginx', wn),
      `Idle WebSockets through a fresh sidecar (${fmt(idleCount)} open${idleCount < 10_000 ? '; 10,000 extrapolated at the measured rate' : ''}):`,
      ...idleRuns.map(
        (r) =>
          `  ${(r.nodeOptions || 'as shipped').padEnd(24)} RSS ${r.before.toFixed(1)} MB idle, ${r.open.toFixed(1)} MB with ${fmt(r.count)} open (${r.perConnectionKb.toFixed(1)} KB each), ${r.at10k.toFixed(1)} MB at 10,000`,
      ),
      `Targets:`,
      `  sidecar HTTP req/s ≥ 80% of nginx's:           ${(httpRatio * 100).toFixed(1)}%  ${verdict(httpRatio >= 0.8)}`,
      `  sidecar WebSocket messages/s ≥ 90% of direct:  ${(wsRatio * 100).toFixed(1)}%  ${verdict(wsRatio >= 0.9)}`,
      `  added round-trip p50 < 0.1 ms:                 ${addedP50.toFixed(3)} ms  ${verdict(addedP50 < 0.1)}`,
      ...idleRuns.map(
        (r) => `  RSS < 200 MB at 10,000 idle WebSockets (${(r.nodeOptions || 'as shipped').padEnd(22)}): ${r.at10k.toFixed(1)} MB${r.count < 10_000 ? ' (extrapolated)' : ''}  ${verdict(r.at10k < 200)}`,
      ),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await sidecar?.stop(10_000);
    nginx?.kill('SIGQUIT');
    upstream.child.kill('SIGTERM');
    await sleep(200);
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
