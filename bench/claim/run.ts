// Claim benchmark on the integration cluster (kwok nodes): a WarmPool large enough, then backends with
// spec.poolRef created open-loop at each rate (one every 1/R s, whatever the answers). Prints per rate:
// create→Ready p50/p99 (create sent → Ready seen by the benchmark's own watch), claims/s sustained,
// warm and cold counts, the operator's API writes per claim as the API server counted them
// (apiserver_request_total deltas), the API server's and the operator's CPU per claim (their
// process_cpu_seconds_total: on this machine the API server's CPU is what bounds claims), and how fast
// the pool refilled afterwards, and where a warm claim's time goes: create→Ready split into stages
// (bench/claim/stages.ts) from the bench's clock and the operator's log lines, p50/p99 of each, and
// each stage's mean among the slowest 5% of claims (what the p99 is made of).
//
//   node bench/claim/run.ts [--rates 10,50,200] [--seconds 5] [--pool N] [--rounds R] [--nodes 4] [--profile]
//                           [--manifests bare,spawner] [--operator-dir DIR]
//
// --manifests: how each claim is written, compared in one run (each rate once with each, the order
// rotated per round): 'bare', as kubectl writes it (the operator patches its finalizer in first), and
// 'spawner', as the CLI and POST /init write it (common/spawner/backend.ts newClaim: the finalizer already
// on) — the path real users' web apps take. The summary gives each kind's figures and their per-round ratio.
// --operator-dir: the root of another checkout (e.g. `git archive OLD operator common schema | tar -x -C DIR`
// with node_modules linked in); its operator/src/main.ts then runs in alternate rounds beside this one's
// (one operator at a time, the order rotated per round), for a before/after in one run.
//
// --profile writes the operator's V8 CPU profile (read it with bench/operator/cpuprofile-top.ts).
//
// Brings up its own cluster (state in SPAWNER_CLUSTER_STATE, default .cache/cluster/bench-claim.json)
// unless KUBECONFIG names one; the operator runs as a local process under its service account's RBAC.
// The real-node figures (through nginx) come from bench/claim/real-node.ts.
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { KubeConfig, KubernetesObject, V1Pod } from '@kubernetes/client-node';
import { GROUP, LABEL_POOL, PLURAL, POOL_PLURAL, VERSION } from '../../common/contract.ts';
import { newClaim } from '../../common/spawner/backend.ts';
import { CONDITION_POOL_CLAIM } from '../../common/spawner/conditions.ts';
import { createInformer, type Informer } from '../../common/kube/informer.ts';
import { requestJson } from '../../common/kube/rest.ts';
import { memoryLogger } from '../../common/kube/testing/memlog.ts';
import { down, up } from '../../e2e/harness/cluster.ts';
import { apiClients, loadKubeConfig, waitFor } from '../../e2e/harness/kube.ts';
import { repoRoot } from '../../e2e/harness/paths.ts';
import { createNamespace, deleteNamespaceWithBackends, installOperatorRbac, metricValue, operatorKubeconfig, operatorMain, startOperator, tempDir, type OperatorProcess } from '../../operator/test/support/operator-process.ts';
import type { Slb } from '../../operator/test/support/slbs.ts';
import type { WarmPool } from '../../schema/generated/types.ts';
import { difference, formatServerTime, parseRequestTotals, readMetricsText, serverTime, type RequestSeries } from '../operator/apiserver-metrics.ts';
import { median, percentile, spread } from '../operator/stats.ts';
import { parseManifests, type Manifest } from '../support/manifests.ts';
import { claimStages, operatorClocks, STAGES, type ClaimClock, type Stage } from './stages.ts';

const { values: args } = parseArgs({
  options: {
    rates: { type: 'string', default: '10,50,200' },
    seconds: { type: 'string', default: '5' }, // how long each rate is held
    pool: { type: 'string', default: '' }, // default: twice the highest rate's claims, with a margin (below)
    rounds: { type: 'string', default: '1' },
    nodes: { type: 'string', default: '4' },
    'keep-cluster': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    manifests: { type: 'string', default: 'bare,spawner' },
    'operator-dir': { type: 'string', default: '' },
  },
});
const manifests = parseManifests(args.manifests!);
// The operators compared: this checkout's ('this'), and with --operator-dir the other one's ('other').
const operators = [{ name: 'this', main: operatorMain }, ...(args['operator-dir'] ? [{ name: 'other', main: path.resolve(args['operator-dir'], 'operator/src/main.ts') }] : [])];
for (const o of operators) if (!existsSync(o.main)) throw new Error(`--operator-dir: no ${o.main}`);
const rates = args.rates!.split(',').map((x) => Number(x.trim()));
const seconds = Number(args.seconds);
const rounds = Number(args.rounds);
if (rates.some((r) => !(r > 0)) || !(seconds > 0) || !Number.isInteger(rounds) || rounds < 1) {
  throw new Error('--rates: positive numbers separated by commas; --seconds > 0; --rounds a whole number ≥ 1');
}
// Large enough by default: twice the largest burst, and a margin. Below half its members the pool refills
// while claims still arrive (operator/src/pools/plan.ts, rule 5), and the figures would then be of claims
// and a refill sharing the API server; a smaller --pool measures that on purpose.
const poolSize = args.pool ? Number(args.pool) : Math.ceil(Math.max(...rates) * seconds * 2.4);
const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

interface RateResult {
  rate: number;
  round: number;
  manifest: Manifest;
  operator: string; // which operator claimed ('this' or 'other')
  claims: number;
  warm: number;
  cold: number;
  latencyMs: number[]; // create sent → Ready seen, warm claims
  coldLatencyMs: number[];
  sustainedPerS: number; // claims Ready / (last Ready − first create)
  sendSeconds: number; // how long sending took (open loop: the rate actually offered)
  writes: ClaimWrites;
  refillSeconds: number; // last claim Ready → pool full again
  refillPerS: number; // members replaced per second, first claim → pool full again
  load: string;
  // CPU per claim (ms), first create → last Ready, from each process's process_cpu_seconds_total: the
  // API server's is all it did meanwhile (kwok, the scheduler, a refill if one ran), the operator's its own.
  apiServerCpuMs: number;
  operatorCpuMs: number;
  poolPasses: number; // the pool controller's reconciles per claim (each looks at every member)
  serverTime: string[]; // the API server's own time per kind of request while claiming (why a claim waits)
  stages: ClaimStages[]; // warm claims' create→Ready by stage
}

type ClaimStages = Partial<Record<Stage | 'patch', number>> & { total: number };

// The operator's writes while claiming, by what they are. Pods PATCHed are claims (kwok writes
// pods/status, the scheduler pods/binding: other subresources); Pods POSTed are the pool's refills.
interface ClaimWrites {
  claimPatches: number; // PATCH pods (2xx and 409)
  claimConflicts: number; // PATCH pods answered 409: a claim lost to another (should be ~0)
  finalizers: number; // PATCH sessionlivedbackends
  statuses: number; // PATCH sessionlivedbackends/status
  refills: number; // POST pods
  poolStatuses: number; // PATCH warmpools/status
  events: number; // POST events
}

function claimWrites(delta: RequestSeries[]): ClaimWrites {
  const sum = (pred: (s: RequestSeries) => boolean) => delta.filter(pred).reduce((n, s) => n + s.count, 0);
  const is = (verb: string, group: string, resource: string, subresource = '') => (s: RequestSeries) =>
    s.verb === verb && s.group === group && s.resource === resource && s.subresource === subresource;
  return {
    claimPatches: sum(is('PATCH', '', 'pods')),
    claimConflicts: sum((s) => is('PATCH', '', 'pods')(s) && s.code === '409'),
    finalizers: sum(is('PATCH', GROUP, PLURAL)),
    statuses: sum(is('PATCH', GROUP, PLURAL, 'status')),
    refills: sum(is('POST', '', 'pods')),
    poolStatuses: sum(is('PATCH', GROUP, POOL_PLURAL, 'status')),
    events: sum(is('POST', '', 'events')),
  };
}

function poolManifest(namespace: string, replicas: number): WarmPool {
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'WarmPool',
    metadata: { name: 'bench', namespace },
    spec: { replicas, template: { containers: [{ name: 'app', image: 'example.invalid/app:1' }] } },
  };
}

function claimManifest(manifest: Manifest, namespace: string, name: string): Slb {
  if (manifest === 'spawner') return newClaim({ namespace, name, createdBy: 'spawner-bench', pool: 'bench', gracePeriodSeconds: 3600 }) as Slb;
  return { apiVersion: `${GROUP}/${VERSION}`, kind: 'SessionLivedBackend', metadata: { name, namespace }, spec: { poolRef: { name: 'bench' }, gracePeriodSeconds: 3600 } };
}

const readyMembers = (pods: Informer<KubernetesObject>) =>
  (pods.list() as V1Pod[]).filter((p) => p.metadata?.labels?.[LABEL_POOL] === 'bench' && !p.metadata.deletionTimestamp && p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length;

async function waitPoolFull(pods: Informer<KubernetesObject>, operator: OperatorProcess, what: string): Promise<number> {
  const started = performance.now();
  await waitFor(() => readyMembers(pods) >= poolSize || undefined, {
    what, timeoutMs: Math.max(300_000, poolSize * 500), intervalMs: 20,
    onProgress: (line) => log(`${line} (${readyMembers(pods)} of ${poolSize} members Ready)`), progressEveryMs: 10_000,
    failFast: () => operator.exited(),
  });
  return (performance.now() - started) / 1000;
}

interface Run {
  rate: number;
  round: number;
  manifest: Manifest;
  operator: string;
}

async function claimAtRate(kc: KubeConfig, namespace: string, run: Run, pods: Informer<KubernetesObject>, operator: OperatorProcess): Promise<RateResult> {
  const { rate, round, manifest } = run;
  const count = Math.round(rate * seconds);
  const names = Array.from({ length: count }, (_, i) => `c${round}-${run.operator[0]}${manifest[0]}-${rate}-${i}`);
  const sent = new Map<string, number>();
  const ready = new Map<string, number>();
  const clocks = new Map<string, ClaimClock>(); // epoch ms, to meet the operator's log times
  const warm = new Set<string>();
  const { log: quiet } = memoryLogger();
  const slbs = createInformer<Slb>({ kubeConfig: kc, path: `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`, log: quiet, pageSize: 500 });
  slbs.onEvent((ev) => {
    const name = ev.obj.metadata.name!;
    const clock = clocks.get(name);
    if (clock && clock.seen === undefined) clock.seen = Date.now();
    if (ev.type === 'delete' || !sent.has(name) || ready.has(name) || ev.obj.status?.phase !== 'Ready') return;
    ready.set(name, performance.now());
    clock!.ready = Date.now();
    if (ev.obj.status.conditions?.some((c) => c.type === CONDITION_POOL_CLAIM && c.status === 'True')) warm.add(name);
  });
  await slbs.start();
  const load = os.loadavg()[0]!.toFixed(1);
  const cpu = 'process_cpu_seconds_total';
  const passes = (text: string) => metricValue(text, 'controller_runtime_reconcile_total', { controller: 'warmpool' });
  const operatorBefore = await operator.metrics();
  const operatorCpuBefore = metricValue(operatorBefore, cpu);
  const beforeText = await readMetricsText(kc);
  const before = parseRequestTotals(beforeText);
  const base = `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`;
  const started = performance.now();
  const inFlight: Promise<unknown>[] = [];
  for (const [i, name] of names.entries()) {
    const due = started + (i * 1000) / rate;
    if (due > performance.now()) await sleep(due - performance.now());
    sent.set(name, performance.now());
    const clock: ClaimClock = { sent: Date.now() };
    clocks.set(name, clock);
    inFlight.push(requestJson(kc, { method: 'POST', path: base, body: claimManifest(manifest, namespace, name) }).then(() => (clock.answered = Date.now())));
  }
  const sendSeconds = (performance.now() - started) / 1000;
  await Promise.all(inFlight);
  await waitFor(() => ready.size >= count || undefined, {
    what: `${count} claims Ready`, timeoutMs: Math.max(300_000, count * 1000), intervalMs: 10,
    onProgress: (line) => log(`${line} (${ready.size} Ready)`), progressEveryMs: 10_000, failFast: () => operator.exited(),
  });
  const lastReady = Math.max(...ready.values());
  const afterText = await readMetricsText(kc);
  const operatorAfter = await operator.metrics();
  const operatorCpuAfter = metricValue(operatorAfter, cpu);
  const after = parseRequestTotals(afterText);
  slbs.stop();
  await waitPoolFull(pods, operator, `the pool refilled after ${count} claims`);
  const full = performance.now();
  const latency = (filter: (n: string) => boolean) => names.filter(filter).map((n) => ready.get(n)! - sent.get(n)!);
  const logged = operatorClocks(readFileSync(operator.logFile, 'utf8'), namespace);
  const stages = names.filter((n) => warm.has(n)).map((n) => ({ ...claimStages(clocks.get(n)!, logged.get(n)), total: ready.get(n)! - sent.get(n)! }));
  return {
    ...run,
    claims: count,
    warm: warm.size,
    cold: count - warm.size,
    latencyMs: latency((n) => warm.has(n)),
    coldLatencyMs: latency((n) => !warm.has(n)),
    sustainedPerS: count / ((lastReady - started) / 1000),
    sendSeconds,
    writes: claimWrites(difference(before, after)),
    refillSeconds: (full - lastReady) / 1000,
    refillPerS: count / ((full - started) / 1000),
    load: `${load} → ${os.loadavg()[0]!.toFixed(1)}`,
    apiServerCpuMs: ((metricValue(afterText, cpu) - metricValue(beforeText, cpu)) * 1000) / count,
    operatorCpuMs: ((operatorCpuAfter - operatorCpuBefore) * 1000) / count,
    poolPasses: (passes(operatorAfter) - passes(operatorBefore)) / count,
    serverTime: formatServerTime(serverTime(beforeText, afterText)),
    stages,
  };
}

const operatorWrites = (r: RateResult) => r.writes.claimPatches + r.writes.finalizers + r.writes.statuses;
const label = (r: Run) => `${operators.length > 1 ? `operator ${r.operator}, ` : ''}${r.manifest} manifests`;

function report(r: RateResult): string {
  const ms = (xs: number[], p: number) => `${percentile(xs, p).toFixed(1)} ms`;
  const per = (x: number) => (x / r.claims).toFixed(2);
  const w = r.writes;
  return [
    `${r.rate} claims/s offered for ${seconds} s, ${label(r)}, round ${r.round + 1} (${r.claims} claims, sent in ${r.sendSeconds.toFixed(2)} s; load average ${r.load})`,
    `  warm ${r.warm}, cold ${r.cold}`,
    `  create→Ready (warm)       p50 ${ms(r.latencyMs, 50)}  p99 ${ms(r.latencyMs, 99)}  max ${ms(r.latencyMs, 100)}`,
    ...(r.coldLatencyMs.length ? [`  create→Ready (cold)       p50 ${ms(r.coldLatencyMs, 50)}  p99 ${ms(r.coldLatencyMs, 99)}`] : []),
    `  sustained                 ${r.sustainedPerS.toFixed(0)} claims Ready/s (first create → last Ready)`,
    `  operator writes/claim     ${per(operatorWrites(r))} (claim patch ${per(w.claimPatches)}, finalizer ${per(w.finalizers)}, status ${per(w.statuses)}; 409s ${w.claimConflicts}) + events ${per(w.events)}`,
    `  CPU/claim                 API server ${r.apiServerCpuMs.toFixed(1)} ms (all its work meanwhile), operator ${r.operatorCpuMs.toFixed(1)} ms (pool passes/claim ${r.poolPasses.toFixed(2)})`,
    `  pool writes/claim         ${per(w.refills + w.poolStatuses)} (member creates ${per(w.refills)}, pool status ${per(w.poolStatuses)})`,
    `  refill                    ${r.refillPerS.toFixed(0)} members/s (first claim → ${poolSize} members Ready again, ${r.refillSeconds.toFixed(2)} s after the last claim was Ready)`,
    ...stageLines(r.stages).map((l) => `  ${l}`),
    '  API server time while claiming (first create → last Ready; server-side mean per request):',
    ...r.serverTime.map((l) => `    ${l}`),
  ].join('\n');
}

const STAGE_KEYS = [...STAGES.slice(0, 4), 'patch', ...STAGES.slice(4)] as const;
const stageName = (k: (typeof STAGE_KEYS)[number]) => (k === 'patch' ? '(of which patch)' : k);

// Warm claims' stages (stages.ts): p50/p99 of each, and their means among the slowest 5% of claims.
function stageLines(stages: ClaimStages[]): string[] {
  if (!stages.length) return [];
  const of = (k: (typeof STAGE_KEYS)[number], xs: ClaimStages[]) => xs.map((s) => s[k]).filter((v): v is number => v !== undefined);
  const cut = percentile(stages.map((s) => s.total), 95);
  const tail = stages.filter((s) => s.total >= cut);
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN);
  const present = STAGE_KEYS.filter((k) => of(k, stages).length);
  return [
    `stages (warm; ms)          ${present.map((k) => stageName(k).padStart(16)).join('')}`,
    `  p50                      ${present.map((k) => percentile(of(k, stages), 50).toFixed(1).padStart(16)).join('')}`,
    `  p99                      ${present.map((k) => percentile(of(k, stages), 99).toFixed(1).padStart(16)).join('')}`,
    `  mean, slowest 5% (${String(tail.length).padStart(3)})  ${present.map((k) => mean(of(k, tail)).toFixed(1).padStart(16)).join('')}   (their create→Ready ≥ ${cut.toFixed(1)} ms)`,
  ];
}

// The per-round ratio a ÷ b of one figure, for runs of one rate that differ only in `differ`.
function ratios(rs: RateResult[], differ: (r: RateResult) => boolean, same: (a: RateResult, b: RateResult) => boolean, figure: (r: RateResult) => number): string {
  const out: number[] = [];
  for (const a of rs.filter(differ)) {
    const b = rs.find((x) => !differ(x) && same(a, x));
    if (b) out.push(figure(a) / figure(b));
  }
  return spread(out, 2);
}

function summary(results: RateResult[], fillSeconds: number[], loads: string): string {
  const out = ['', `== summary (pool of ${poolSize}; load average ${loads}; median (min–max) over ${rounds} round(s)) ==`,
    `initial fill: ${spread(fillSeconds.map((s) => poolSize / s))} members Ready/s`,
    'rate/s  run                                warm/cold   create→Ready p50 ms      p99 ms                  sustained/s     op writes/claim (claim+fin+status)   events/claim  API CPU ms/claim  refill/s  load (1 min, at start of each round)'];
  for (const rate of rates) {
    for (const op of operators) {
      for (const manifest of manifests) {
        const rs = results.filter((r) => r.rate === rate && r.operator === op.name && r.manifest === manifest);
        if (!rs.length) continue;
        const per = (f: (r: RateResult) => number, digits: number) => spread(rs.map((r) => f(r) / r.claims), digits);
        const perMedian = (f: (r: RateResult) => number) => median(rs.map((r) => f(r) / r.claims)).toFixed(2); // the split, without its spread
        out.push(
          `${String(rate).padEnd(7)} ${label(rs[0]!).padEnd(34)} ${`${rs.reduce((n, r) => n + r.warm, 0)}/${rs.reduce((n, r) => n + r.cold, 0)}`.padEnd(11)} ` +
            `${spread(rs.map((r) => percentile(r.latencyMs, 50)), 1).padEnd(23)} ${spread(rs.map((r) => percentile(r.latencyMs, 99)), 1).padEnd(23)} ` +
            `${spread(rs.map((r) => r.sustainedPerS)).padEnd(15)} ` +
            `${`${per(operatorWrites, 2)} (${perMedian((r) => r.writes.claimPatches)}+${perMedian((r) => r.writes.finalizers)}+${perMedian((r) => r.writes.statuses)})`.padEnd(36)} ` +
            `${per((r) => r.writes.events, 2).padEnd(13)} ${spread(rs.map((r) => r.apiServerCpuMs), 1).padEnd(17)} ${spread(rs.map((r) => r.refillPerS)).padEnd(9)} ${rs.map((r) => r.load.split(' ')[0]).join(', ')}`,
        );
      }
    }
  }
  const p50 = (r: RateResult) => percentile(r.latencyMs, 50);
  const p99 = (r: RateResult) => percentile(r.latencyMs, 99);
  const sustained = (r: RateResult) => r.sustainedPerS;
  const apiCpu = (r: RateResult) => r.apiServerCpuMs;
  const pairs: Array<{ title: string; differ: (r: RateResult) => boolean; same: (a: RateResult, b: RateResult) => boolean }> = [];
  if (manifests.length === 2) {
    for (const op of operators) {
      pairs.push({ title: `spawner ÷ bare${operators.length > 1 ? ` (operator ${op.name})` : ''}`, differ: (r) => r.manifest === 'spawner' && r.operator === op.name, same: (a, b) => b.manifest === 'bare' && b.operator === op.name && a.round === b.round && a.rate === b.rate });
    }
  }
  if (operators.length === 2) {
    for (const m of manifests) {
      pairs.push({ title: `operator this ÷ other (${m})`, differ: (r) => r.operator === 'this' && r.manifest === m, same: (a, b) => b.operator === 'other' && b.manifest === m && a.round === b.round && a.rate === b.rate });
    }
  }
  out.push('', `warm claims' stages, p50 / p99 ms, median over rounds (bench/claim/stages.ts): ${STAGE_KEYS.map(stageName).join(', ')}`);
  for (const rate of rates) {
    for (const op of operators) {
      for (const manifest of manifests) {
        const rs = results.filter((r) => r.rate === rate && r.operator === op.name && r.manifest === manifest);
        if (!rs.length) continue;
        const at = (k: (typeof STAGE_KEYS)[number], p: number) => median(rs.map((r) => percentile(r.stages.map((s) => s[k]).filter((v): v is number => v !== undefined), p)));
        out.push(`${String(rate).padEnd(7)} ${label(rs[0]!).padEnd(34)} ${STAGE_KEYS.map((k) => `${at(k, 50).toFixed(0)}/${at(k, 99).toFixed(0)}`.padEnd(11)).join(' ')}`);
      }
    }
  }
  if (pairs.length) out.push('', 'per-round ratios, median (min–max): below 1 is faster for p50/p99 and cheaper for API CPU, above 1 is more for sustained');
  for (const { title, differ, same } of pairs) {
    for (const rate of rates) {
      const rs = results.filter((r) => r.rate === rate);
      out.push(`${String(rate).padEnd(7)} ${title.padEnd(34)} p50 ${ratios(rs, differ, same, p50).padEnd(18)} p99 ${ratios(rs, differ, same, p99).padEnd(18)} ${`sustained ${ratios(rs, differ, same, sustained)}`.padEnd(28)} API CPU/claim ${ratios(rs, differ, same, apiCpu)}`);
    }
  }
  out.push('targets: warm create→Ready p50 ≤ 50 ms and p99 ≤ 150 ms at 50 claims/s; ≥ 200 claims/s sustained; ≤ 3 API writes per warm claim');
  return out.join('\n');
}

const rotated = <T>(xs: readonly T[], by: number): T[] => xs.map((_, i) => xs[(i + by) % xs.length]!);

async function main(): Promise<void> {
  const given = process.env.KUBECONFIG;
  const stateFile = process.env.SPAWNER_CLUSTER_STATE ?? path.join(repoRoot, '.cache/cluster/bench-claim.json');
  let kubeconfig = given;
  if (!kubeconfig) kubeconfig = (await up({ stateFile, nodes: Number(args.nodes), log })).kubeconfig;
  const kc = loadKubeConfig(kubeconfig);
  const { core } = apiClients(kc);
  const dir = await tempDir('spawner-bench-claim-');
  const loadAtStart = os.loadavg().map((l) => l.toFixed(1)).join(' ');
  let operator: OperatorProcess | undefined;
  let namespace = '';
  const results: RateResult[] = [];
  const operatorKc = await operatorKubeconfig(kc, dir);
  // One operator at a time: the one running is stopped before the next starts (each under its own
  // Lease, so the next leads at once instead of waiting out its predecessor's).
  let starts = 0;
  const switchTo = async (name: string) => {
    if (operator?.identity === `bench-claim-${name}`) return operator;
    await operator?.stop();
    const { main: entry } = operators.find((o) => o.name === name)!;
    operator = await startOperator({ kubeconfig: operatorKc, dir, identity: `bench-claim-${name}`, leaseName: `bench-claim-${Date.now().toString(36)}-${++starts}`, main: entry,
      nodeArgs: args.profile ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [] });
    await operator.ready();
    await operator.leading();
    log(`operator ${name} (${entry}) pid ${operator.pid}, log ${operator.logFile}`);
    return operator;
  };
  try {
    await installOperatorRbac(kubeconfig);
    let current = await switchTo(operators[0]!.name);
    namespace = await createNamespace(core, 'bench-claim');
    const { log: quiet } = memoryLogger();
    const pods = createInformer<KubernetesObject>({ kubeConfig: kc, path: `/api/v1/namespaces/${namespace}/pods`, log: quiet, pageSize: 500 });
    await pods.start();
    const fillStarted = performance.now();
    await requestJson(kc, { method: 'POST', path: `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${POOL_PLURAL}`, body: poolManifest(namespace, poolSize) });
    await waitPoolFull(pods, current, `a pool of ${poolSize} Ready`);
    const fillSeconds = [(performance.now() - fillStarted) / 1000];
    log(`pool of ${poolSize} Ready in ${fillSeconds[0]!.toFixed(1)} s`);
    for (let round = 0; round < rounds; round++) {
      for (const op of rotated(operators, round)) {
        current = await switchTo(op.name);
        // A fresh operator first brings the pool to size (its own view of it) before it is measured.
        await waitPoolFull(pods, current, `the pool full under operator ${op.name}`);
        for (const rate of rates) {
          for (const manifest of rotated(manifests, round)) {
            await sleep(2000); // let the pool's status writes and kwok settle
            const r = await claimAtRate(kc, namespace, { rate, round, manifest, operator: op.name }, pods, current);
            results.push(r);
            process.stdout.write(`${report(r)}\n`);
          }
        }
      }
    }
    pods.stop();
    process.stdout.write(`${summary(results, fillSeconds, `${loadAtStart} at start, ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} at the end`)}\n`);
  } finally {
    if (namespace) {
      // The namespace's objects go at about the API server's write rate, the pool's members as well as the
      // claimed backends (with a pool of 2,400 and 2,000 claims, no backend was finalized in the first 75 s):
      // allow a second per 20 of them, at least 90 s.
      const made = results.reduce((n, r) => n + r.claims, 0);
      const { left } = await deleteNamespaceWithBackends(core, namespace, { timeoutMs: Math.max(90_000, (made + poolSize) * 50), onProgress: log, kubeconfig })
        .catch((err: unknown) => (log(`deleting ${namespace}: ${String(err)}`), { left: Number.NaN }));
      if (left !== 0) log(`gave up waiting: ${Number.isNaN(left) ? 'an unknown number of' : left} backend(s) of ${namespace} not finalized; the namespace stays Terminating until an operator finalizes them`);
    }
    await operator?.stop();
    if (args.profile) log(`the operator's CPU profile: ${dir}/*.cpuprofile (node bench/operator/cpuprofile-top.ts FILE)`);
    if (!given && !args['keep-cluster']) await down({ stateFile, log });
  }
}

await main();
