// Ready means routable, on the real node: drop-four backends are created (one at a time, then in
// bursts of 20 at once), a watch sees each turn Ready, and in that same instant — no retry, no delay —
// the bench sends one GET to its status.url and opens one WebSocket to it. Each is one try; a try
// succeeds when the app answers (GET 200 from drop-four, WebSocket opened and a first message from
// the game received), and fails on anything else (the waiting page, the ended page, a refused upgrade).
// Prints Ready → first successful answer p50/p99/max per kind and the failures, beside the target
// (0 failures in 200 tries).
//
//   node bench/router/ready.ts [--backends 100] [--singles 20] [--burst 20]
//
// Needs KUBECONFIG pointing at a cluster with Spawner deployed (make up); run it under the real node's
// lock: flock /tmp/spawner-real-node.lock node bench/router/ready.ts
import os from 'node:os';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION } from '../../common/contract.ts';
import { createInformer } from '../../common/kube/informer.ts';
import { loadKubeAccess } from '../../common/kube/kubeconfig.ts';
import { requestJson } from '../../common/kube/rest.ts';
import { createLogger } from '../../common/log.ts';
import { waitFor } from '../../e2e/harness/wait.ts';

const { values: args } = parseArgs({
  options: {
    backends: { type: 'string', default: '100' },
    singles: { type: 'string', default: '20' },
    burst: { type: 'string', default: '20' },
    namespace: { type: 'string', default: 'spawner-backends' },
    image: { type: 'string', default: 'localhost/spawner/drop-four:0.1.0' },
  },
});
const BACKENDS = Number(args.backends);
const SINGLES = Number(args.singles);
const BURST = Number(args.burst);
for (const [flag, v] of [['--backends', BACKENDS], ['--singles', SINGLES], ['--burst', BURST]] as const) {
  if (!Number.isInteger(v) || v < 0 || (flag !== '--singles' && v < 1)) {
    process.stderr.write(`bench/router/ready: ${flag} must be a whole number ≥ ${flag === '--singles' ? 0 : 1}\n`);
    process.exit(2);
  }
}
if (!process.env.KUBECONFIG) {
  process.stderr.write('bench/router/ready: KUBECONFIG must name a cluster with Spawner deployed (make up)\n');
  process.exit(2);
}
const namespace = args.namespace!;
const log = (line: string) => process.stderr.write(`[ready] ${line}\n`);
const kc = await loadKubeAccess(process.env.KUBECONFIG);
const slbPath = `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`;
const RUN = `bench-ready-${Date.now().toString(36)}`;

interface Slb {
  metadata: { name: string; uid: string; labels?: Record<string, string> };
  status?: { phase?: string; url?: string };
}

interface Try {
  name: string;
  kind: 'GET' | 'WebSocket';
  ok: boolean;
  ms: number; // Ready seen → answer
  detail: string;
  burst: boolean; // created in a burst (else one at a time)
}
const tries: Try[] = [];
const inBurst = new Set<string>(); // names created in a burst of --burst at once
function record(t: Omit<Try, 'burst'>): void {
  tries.push({ ...t, burst: inBurst.has(t.name) });
  if (!t.ok) log(`FAILED ${t.kind} ${t.name} after ${t.ms.toFixed(1)} ms: ${t.detail}`);
}
const pending = new Map<string, () => void>(); // name → resolve once both tries are done

function tryGet(name: string, url: string, seen: number): Promise<void> {
  return fetch(url, { redirect: 'manual' }).then(
    async (res) => {
      const body = await res.text();
      const ok = res.status === 200 && body.includes('drop-four');
      record({ name, kind: 'GET', ok, ms: performance.now() - seen, detail: `${res.status} ${res.headers.get('x-spawner-waiting') ?? ''} ${body.slice(0, 60).replace(/\s+/g, ' ')}`.trim() });
    },
    (err: Error) => record({ name, kind: 'GET', ok: false, ms: performance.now() - seen, detail: `${err.message} ${String((err as { cause?: unknown }).cause ?? '')}` }),
  );
}

function tryWebSocket(name: string, url: string, seen: number): Promise<void> {
  // drop-four's socket is `ws` beside its page; the token goes along in the query, as a first visit's would.
  const target = new URL('ws', url);
  target.search = new URL(url).search;
  target.protocol = target.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(target);
  return new Promise<void>((resolve) => {
    let settled = false;
    const done = (ok: boolean, detail: string) => {
      // Only the first outcome counts: terminating the socket below fires its 'close' too.
      if (settled) return;
      settled = true;
      record({ name, kind: 'WebSocket', ok, ms: performance.now() - seen, detail });
      ws.terminate();
      resolve();
    };
    // drop-four speaks first on a new socket (player-joined, then the game's state): the app answered.
    ws.once('message', (data) => {
      const m = JSON.parse(data.toString()) as { type?: string };
      done(typeof m.type === 'string', `first message ${m.type}`);
    });
    ws.once('unexpected-response', (_req, res) => done(false, `upgrade refused ${res.statusCode} ${res.headers['x-spawner-waiting'] ?? ''}`.trim()));
    ws.once('close', (code, reason) => done(false, `closed ${code} ${reason.toString()}`));
    ws.once('error', (err) => done(false, err.message));
  });
}

// The same instant the watch shows Ready: both tries go out at once.
const fired = new Set<string>();
const informer = createInformer<Slb & { apiVersion?: string; kind?: string }>({
  kubeConfig: kc,
  path: slbPath,
  labelSelector: `spawner.dev/bench=${RUN}`,
  log: createLogger('bench', 'silent'),
  name: 'bench-slbs',
});
informer.onEvent((ev) => {
  const slb = ev.obj;
  const name = slb.metadata.name;
  if (slb.status?.phase === 'Failed') {
    log(`${name} Failed`);
    pending.get(name)?.();
  }
  if (slb.status?.phase !== 'Ready' || fired.has(name)) return;
  fired.add(name);
  const seen = performance.now();
  const url = slb.status.url;
  if (!url) {
    record({ name, kind: 'GET', ok: false, ms: 0, detail: 'Ready without a url' });
    pending.get(name)?.();
    return;
  }
  void Promise.all([tryGet(name, url, seen), tryWebSocket(name, url, seen)]).then(() => pending.get(name)?.());
});
await informer.start();

function manifest(i: number) {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { generateName: 'bench-ready-', namespace, labels: { 'spawner.dev/bench': RUN } },
    spec: { gracePeriodSeconds: 30, template: { containers: [{ name: 'app', image: args.image, imagePullPolicy: 'IfNotPresent' }] } },
    _i: i,
  };
}

async function createOne(i: number): Promise<string> {
  const { _i, ...body } = manifest(i);
  const made = await requestJson<Slb>(kc, { method: 'POST', path: slbPath, body });
  return made.metadata.name;
}

async function runBatch(indices: number[]): Promise<void> {
  const names: string[] = [];
  const settled: Promise<void>[] = [];
  for (const name of await Promise.all(indices.map(createOne))) {
    names.push(name);
    if (indices.length > 1) inBurst.add(name);
    settled.push(new Promise<void>((resolve) => pending.set(name, resolve)));
  }
  // A backend Ready before its resolver was set was tried already; settle it now.
  for (const name of names) if (tries.filter((t) => t.name === name).length >= 2) pending.get(name)?.();
  let timer: NodeJS.Timeout | undefined;
  const inTime = await Promise.race([
    Promise.all(settled).then(() => true),
    new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), 300_000))),
  ]);
  clearTimeout(timer);
  if (!inTime) log(`some of ${names.join(', ')} were not Ready within 300 s`);
  await Promise.all(names.map((name) => requestJson(kc, { method: 'DELETE', path: `${slbPath}/${name}` }).catch(() => undefined)));
}

const loadBefore = os.loadavg().map((l) => l.toFixed(2)).join(' ');
log(`load average ${loadBefore}; ${SINGLES} backends one at a time, then ${BACKENDS - SINGLES} in bursts of ${BURST}`);
let made = 0;
for (; made < Math.min(SINGLES, BACKENDS); made++) await runBatch([made]);
while (made < BACKENDS) {
  const n = Math.min(BURST, BACKENDS - made);
  await runBatch(Array.from({ length: n }, (_, k) => made + k));
  made += n;
  log(`${made}/${BACKENDS} backends, ${tries.filter((t) => !t.ok).length} failed tries so far`);
}
informer.stop();

// Leave nothing behind: wait until this run's backends are gone.
await waitFor(
  async () => ((await requestJson<{ items: unknown[] }>(kc, { path: slbPath, query: { labelSelector: `spawner.dev/bench=${RUN}` } })).items.length === 0 ? true : undefined),
  { what: 'the bench backends to be deleted', timeoutMs: 300_000 },
).catch(() => log('some bench backends are still being deleted'));

function quantile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}
const line = (s: string) => process.stdout.write(`${s}\n`);
line('');
line(`bench/router/ready — real node, ${os.cpus().length} cores, load average ${loadBefore} before, ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} after`);
line(`${BACKENDS} drop-four backends (${Math.min(SINGLES, BACKENDS)} one at a time, the rest in bursts of ${BURST}); one GET and one WebSocket the instant each was seen Ready`);
line('');
line('| try | tries | failed | Ready → answer p50 ms | p99 ms | max ms |');
line('| --- | --: | --: | --: | --: | --: |');
// One row per kind and way of creating (the target holds for each), then each kind over all.
const rows: Array<[string, (t: Try) => boolean]> = [
  ['one at a time', (t) => !t.burst],
  [`${BURST} at once`, (t) => t.burst],
  ['all', () => true],
];
for (const kind of ['GET', 'WebSocket'] as const) {
  for (const [label, pick] of rows) {
    const ts = tries.filter((t) => t.kind === kind && pick(t));
    const ok = ts.filter((t) => t.ok).map((t) => t.ms);
    line(`| ${kind}, ${label} | ${ts.length} | ${ts.length - ok.length} | ${quantile(ok, 0.5).toFixed(1)} | ${quantile(ok, 0.99).toFixed(1)} | ${ok.length ? Math.max(...ok).toFixed(1) : 'NaN'} |`);
  }
}
const failed = tries.filter((t) => !t.ok);
for (const f of failed) line(`failed: ${f.kind}${f.burst ? ' (burst)' : ''} ${f.name} after ${f.ms.toFixed(1)} ms: ${f.detail}`);
line(`first-request failures after Ready: ${failed.length} in ${tries.length} tries — target 0 in 200: ${failed.length === 0 && tries.length >= 200 ? 'met' : failed.length === 0 ? `no failures, but only ${tries.length} tries` : 'NOT met'}`);
process.exit(0);
