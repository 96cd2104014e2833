// The load the benchmark puts on a proxy: HTTP with wrk (Debian's package) and autocannon, WebSocket
// echoes, and WebSocket churn. Each returns plain numbers; run.ts compares them.
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import WebSocket from 'ws';

const run = promisify(execFile);

export interface HttpResult {
  requestsPerSecond: number;
  requests: number;
  p50Ms: number;
  p99Ms: number;
  errors: number; // socket errors, timeouts and non-2xx answers
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000 };

function durationMs(text: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text.trim());
  if (!m) throw new Error(`wrk: cannot read the duration '${text}'`);
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

/** wrk's report (with --latency) as numbers. Pure, for tests. */
export function parseWrk(output: string): HttpResult {
  const field = (re: RegExp, what: string): string => {
    const m = re.exec(output);
    if (!m) throw new Error(`wrk: no ${what} in its output:\n${output}`);
    return m[1]!;
  };
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1] ?? 0);
  return {
    requestsPerSecond: Number(field(/Requests\/sec:\s+([\d.]+)/, 'Requests/sec')),
    requests: Number(field(/(\d+) requests in /, 'request count')),
    p50Ms: durationMs(field(/^\s+50%\s+(\S+)/m, '50% latency')),
    p99Ms: durationMs(field(/^\s+99%\s+(\S+)/m, '99% latency')),
    errors: non2xx + (socketErrors ? socketErrors.slice(1).reduce((a, b) => a + Number(b), 0) : 0),
  };
}

/** One wrk thread: the machine has two cores, shared by the load, the proxy and the app. */
export async function wrk(port: number, connections: number, seconds: number): Promise<HttpResult> {
  const { stdout } = await run('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', `http://127.0.0.1:${port}/`]);
  return parseWrk(stdout);
}

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  errors: number;
  timeouts: number;
  non2xx: number;
}
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>;
const autocannonRun = createRequire(import.meta.url)('autocannon') as Autocannon;

export async function autocannon(port: number, connections: number, seconds: number): Promise<HttpResult> {
  const r = await autocannonRun({ url: `http://127.0.0.1:${port}/`, connections, pipelining: 1, duration: seconds });
  return {
    requestsPerSecond: r.requests.average,
    requests: r.requests.total,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    errors: r.errors + r.timeouts + r.non2xx,
  };
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function openWs(port: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

const PAYLOAD = Buffer.alloc(32, 7);

/** One connection, one message in flight: the round trip as a user's click would see it (ms). */
export async function wsRoundTrips(port: number, count: number): Promise<number[]> {
  const ws = await openWs(port);
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

/**
 * Several connections, each keeping `window` 32-byte messages in flight, for `seconds`: echoes per
 * second. `measure` is called as counting starts and again as it stops (to read a process's CPU).
 */
export async function wsThroughput(port: number, connections: number, window: number, seconds: number, measure: () => void = () => {}): Promise<{ echoes: number; perSecond: number }> {
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
  measure();
  counting = true;
  const start = performance.now();
  await sleep(seconds * 1000);
  counting = false;
  measure();
  const elapsed = (performance.now() - start) / 1000;
  running = false;
  for (const ws of sockets) ws.terminate();
  return { echoes, perSecond: echoes / elapsed };
}

/** Opens `count` WebSockets, `parallel` handshakes at a time. */
export async function openMany(port: number, count: number, parallel = 100): Promise<WebSocket[]> {
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

/** Closes them with a proper close handshake and waits until every one has closed. */
export async function closeAll(sockets: WebSocket[]): Promise<void> {
  await Promise.all(
    sockets.map(
      (ws) =>
        new Promise<void>((resolve) => {
          if (ws.readyState === WebSocket.CLOSED) return resolve();
          ws.once('close', () => resolve());
          ws.close();
        }),
    ),
  );
}
