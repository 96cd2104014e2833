// Router benchmark on loopback, one run. The router is the real thing: nginx with the config render.sh
// writes from manifests/nginx, and the route service (router/) as its own process, fed from a table in
// memory (bench/router/route-service.ts). Behind it a backend that costs next to nothing (a second nginx
// answering 200 "ok"), so the router's own cost is as visible as it can be. Prints:
//
//   1. requests/s and latency p50/p99 (wrk, keep-alive) through three routers, rounds interleaved:
//        token       the shipped router, the token in the cookie (what a page's requests carry)
//        no check    the same router and route service with the token check replaced by none (a
//                    public backend): what the check itself costs
//        plain       the same nginx config with the auth_request lines replaced by a fixed upstream:
//                    what asking the route service costs at all
//      with the ratios per round (median and range) beside the targets;
//   2. the time to an answer for every way of being refused, next to a routed request, sequential on
//      one kept-alive connection, interleaved: they must not differ (existence cannot be probed);
//   3. one client holding WebSockets up to its limit (and trying for ~2,000): ordinary requests of 20
//      other clients, all answered?
//
//   node bench/router/run.ts [--seconds 5] [--rounds 5] [--connections 32] [--probes 2000] [--hold 2000]
//
// Needs nginx and wrk (apt-get install -y nginx wrk). The machine is shared: the load average is
// printed; compare the figures of one run, as ratios.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import WebSocket, { WebSocketServer } from 'ws';
import { mintAccessToken, parseAccessKey } from '../../common/spawner/access.ts';
import type { RouteEntry } from '../../router/src/decide.ts';
import { findNginx, freePort, render } from '../../manifests/nginx/test/nginx-harness.ts';
import { withOpenFiles } from '../support/open-files.ts';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '32' },
    probes: { type: 'string', default: '2000' },
    hold: { type: 'string', default: '2000' },
  },
});
const SECONDS = Number(args.seconds);
const ROUNDS = Number(args.rounds);
const CONNECTIONS = Number(args.connections);
const PROBES = Number(args.probes);
const HOLD = Number(args.hold);
for (const [flag, v] of [['--seconds', SECONDS], ['--rounds', ROUNDS], ['--connections', CONNECTIONS], ['--probes', PROBES], ['--hold', HOLD]] as const) {
  if (!Number.isInteger(v) || v < 1) {
    process.stderr.write(`bench/router: ${flag} must be a whole number ≥ 1\n`);
    process.exit(2);
  }
}

// Holding thousands of WebSockets needs descriptors (nginx inherits the raised limit).
withOpenFiles(65_536, 'BENCH_ROUTER_REEXEC');

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const nginxBinary = findNginx();
const wrkBinary = spawnSync('sh', ['-c', 'command -v wrk']).stdout.toString().trim();
if (!nginxBinary || !wrkBinary) {
  process.stderr.write(`bench/router: needs ${!nginxBinary ? 'nginx' : 'wrk'} (apt-get install -y nginx wrk)\n`);
  process.exit(2);
}
const here = path.dirname(new URL(import.meta.url).pathname);
const work = mkdtempSync(path.join(os.tmpdir(), 'bench-router-'));
const children: ChildProcess[] = [];
const cleanup = () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
};
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

// ---- the pieces ----------------------------------------------------------------------------------

async function waitHttp(url: string, ok = (s: number) => s > 0): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const status = await fetch(url).then((r) => r.status, () => 0);
    if (ok(status)) return;
    if (Date.now() > deadline) throw new Error(`${url} did not answer`);
    await sleep(50);
  }
}

function spawnNginx(prefix: string): ChildProcess {
  const out = openSync(path.join(prefix, 'output.log'), 'a');
  const child = spawn(nginxBinary!, ['-p', `${prefix}/`, '-c', 'nginx.conf'], { stdio: ['ignore', out, out] });
  closeSync(out);
  children.push(child);
  return child;
}

// The backend: nginx answering 200 "ok" on keep-alive connections, one worker.
async function startStaticBackend(): Promise<number> {
  const prefix = mkdtempSync(path.join(work, 'backend-'));
  const port = await freePort();
  writeFileSync(
    path.join(prefix, 'nginx.conf'),
    `daemon off; worker_processes 1; pid nginx.pid; error_log stderr crit;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:${port}; location / { default_type text/plain; return 200 "ok\\n"; } } }
`,
  );
  spawnNginx(prefix);
  await waitHttp(`http://127.0.0.1:${port}/`, (s) => s === 200);
  return port;
}

async function startRouteService(entries: RouteEntry[], keyHex: string, tokenCheck: boolean): Promise<{ port: number; pid: number }> {
  const child = spawn(process.execPath, [path.join(here, 'route-service.ts'), '--key-hex', keyHex, '--entries', JSON.stringify(entries), ...(tokenCheck ? [] : ['--no-token-check'])], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const line = await new Promise<string>((resolve, reject) => {
    let buffered = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => {
      buffered += c;
      if (buffered.includes('\n')) resolve(buffered.split('\n')[0]!);
    });
    child.once('exit', (code) => reject(new Error(`route service exited ${code}`)));
  });
  return { port: (JSON.parse(line) as { port: number }).port, pid: child.pid! };
}

// The shipped config, rendered by render.sh. `plainUpstream` swaps the auth_request lines for a fixed
// upstream and leaves everything else as it is: the baseline without the route service.
async function startRouter(o: { routePort: number; env?: Record<string, string>; plainUpstream?: string }): Promise<{ port: number; prefix: string; pid: number }> {
  const prefix = mkdtempSync(path.join(work, 'router-'));
  const port = await freePort();
  const r = render(prefix, { SPAWNER_BACKEND_NAMESPACE: 'spawner-backends', SPAWNER_LISTEN_PORT: String(port), SPAWNER_ROUTE_PORT: String(o.routePort), ...o.env });
  if (r.status !== 0) throw new Error(`render.sh: ${r.stderr}`);
  if (o.plainUpstream) {
    const file = path.join(prefix, 'nginx.conf');
    const conf = readFileSync(file, 'utf8');
    // Each variable the route service would have set gets what a routed request would: the fixed
    // upstream, the URI, the client's Cookie and Referer, no cookie to set.
    const fixed: Record<string, string> = {
      $spawner_verdict: 'route',
      $spawner_upstream: o.plainUpstream,
      $spawner_app_uri: '$spawner_rest',
      $spawner_app_cookie: '$http_cookie',
      $spawner_app_referer: '$http_referer',
      $spawner_set_cookie: '""',
    };
    const plain = conf
      .replace(/^\s*auth_request \/\/spawner\/route;\n/m, '')
      .replace(/^(\s*)auth_request_set (\$\w+) .*\n/gm, (_m, indent: string, name: string) => `${indent}set ${name} ${fixed[name] ?? '""'};\n`);
    if (plain === conf || /^\s*auth_request/m.test(plain)) throw new Error('could not make the plain proxy_pass baseline from nginx.conf');
    writeFileSync(file, plain);
  }
  const master = spawnNginx(prefix);
  await waitHttp(`http://127.0.0.1:${port}/healthz`, (s) => s === 200);
  return { port, prefix, pid: master.pid! };
}

// ---- 1. throughput and latency ---------------------------------------------------------------------

// CPU time (user + system) a set of processes has used, in ms. Per request it hardly moves when other
// work on the machine slows everything down, unlike requests/s, so it is the steadier estimate of what
// the token check costs the router.
const TICK_MS = 1000 / Number(spawnSync('getconf', ['CLK_TCK']).stdout.toString().trim() || 100);
function cpuMs(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
    } catch {
      // gone
    }
  }
  return ticks * TICK_MS;
}
// nginx's workers: the children of its master process.
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(entry));
    } catch {
      // gone
    }
  }
  return out;
}

interface WrkResult {
  rps: number;
  p50: number; // ms
  p99: number;
  errors: number;
  requests: number;
  cpuUs?: number; // router CPU (nginx workers + route service) per request, µs
}

function toMs(v: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(v.trim());
  if (!m) throw new Error(`wrk latency '${v}'`);
  return Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1);
}

function wrk(url: string, headers: Record<string, string>, seconds: number): WrkResult {
  const h = Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
  const r = spawnSync(wrkBinary, ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', ...h, url], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`wrk failed: ${r.stderr}`);
  const out = r.stdout;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  const p50 = toMs(/^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? '');
  const p99 = toMs(/^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? '');
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = non2xx + (socketErrors ? socketErrors.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  return { rps, p50, p99, errors, requests };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const range = (xs: number[], digits = 1) => `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;
function quantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

// ---- 2. refusals: one answer time for all -----------------------------------------------------------

function timedGet(port: number, agent: Agent, pathname: string, headers: Record<string, string>): Promise<{ status: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const req = request({ host: '127.0.0.1', port, path: pathname, headers, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: Number(process.hrtime.bigint() - start) / 1e6 }));
    });
    req.on('error', reject);
    req.end();
  });
}

// ---- 3. one client at its limit ----------------------------------------------------------------------

function openWs(url: string, localAddress: string): Promise<WebSocket | number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { localAddress });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('error', () => resolve(0));
  });
}

// ---- the run -----------------------------------------------------------------------------------------

const keyHex = randomBytes(32).toString('hex');
const key = parseAccessKey(Buffer.from(keyHex, 'hex'));
const token = (e: RouteEntry) => mintAccessToken(key, { namespace: 'spawner-backends', name: e.name, uid: e.uid });

const load = os.loadavg().map((l) => l.toFixed(2)).join(' ');
log(`load average before: ${load} (${os.cpus().length} cores); wrk -t1 -c${CONNECTIONS}, ${ROUNDS} rounds × ${SECONDS} s`);

const backendPort = await startStaticBackend();
const ready = (name: string, over: Partial<RouteEntry> = {}): RouteEntry => ({ name, uid: randomUUID(), phase: 'Ready', deleting: false, podIP: '127.0.0.1', port: backendPort, public: false, ...over });
const room = ready('room');
const other = ready('other-room');
const failed = ready('failed-room', { phase: 'Failed' });
const deleted = ready('deleted-room');
const openRoom = ready('room', { public: true });
// Throughput: no limits in the way (one client makes every request here); the modules still run.
const unlimited = { SPAWNER_CLIENT_REQUESTS_PER_SECOND: '1000000', SPAWNER_CLIENT_REQUEST_BURST: '1000000', SPAWNER_CLIENT_CONNECTIONS: '65534' };
const checked = await startRouteService([room, other, failed], keyHex, true);
const unchecked = await startRouteService([openRoom], keyHex, false);
const routers = {
  token: { ...(await startRouter({ routePort: checked.port, env: unlimited })), routePid: checked.pid },
  'no check': { ...(await startRouter({ routePort: unchecked.port, env: unlimited })), routePid: unchecked.pid },
  plain: { ...(await startRouter({ routePort: checked.port, env: unlimited, plainUpstream: `127.0.0.1:${backendPort}` })), routePid: 0 },
};
const shapes = Object.keys(routers) as Array<keyof typeof routers>;
const headersOf: Record<keyof typeof routers, Record<string, string>> = {
  token: { Cookie: `spawner_token=${token(room)}` },
  'no check': {},
  plain: {},
};
for (const s of shapes) {
  const probe = await fetch(`http://127.0.0.1:${routers[s].port}/p/room/`, { headers: headersOf[s] });
  if (probe.status !== 200) throw new Error(`${s}: /p/room/ answered ${probe.status}`);
  wrk(`http://127.0.0.1:${routers[s].port}/p/room/`, headersOf[s], 1); // warm-up
}

const results: Record<string, WrkResult[]> = { token: [], 'no check': [], plain: [] };
for (let round = 0; round < ROUNDS; round++) {
  // A different order each round, so no shape always runs right after the same one.
  const order = shapes.map((_, i) => shapes[(i + round) % shapes.length]!);
  for (const s of order) {
    const pids = [...childrenOf(routers[s].pid), ...(routers[s].routePid ? [routers[s].routePid] : [])];
    const cpuBefore = cpuMs(pids);
    const r = wrk(`http://127.0.0.1:${routers[s].port}/p/room/`, headersOf[s], SECONDS);
    r.cpuUs = ((cpuMs(pids) - cpuBefore) * 1000) / r.requests;
    results[s]!.push(r);
    log(`round ${round + 1} ${s.padEnd(8)} ${r.rps.toFixed(0)} req/s, p50 ${r.p50.toFixed(3)} ms, p99 ${r.p99.toFixed(3)} ms, router CPU ${r.cpuUs.toFixed(1)} µs/request${r.errors ? `, ${r.errors} errors` : ''}`);
  }
}
const tokenOverNoCheck = results.token!.map((r, i) => r.rps / results['no check']![i]!.rps);
const p50Delta = results.token!.map((r, i) => r.p50 - results['no check']![i]!.p50);
const routeOverPlain = results.token!.map((r, i) => r.rps / results.plain![i]!.rps);
const routeP50Delta = results.token!.map((r, i) => r.p50 - results.plain![i]!.p50);
const cpuTokenOverNoCheck = results.token!.map((r, i) => r.cpuUs! / results['no check']![i]!.cpuUs!);
const cpuCheckUs = results.token!.map((r, i) => r.cpuUs! - results['no check']![i]!.cpuUs!);

// 2. refusals
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
const tokenRouter = routers.token.port;
// A uid the route service knows to be gone: its backend was deleted before the run.
const probes: Record<string, { path: string; headers: Record<string, string> }> = {
  'routed (200)': { path: '/p/room/', headers: { Cookie: `spawner_token=${token(room)}` } },
  'unknown name': { path: '/p/nobody/', headers: {} },
  'no token': { path: '/p/room/', headers: {} },
  'wrong token': { path: `/p/room/?token=${'A'.repeat(44)}`, headers: {} },
  'another backend’s token': { path: `/p/room/?token=${token(other)}`, headers: {} },
  'Failed backend, its token': { path: `/p/failed-room/?token=${token(failed)}`, headers: {} },
  'expired token (name re-created)': { path: `/p/room/?token=${token({ ...room, uid: deleted.uid })}`, headers: {} },
};
const times: Record<string, number[]> = Object.fromEntries(Object.keys(probes).map((k) => [k, []]));
const statuses: Record<string, Set<number>> = Object.fromEntries(Object.keys(probes).map((k) => [k, new Set<number>()]));
for (let i = 0; i < PROBES; i++) {
  // A new order every time, so no kind always follows the same one.
  const kinds = Object.entries(probes).sort(() => Math.random() - 0.5);
  for (const [kind, p] of kinds) {
    const r = await timedGet(tokenRouter, agent, p.path, p.headers);
    times[kind]!.push(r.ms);
    statuses[kind]!.add(r.status);
  }
}
agent.destroy();

// 3. one client at its limit, with the shipped limits
const wsBackend = createServer((_req, res) => res.end('ok\n'));
new WebSocketServer({ server: wsBackend });
await new Promise<void>((resolve) => wsBackend.listen(0, '127.0.0.1', resolve));
const wsPort = (wsBackend.address() as AddressInfo).port;
const lobby = ready('lobby', { port: wsPort });
const limitsRoute = await startRouteService([lobby], keyHex, true);
const limited = await startRouter({ routePort: limitsRoute.port });
const conf = readFileSync(path.join(limited.prefix, 'nginx.conf'), 'utf8');
const perClient = Number(/limit_conn spawner_client_connections (\d+);/.exec(conf)?.[1]);
const wsUrl = `ws://127.0.0.1:${limited.port}/p/lobby/ws?token=${token(lobby)}`;
const held: WebSocket[] = [];
let refused = 0;
let failedOpen = 0;
const holdStart = Date.now();
// Keeps trying, 50 at a time, for ~2,000 sockets.
for (let i = 0; i < HOLD; i += 50) {
  const batch = await Promise.all(Array.from({ length: Math.min(50, HOLD - i) }, () => openWs(wsUrl, '127.0.0.1')));
  for (const o of batch) {
    if (typeof o === 'number') {
      if (o === 429) refused++;
      else failedOpen++;
    } else held.push(o);
  }
  // Paced so that the rate limit's refill lets it reach its connection limit within the attempts.
  await sleep(250);
}
const holdSeconds = (Date.now() - holdStart) / 1000;
const ordinary = await Promise.all(
  Array.from({ length: 20 }, async (_, i) => {
    const start = performance.now();
    const res = await new Promise<number>((resolve) => {
      const req = request({ host: '127.0.0.1', port: limited.port, path: `/p/lobby/?token=${token(lobby)}`, localAddress: `127.0.1.${i + 1}`, agent: false, timeout: 10_000 }, (r) => {
        r.resume();
        r.on('end', () => resolve(r.statusCode ?? 0));
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(0));
      req.end();
    });
    return { status: res, ms: performance.now() - start };
  }),
);
for (const ws of held) ws.terminate();
wsBackend.closeAllConnections();
wsBackend.close();

// ---- report ----------------------------------------------------------------------------------------

const loadAfter = os.loadavg().map((l) => l.toFixed(2)).join(' ');
const line = (s: string) => process.stdout.write(`${s}\n`);
const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');
line('');
line(`bench/router — loopback, ${os.cpus().length} cores, load average ${load} before, ${loadAfter} after`);
line(`wrk -t1 -c${CONNECTIONS}, ${ROUNDS} interleaved rounds of ${SECONDS} s; backend: nginx returning 200 "ok"`);
line('');
line('| router | req/s median (range) | p50 ms median (range) | p99 ms median (range) | router CPU µs/request median (range) | errors |');
line('| --- | --: | --: | --: | --: | --: |');
for (const s of shapes) {
  const rs = results[s]!;
  line(
    `| ${s} | ${median(rs.map((r) => r.rps)).toFixed(0)} (${range(rs.map((r) => r.rps), 0)}) | ${median(rs.map((r) => r.p50)).toFixed(3)} (${range(rs.map((r) => r.p50), 3)}) | ` +
      `${median(rs.map((r) => r.p99)).toFixed(3)} (${range(rs.map((r) => r.p99), 3)}) | ${median(rs.map((r) => r.cpuUs!)).toFixed(1)} (${range(rs.map((r) => r.cpuUs!))}) | ${rs.reduce((a, r) => a + r.errors, 0)} |`,
  );
}
line('');
const checkCost = (1 - median(tokenOverNoCheck)) * 100;
line(`token check: req/s token ÷ no check per round, median ${median(tokenOverNoCheck).toFixed(3)} (range ${range(tokenOverNoCheck, 3)}) → costs ${checkCost.toFixed(1)} % of the router's requests/s — target ≤ 5 %: ${verdict(checkCost <= 5)}`);
line(
  `token check: router CPU per request token ÷ no check per round, median ${median(cpuTokenOverNoCheck).toFixed(3)} (range ${range(cpuTokenOverNoCheck, 3)}), ` +
    `+${median(cpuCheckUs).toFixed(1)} µs (range ${range(cpuCheckUs)}) → on a CPU-bound router that is ${((1 - 1 / median(cpuTokenOverNoCheck)) * 100).toFixed(1)} % of its requests/s — target ≤ 5 %: ${verdict(1 - 1 / median(cpuTokenOverNoCheck) <= 0.05)}`,
);
line(`token check: p50 token − no check per round, median ${median(p50Delta).toFixed(3)} ms (range ${range(p50Delta, 3)}) — target ≤ 0.2 ms: ${verdict(median(p50Delta) <= 0.2)}`);
line(`route service at all: req/s token ÷ plain proxy_pass per round, median ${median(routeOverPlain).toFixed(3)} (range ${range(routeOverPlain, 3)}); p50 + ${median(routeP50Delta).toFixed(3)} ms (range ${range(routeP50Delta, 3)}) — no target; reported as measured`);
line('');
line(`refusals vs a routed request: ${PROBES} each, interleaved, one kept-alive connection (ms)`);
line('| request | status | p50 | p90 | p99 |');
line('| --- | --: | --: | --: | --: |');
for (const [kind, ts] of Object.entries(times)) {
  line(`| ${kind} | ${[...statuses[kind]!].join(',')} | ${quantile(ts, 0.5).toFixed(3)} | ${quantile(ts, 0.9).toFixed(3)} | ${quantile(ts, 0.99).toFixed(3)} |`);
}
const refusalP50s = Object.entries(times).filter(([k]) => k !== 'routed (200)').map(([, ts]) => quantile(ts, 0.5));
const refusalStatuses = new Set(Object.entries(statuses).filter(([k]) => k !== 'routed (200)').flatMap(([, s]) => [...s]));
line(`every refusal answered ${[...refusalStatuses].join(',')}; p50s within ${((Math.max(...refusalP50s) - Math.min(...refusalP50s)) * 1000).toFixed(0)} µs of each other`);
line('');
const answered = ordinary.filter((o) => o.status === 200).length;
line(
  `one client at its limit (${perClient} requests in progress per client address, shipped default): it held ${held.length} WebSockets, ` +
    `${refused} more were refused 429, ${failedOpen} failed otherwise, over ${holdSeconds.toFixed(1)} s of trying for ${HOLD}`,
);
line(`ordinary requests from 20 other clients meanwhile: ${answered}/20 answered 200 (p50 ${quantile(ordinary.map((o) => o.ms), 0.5).toFixed(1)} ms, max ${Math.max(...ordinary.map((o) => o.ms)).toFixed(1)} ms) — target 20/20: ${verdict(answered === 20)}`);
process.exit(0);
