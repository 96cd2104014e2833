// Sidecar benchmark, on loopback, in one run: one app (upstream.ts: Node HTTP + ws echo, its own
// process) reached directly, through our sidecar as its image runs it (compiled by
// images/stage-app.sh, started with the image's Node flags), through a plain ~30-line Node proxy
// (plain-proxy.ts) and through Debian's nginx (one worker). Everything is interleaved: rounds rotate
// the targets so a noisy neighbour hits them alike, and comparisons are per-round ratios (median and
// range), never one target's best round. Prints, with the load average:
//   - start-up: exec → accepting connections, fresh processes, interleaved;
//   - memory: idle RSS/PSS/anonymous of a fresh process, then through 8 cycles of 1,000 WebSockets
//     opened and closed, and after them;
//   - HTTP keep-alive at 64 connections with wrk and with autocannon: req/s, latency, the proxy's
//     CPU per request;
//   - WebSocket echo: round trip, messages/s, the proxy's CPU per message;
//   - the sidecar's RSS with 10,000 idle WebSockets;
// and the targets next to the figures.
//
//   node bench/sidecar/run.ts [--seconds 5] [--rounds 3] [--starts 10] [--memory-rounds 2]
//        [--churn 8x1000] [--idle 10000] [--variant 'NAME [args=FLAG,…] [env=K=V,…]']… [--only start,memory,http,ws,idle]
//
// --variant adds our sidecar started with other Node flags than its image's (args=; 'defaults args='
// for V8's defaults) or with variables added to its environment (env=, e.g. glibc's malloc tunables),
// to measure what a setting costs or saves: every section then also prints each variant's per-round
// ratio to ours, as its image runs it. Needs wrk and nginx (scripts/install-deps.sh).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { toJavaScript } from '../../images/compile.ts';
import { COMMON_ARGS, entrypoint, MAIN, NODE, nodeImage } from '../../images/node-images.ts';
import { autocannon, closeAll, openMany, percentile, wrk, wsRoundTrips, wsThroughput, type HttpResult } from './load.ts';
import { nginxBinary, prepareNginx } from './nginx.ts';
import { openFileLimit, withOpenFiles } from '../support/open-files.ts';
import { cpuSecondsOf, memoryOf, type Memory } from './procs.ts';
import { describeVariant, parseVariant } from '../support/variant.ts';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    starts: { type: 'string', default: '10' },
    'memory-rounds': { type: 'string', default: '2' },
    churn: { type: 'string', default: '8x1000' },
    idle: { type: 'string', default: '10000' },
    variant: { type: 'string', multiple: true, default: [] },
    only: { type: 'string', default: 'start,memory,http,ws,idle' },
  },
});
const SECONDS = Number(args.seconds);
const ROUNDS = Number(args.rounds);
const STARTS = Number(args.starts);
const MEMORY_ROUNDS = Number(args['memory-rounds']);
const IDLE = Number(args.idle);
const [CHURN_CYCLES, CHURN_SIZE] = args.churn.split('x').map(Number) as [number, number];
for (const [flag, v] of [['--seconds', SECONDS], ['--rounds', ROUNDS], ['--starts', STARTS], ['--memory-rounds', MEMORY_ROUNDS], ['--churn cycles', CHURN_CYCLES], ['--churn size', CHURN_SIZE]] as const) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${flag} must be a whole number ≥ 1`);
}
if (!Number.isInteger(IDLE) || IDLE < 0) throw new Error('--idle must be a whole number ≥ 0 (0 skips it)');
const VARIANTS = args.variant.map((v) => parseVariant(v, ['args', 'env']));
const ALL_SECTIONS = ['start', 'memory', 'http', 'ws', 'idle'];
const SECTIONS = new Set(args.only.split(','));
for (const section of SECTIONS) if (!ALL_SECTIONS.includes(section)) throw new Error(`--only takes ${ALL_SECTIONS.join(',')}, got '${section}'`);
const WANTED_FILES = 65_536;

// Each proxied WebSocket costs two descriptors; the children (proxies, app) inherit the raised limit.
withOpenFiles(WANTED_FILES, 'BENCH_SIDECAR_REEXEC');

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const here = path.dirname(new URL(import.meta.url).pathname);
const root = path.resolve(here, '../..');
const load1 = () => os.loadavg()[0]!.toFixed(2);
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');

interface Spread {
  median: number;
  min: number;
  max: number;
}
function spread(values: number[]): Spread {
  return { median: percentile(values, 50), min: Math.min(...values), max: Math.max(...values) };
}
const showSpread = (s: Spread, digits = 0, unit = '') =>
  `${fmt(s.median, digits)}${unit} [${fmt(s.min, digits)}–${fmt(s.max, digits)}]`;

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
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
    await sleep(50);
  }
}

async function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

// ---- what is compared ----

interface Instance {
  port: number;
  pid: number;
  adminPort?: number; // ours: the kubelet probes /readyz there every second
  stop(): Promise<void>;
}

interface Target {
  name: string;
  kind: 'ours' | 'plain' | 'nginx' | 'direct';
  // A fresh process listening on `port`; resolves once spawned (not yet accepting).
  launch?(port: number): Promise<Instance>;
}

function nodeProcess(args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, NODE_OPTIONS: '', ...env } });
}

/** Our sidecar as its image starts it: the image's Node flags (or a variant's, and its environment), the compiled entry. */
function oursTarget(name: string, main: string, nodeArgs: string[], upstreamPort: number, env: Record<string, string> = {}): Target {
  return {
    name,
    kind: 'ours',
    async launch(port) {
      let adminPort = await freePort();
      while (adminPort === port) adminPort = await freePort();
      const child = nodeProcess([...nodeArgs, main, `--upstream-port=${upstreamPort}`, `--proxy-port=${port}`, `--admin-port=${adminPort}`, '--listen-host=127.0.0.1'], env);
      return { port, pid: child.pid!, adminPort, stop: () => stopProcess(child) };
    },
  };
}

function plainTarget(script: string, upstreamPort: number): Target {
  return {
    name: 'plain Node',
    kind: 'plain',
    async launch(port) {
      const child = nodeProcess([script, String(port), String(upstreamPort)]);
      return { port, pid: child.pid!, stop: () => stopProcess(child) };
    },
  };
}

function nginxTarget(dir: string, upstreamPort: number): Target {
  let n = 0;
  return {
    name: 'nginx',
    kind: 'nginx',
    async launch(port) {
      const [binary, nginxArgs] = await prepareNginx({ dir: path.join(dir, `nginx-${n++}`), listenPort: port, upstreamPort, workerConnections: 4096 });
      const child = spawn(binary, nginxArgs, { stdio: ['ignore', 'ignore', 'inherit'] });
      return { port, pid: child.pid!, stop: () => stopProcess(child, 'SIGQUIT') };
    },
  };
}

async function startUpstream(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [path.join(here, 'upstream.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').once('data', (line: string) => resolve(Number(line.trim())));
    child.once('exit', (code) => reject(new Error(`upstream exited with ${code}`)));
  });
  return { child, port };
}

// ---- start-up ----

/** exec → the port accepts a TCP connection (polled every millisecond). */
async function timeToAccept(target: Target): Promise<number> {
  const port = await freePort();
  const t0 = performance.now();
  const instance = await target.launch!(port);
  try {
    for (;;) {
      if (await canConnect(port)) return performance.now() - t0;
      if (performance.now() - t0 > 30_000) throw new Error(`${target.name} did not accept within 30 s`);
      await sleep(1);
    }
  } finally {
    await instance.stop();
  }
}

// ---- memory ----

interface MemoryFigures {
  idle: Memory;
  peakRssMb: number; // the highest RSS read after a churn cycle
  after2s: Memory;
  after10s: Memory;
}

// What a Pod does to an idle sidecar: the kubelet's readiness probe every second.
function probeEverySecond(instance: Instance): () => void {
  if (instance.adminPort === undefined) return () => {};
  const timer = setInterval(() => {
    fetch(`http://127.0.0.1:${instance.adminPort}/readyz`).then((r) => r.arrayBuffer(), () => {});
  }, 1000);
  return () => clearInterval(timer);
}

async function memoryThroughChurn(target: Target): Promise<MemoryFigures> {
  const port = await freePort();
  const instance = await target.launch!(port);
  const stopProbing = probeEverySecond(instance);
  try {
    await untilAnswers(port, target.name);
    // Warm: a few requests and one WebSocket, as a backend's first user would.
    for (let i = 0; i < 20; i++) await (await fetch(`http://127.0.0.1:${port}/`)).arrayBuffer();
    await closeAll(await openMany(port, 1, 1));
    await sleep(3000);
    const idle = memoryOf(instance.pid);
    let peakRssMb = idle.rssMb;
    for (let cycle = 0; cycle < CHURN_CYCLES; cycle++) {
      await closeAll(await openMany(port, CHURN_SIZE));
      peakRssMb = Math.max(peakRssMb, memoryOf(instance.pid).rssMb);
    }
    await sleep(2000);
    const after2s = memoryOf(instance.pid);
    await sleep(8000);
    const after10s = memoryOf(instance.pid);
    if (instance.adminPort !== undefined) {
      const status = (await (await fetch(`http://127.0.0.1:${instance.adminPort}/status`)).json()) as { active_connections: number };
      if (status.active_connections !== 0) log(`${target.name}: /status still counts ${status.active_connections} connections after the churn`);
    }
    log(`memory ${target.name}: idle RSS ${idle.rssMb.toFixed(1)} MB (anon ${idle.anonMb.toFixed(1)}, file ${idle.fileMb.toFixed(1)}, PSS ${idle.pssMb.toFixed(1)}), peak ${peakRssMb.toFixed(1)}, 2 s after ${after2s.rssMb.toFixed(1)}, 10 s after ${after10s.rssMb.toFixed(1)} MB (load ${load1()})`);
    return { idle, peakRssMb, after2s, after10s };
  } finally {
    stopProbing();
    await instance.stop();
  }
}

// ---- idle WebSockets ----

async function idleWebSockets(target: Target, count: number): Promise<{ before: number; open: number; perKb: number; at10k: number; counted: number }> {
  const port = await freePort();
  const instance = await target.launch!(port);
  try {
    await untilAnswers(port, target.name);
    await sleep(1000);
    const before = memoryOf(instance.pid).rssMb;
    const sockets = await openMany(port, count);
    let counted = count;
    if (instance.adminPort !== undefined) {
      counted = ((await (await fetch(`http://127.0.0.1:${instance.adminPort}/status`)).json()) as { active_connections: number }).active_connections;
    }
    await sleep(3000);
    const open = memoryOf(instance.pid).rssMb;
    for (const s of sockets) s.terminate();
    const perKb = ((open - before) * 1024) / count;
    return { before, open, perKb, at10k: count >= 10_000 ? open : before + (perKb * 10_000) / 1024, counted };
  } finally {
    await instance.stop();
  }
}

// ---- the run ----

function rotate<T>(items: T[], by: number): T[] {
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

const showRatio = (s: Spread) => `${s.median.toFixed(2)}× [${s.min.toFixed(2)}–${s.max.toFixed(2)}]`;
/** Round by round, a figure of one target divided by the same figure of another in that round. */
function perRound<T>(results: Map<string, T[]>, a: string, b: string, f: (x: T) => number): Spread {
  const bs = results.get(b)!;
  return spread(results.get(a)!.map((x, i) => f(x) / f(bs[i]!)));
}
const label = (t: string) => t.padEnd(14);

async function main(): Promise<void> {
  if (!nginxBinary()) throw new Error('nginx not found: apt-get install -y nginx-light (scripts/install-deps.sh)');
  if (spawnSync('wrk', ['--version']).error) throw new Error('wrk not found: apt-get install -y wrk (scripts/install-deps.sh)');
  const loads = [`${load1()} at start`];
  log(`open-file limit ${openFileLimit()}, ${os.cpus().length} CPUs, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-sidecar-'));
  const upstream = await startUpstream();
  const persistent: Instance[] = [];
  const report: string[] = [];
  const targets: string[] = [];
  const say = (line = '') => report.push(line);
  try {
    // Our sidecar exactly as its image carries it, and the plain proxy compiled the same way.
    const image = nodeImage('sidecar');
    spawnSync('bash', [path.join(root, 'images/stage-app.sh'), image.workspace, image.entry, path.join(dir, 'sidecar')], { stdio: 'inherit' });
    const oursMain = path.join(dir, 'sidecar', MAIN);
    const shippedArgs = entrypoint('sidecar').filter((a) => a !== NODE && a !== MAIN);
    const plainScript = path.join(dir, 'plain', 'plain-proxy.js');
    mkdirSync(path.dirname(plainScript), { recursive: true });
    writeFileSync(plainScript, toJavaScript(readFileSync(path.join(here, 'plain-proxy.ts'), 'utf8')));
    log(`ours: node ${shippedArgs.join(' ')} ${oursMain}`);

    const ours = oursTarget('ours', oursMain, shippedArgs, upstream.port);
    const variants = VARIANTS.map((v) => oursTarget(`ours ${v.name}`, oursMain, [...COMMON_ARGS, ...(v.nodeArgs ?? image.nodeArgs)], upstream.port, v.env));
    const plain = plainTarget(plainScript, upstream.port);
    const nginx = nginxTarget(dir, upstream.port);
    const direct: Target = { name: 'direct', kind: 'direct' };
    const proxies = [ours, ...variants, plain, nginx];
    const oursNames = [ours, ...variants].map((t) => t.name);
    say(`sidecar benchmark — loopback, ${os.cpus().length} CPUs shared with everything else on this machine`);
    say(`ours = node ${shippedArgs.join(' ')} /app/main.js, as the sidecar image starts it`);
    for (const v of VARIANTS) say(`  variant ${v.name}: ${describeVariant(v, image.nodeArgs)}`);

    if (SECTIONS.has('start')) {
      const starts = new Map<string, number[]>(proxies.map((t) => [t.name, []]));
      for (let i = 0; i < STARTS; i++) for (const t of rotate(proxies, i)) starts.get(t.name)!.push(await timeToAccept(t));
      loads.push(`${load1()} after start-ups`);
      say();
      say(`Start-up, exec → accepting connections (${STARTS} fresh processes each, interleaved): median [min–max]`);
      for (const t of proxies) say(`  ${label(t.name)} ${showSpread(spread(starts.get(t.name)!), 1, ' ms')}`);
      say(`  per-start ratios: ${oursNames.map((o) => `${o} / plain Node ${showRatio(perRound(starts, o, 'plain Node', (x) => x))}`).join('   ')}`);
      for (const v of variants) say(`  ${v.name} / ours, per start: ${showRatio(perRound(starts, v.name, 'ours', (x) => x))}`);
      const oursStart = spread(starts.get('ours')!).median;
      targets.push(`  exec → accepting ≤ 80 ms:                        ${oursStart.toFixed(1)} ms  ${verdict(oursStart <= 80)}`);
    }

    if (SECTIONS.has('memory')) {
      const memory = new Map<string, MemoryFigures[]>(proxies.map((t) => [t.name, []]));
      for (let r = 0; r < MEMORY_ROUNDS; r++) for (const t of rotate(proxies, r)) memory.get(t.name)!.push(await memoryThroughChurn(t));
      loads.push(`${load1()} after memory`);
      const per = (name: string, f: (x: MemoryFigures) => number) => spread(memory.get(name)!.map(f));
      say();
      say(`Memory of a fresh process (probed every second like the kubelet does), then ${CHURN_CYCLES} × ${fmt(CHURN_SIZE)} WebSockets opened and closed; ${MEMORY_ROUNDS} rounds, median [min–max], MB`);
      say(`  ${label('')} ${'idle RSS'.padEnd(18)} ${'idle PSS'.padEnd(18)} ${'idle anon'.padEnd(18)} ${'idle file'.padEnd(18)} ${'peak RSS'.padEnd(20)} ${'RSS 2 s after'.padEnd(20)} ${'RSS 10 s after'.padEnd(18)} after/idle (10 s)`);
      for (const t of proxies) {
        const m = (f: (x: MemoryFigures) => number, w: number) => showSpread(per(t.name, f), 1).padEnd(w);
        say(`  ${label(t.name)} ${m((x) => x.idle.rssMb, 18)} ${m((x) => x.idle.pssMb, 18)} ${m((x) => x.idle.anonMb, 18)} ${m((x) => x.idle.fileMb, 18)} ${m((x) => x.peakRssMb, 20)} ${m((x) => x.after2s.rssMb, 20)} ${m((x) => x.after10s.rssMb, 18)} ${showRatio(per(t.name, (x) => x.after10s.rssMb / x.idle.rssMb))}`);
      }
      for (const v of variants) {
        const r = (f: (x: MemoryFigures) => number) => showRatio(perRound(memory, v.name, 'ours', f));
        say(`  ${v.name} / ours, per round: idle RSS ${r((x) => x.idle.rssMb)}, PSS ${r((x) => x.idle.pssMb)}, anon ${r((x) => x.idle.anonMb)}, file ${r((x) => x.idle.fileMb)}; peak ${r((x) => x.peakRssMb)}; RSS 10 s after ${r((x) => x.after10s.rssMb)}`);
      }
      const oursIdle = per('ours', (x) => x.idle.rssMb).median;
      const oursChurn = per('ours', (x) => x.after10s.rssMb / x.idle.rssMb).median;
      targets.push(`  idle RSS ≤ 40 MB:                                ${oursIdle.toFixed(1)} MB  ${verdict(oursIdle <= 40)}`);
      targets.push(`  RSS after ${CHURN_CYCLES} × ${fmt(CHURN_SIZE)} WebSocket churn ≤ 1.3× idle:    ${oursChurn.toFixed(2)}×  ${verdict(oursChurn <= 1.3)}`);
    }

    const all = [direct, ...proxies];
    const running = new Map<string, Instance>();
    if (SECTIONS.has('http') || SECTIONS.has('ws')) {
      for (const t of proxies) {
        const instance = await t.launch!(await freePort());
        persistent.push(instance);
        running.set(t.name, instance);
        await untilAnswers(instance.port, t.name);
      }
      running.set('direct', { port: upstream.port, pid: upstream.child.pid!, stop: async () => {} });
    }

    if (SECTIONS.has('http')) {
      interface HttpRound { wrk: HttpResult; wrkCpuUs: number; ac: HttpResult }
      const http = new Map<string, HttpRound[]>(all.map((t) => [t.name, []]));
      for (const t of all) await wrk(running.get(t.name)!.port, 64, 2); // warm-up: JIT, keep-alive pools
      for (let r = 0; r < ROUNDS; r++) {
        for (const t of rotate(all, r)) {
          const { port, pid } = running.get(t.name)!;
          const cpu = cpuSecondsOf(pid);
          const w = await wrk(port, 64, SECONDS);
          const wrkCpuUs = ((cpuSecondsOf(pid) - cpu) * 1e6) / w.requests;
          const ac = await autocannon(port, 64, SECONDS);
          http.get(t.name)!.push({ wrk: w, wrkCpuUs, ac });
          log(`http round ${r + 1} ${t.name}: wrk ${fmt(w.requestsPerSecond)} req/s (p50 ${w.p50Ms} ms, p99 ${w.p99Ms} ms, ${fmt(wrkCpuUs)} µs CPU/request, errors ${w.errors}); autocannon ${fmt(ac.requestsPerSecond)} req/s (errors ${ac.errors}) (load ${load1()})`);
        }
      }
      loads.push(`${load1()} after HTTP`);
      const per = (name: string, f: (x: HttpRound) => number) => spread(http.get(name)!.map(f));
      const ratio = (a: string, b: string) => showRatio(perRound(http, a, b, (x) => x.wrk.requestsPerSecond));
      say();
      say(`HTTP keep-alive, 64 connections, ${SECONDS} s per round and tool, ${ROUNDS} rounds rotated: median [min–max]`);
      say(`  ${label('')} ${'wrk req/s'.padEnd(24)} ${'p50 / p99 ms'.padEnd(15)} ${'CPU µs/request'.padEnd(16)} ${'autocannon req/s'.padEnd(24)} autocannon/wrk`);
      for (const t of all) {
        const lat = `${per(t.name, (x) => x.wrk.p50Ms).median.toFixed(2)} / ${per(t.name, (x) => x.wrk.p99Ms).median.toFixed(1)}`;
        say(`  ${label(t.name)} ${showSpread(per(t.name, (x) => x.wrk.requestsPerSecond)).padEnd(24)} ${lat.padEnd(15)} ${showSpread(per(t.name, (x) => x.wrkCpuUs)).padEnd(16)} ${showSpread(per(t.name, (x) => x.ac.requestsPerSecond)).padEnd(24)} ${showRatio(per(t.name, (x) => x.ac.requestsPerSecond / x.wrk.requestsPerSecond))}`);
      }
      say('  (CPU: the proxy process\'s user + system time per request; for direct, the app\'s own)');
      say('  per-round ratios of wrk req/s:');
      for (const o of oursNames) say(`    ${o} / nginx ${ratio(o, 'nginx')}   ${o} / plain Node ${ratio(o, 'plain Node')}   ${o} / direct ${ratio(o, 'direct')}`);
      for (const v of variants) say(`  ${v.name} / ours, per round: wrk req/s ${ratio(v.name, 'ours')}, CPU per request ${showRatio(perRound(http, v.name, 'ours', (x) => x.wrkCpuUs))}`);
      const vsNginx = perRound(http, 'ours', 'nginx', (x) => x.wrk.requestsPerSecond).median;
      targets.push(`  HTTP req/s ≥ 80% of nginx's (wrk):               ${(vsNginx * 100).toFixed(1)}%  ${verdict(vsNginx >= 0.8)}`);
    }

    if (SECTIONS.has('ws')) {
      interface WsRound { p50: number; p99: number; rate: number; cpuUsPerMessage: number }
      const ws = new Map<string, WsRound[]>(all.map((t) => [t.name, []]));
      for (const t of all) await wsRoundTrips(running.get(t.name)!.port, 1000); // warm-up
      for (let r = 0; r < ROUNDS; r++) {
        for (const t of rotate(all, r)) {
          const { port, pid } = running.get(t.name)!;
          const rtt = await wsRoundTrips(port, 5000);
          const cpu: number[] = [];
          const tput = await wsThroughput(port, 16, 32, SECONDS, () => cpu.push(cpuSecondsOf(pid)));
          // Every echo is two messages through a proxy: the client's and the app's answer.
          const cpuUsPerMessage = ((cpu[1]! - cpu[0]!) * 1e6) / (2 * tput.echoes);
          const round = { p50: percentile(rtt, 50), p99: percentile(rtt, 99), rate: tput.perSecond, cpuUsPerMessage };
          ws.get(t.name)!.push(round);
          log(`websocket round ${r + 1} ${t.name}: round trip p50 ${round.p50.toFixed(3)} ms p99 ${round.p99.toFixed(3)} ms, ${fmt(round.rate)} echoes/s, ${round.cpuUsPerMessage.toFixed(1)} µs CPU/message (load ${load1()})`);
        }
      }
      loads.push(`${load1()} after WebSocket`);
      const per = (name: string, f: (x: WsRound) => number) => spread(ws.get(name)!.map(f));
      const ratio = (a: string, b: string) => perRound(ws, a, b, (x) => x.rate);
      say();
      say(`WebSocket echo of 32-byte binary messages: round trip with one in flight; echoes/s with 16 connections × 32 in flight, ${SECONDS} s; median [min–max]`);
      say(`  ${label('')} ${'round trip p50 / p99 ms'.padEnd(25)} ${'echoes/s'.padEnd(24)} CPU µs/message`);
      for (const t of all) {
        const rtt = `${per(t.name, (x) => x.p50).median.toFixed(3)} / ${per(t.name, (x) => x.p99).median.toFixed(3)}`;
        say(`  ${label(t.name)} ${rtt.padEnd(25)} ${showSpread(per(t.name, (x) => x.rate)).padEnd(24)} ${showSpread(per(t.name, (x) => x.cpuUsPerMessage), 1)}`);
      }
      say('  (a message is one frame through the proxy; an echo is two)');
      say('  per-round ratios of echoes/s:');
      for (const o of oursNames) say(`    ${o} / direct ${showRatio(ratio(o, 'direct'))}   ${o} / nginx ${showRatio(ratio(o, 'nginx'))}   ${o} / plain Node ${showRatio(ratio(o, 'plain Node'))}`);
      for (const v of variants) say(`  ${v.name} / ours, per round: echoes/s ${showRatio(ratio(v.name, 'ours'))}, CPU per message ${showRatio(perRound(ws, v.name, 'ours', (x) => x.cpuUsPerMessage))}`);
      const vsDirect = ratio('ours', 'direct').median;
      const addedRtt = per('ours', (x) => x.p50).median - per('direct', (x) => x.p50).median;
      targets.push(`  WebSocket echoes/s ≥ 90% of direct:              ${(vsDirect * 100).toFixed(1)}%  ${verdict(vsDirect >= 0.9)}`);
      targets.push(`  added round-trip p50 < 0.1 ms:                   ${addedRtt.toFixed(3)} ms  ${verdict(addedRtt < 0.1)}`);
    }

    if (SECTIONS.has('idle') && IDLE > 0) {
      // Idle WebSockets through fresh sidecars, as many as the descriptor limit allows (two each).
      const limit = openFileLimit();
      const idleCount = Math.min(IDLE, Math.floor((limit - 200) / 2));
      if (idleCount < IDLE) log(`descriptor limit ${limit}: opening ${idleCount} idle WebSockets instead of ${IDLE}`);
      say();
      say(`Idle WebSockets held through a fresh sidecar (${fmt(idleCount)} open${idleCount < 10_000 ? '; 10,000 extrapolated at the measured rate' : ''}):`);
      for (const t of [ours, ...variants]) {
        const r = await idleWebSockets(t, idleCount);
        log(`idle ${t.name}: ${fmt(idleCount)} WebSockets open (counted ${r.counted}); RSS ${r.before.toFixed(1)} → ${r.open.toFixed(1)} MB (${r.perKb.toFixed(1)} KB each)`);
        say(`  ${label(t.name)} RSS ${r.before.toFixed(1)} MB idle, ${r.open.toFixed(1)} MB with them open (${r.perKb.toFixed(1)} KB each), ${r.at10k.toFixed(1)} MB at 10,000`);
        if (t === ours) targets.push(`  RSS < 200 MB at 10,000 idle WebSockets:         ${r.at10k.toFixed(1)} MB${idleCount < 10_000 ? ' (extrapolated)' : ''}  ${verdict(r.at10k < 200)}`);
      }
      loads.push(`${load1()} after idle WebSockets`);
    }

    say();
    say(`load average (1 min): ${loads.join(', ')}`);
    say('Targets (medians of ours):');
    report.push(...targets);
    process.stdout.write(`${report.join('\n')}\n`);
  } finally {
    for (const instance of persistent) await instance.stop();
    upstream.child.kill('SIGTERM');
    await sleep(200);
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
