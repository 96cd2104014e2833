// Operator benchmark: against a harness cluster with kwok nodes, create N backends as fast as the API
// server takes them, wait for every Pod and for Ready, then delete them all. Prints throughput,
// create→Pod and create→Ready latency, the operator's API writes per backend as the API server counted
// them (apiserver_request_total), and the operator's RSS, heap and CPU time; with --baseline the
// cluster's own ceiling for each routing shape (baseline.ts), interleaved with the operator's runs; and
// leader failover, graceful and crash (failover.ts). Ends with one summary table.
//
//   node bench/operator/run.ts [--n 100,1000,5000] [--baseline] [--baseline-n 1000] [--rounds R]
//                              [--failover-rounds 3] [--nodes 4] [--concurrency C] [--parallel 32]
//                              [--variant 'NAME:NODE FLAGS|OPERATOR FLAGS']… [--manifests bare,spawner]
//
// Brings up its own cluster (state in SPAWNER_CLUSTER_STATE, default .cache/cluster/bench-operator.json)
// unless KUBECONFIG names one; the operator runs as a local process under its service account's RBAC.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from '../../common/contract.ts';
import { newBackend } from '../../common/spawner/backend.ts';
import { createInformer, type Informer } from '../../common/kube/informer.ts';
import { requestJson } from '../../common/kube/rest.ts';
import { memoryLogger } from '../../common/kube/testing/memlog.ts';
import { down, up } from '../../e2e/harness/cluster.ts';
import { apiClients, loadKubeConfig, waitFor } from '../../e2e/harness/kube.ts';
import { repoRoot } from '../../e2e/harness/paths.ts';
import { entrypoint, MAIN, NODE, nodeImage } from '../../images/node-images.ts';
import {
  createNamespace, deleteNamespace, installOperatorRbac, metricValue, operatorKubeconfig, startOperator, tempDir,
  type OperatorProcess,
} from '../../operator/test/support/operator-process.ts';
import { slbManifest, type Slb } from '../../operator/test/support/slbs.ts';
import { difference, formatServerTime, operatorWrites, parseRequestTotals, readMetricsText, serverTime, type OperatorWrites } from './apiserver-metrics.ts';
import { baselineOnce, formatBaseline, SHAPE_LABEL, SHAPES, waitNamespaceGone, type BaselineResult, type Shape } from './baseline.ts';
import { measureFailover, type FailoverResult } from './failover.ts';
import { formatRouteLookup, measureRouteLookup, type RouteLookupResult } from './route-lookup.ts';
import { percentile, runPool, spread } from './stats.ts';
import { parseManifests, type Manifest } from '../support/manifests.ts';

const { values: args } = parseArgs({
  options: {
    n: { type: 'string', default: '100,1000' },
    nodes: { type: 'string', default: '4' },
    concurrency: { type: 'string', default: '' }, // the operator's --concurrency (default: its own)
    parallel: { type: 'string', default: '32' }, // creates/deletes in flight from the benchmark
    // 0: create as fast as the API server takes them; R > 0: one create every 1/R s (open loop), to see
    // the operator's reaction at a rate the cluster sustains.
    rate: { type: 'string', default: '0' },
    'keep-cluster': { type: 'boolean', default: false },
    // Extra kube-apiserver flags for the benchmark's own cluster, e.g.
    // '--feature-gates=DisableAllocatorDualWrite=true' (Service creation cost, see the README).
    'apiserver-args': { type: 'string', default: '' },
    profile: { type: 'boolean', default: false },
    // With all N Ready, write a V8 heap snapshot of the operator (bench/operator/heapsnapshot-top.ts reads it).
    'heap-snapshot': { type: 'boolean', default: false },
    // After all N are Ready, the operator's memory again once it has been idle this long (V8's memory
    // reducer gives back what the burst's garbage took): what a long-running operator holds.
    'settle-seconds': { type: 'string', default: '30' },
    'node-args': { type: 'string', default: '' }, // Node flags for the operator, e.g. '--max-semi-space-size=2'
    // Operator variants compared in one run, each a fresh process per N: 'NAME:NODE FLAGS[|OPERATOR FLAGS]'
    // (repeatable), e.g. --variant 'shipped:' --variant 'semi1:--max-semi-space-size=1'
    // --variant 'c128:|--concurrency=128'. Default: one, as shipped.
    variant: { type: 'string', multiple: true, default: [] },
    // How the benchmark writes each backend, compared in one run like the variants (each variant runs
    // once with each): 'bare', as kubectl would create it (the operator patches its finalizer in first),
    // and/or 'spawner', as Spawner's CLI and HTTP API create it (common/spawner/backend.ts: the finalizer
    // already on, so the operator's first write is the Pod).
    manifests: { type: 'string', default: 'bare' },
    // Run operator/src/main.ts by type stripping instead of the image's compiled JavaScript and flags.
    'from-source': { type: 'boolean', default: false },
    // Also measure the cluster without the operator: the benchmark itself creates each backend's objects
    // in each routing shape (baseline.ts), as a zero-cost operator would; the ceiling the operator's
    // figures are up against. At the sizes of --baseline-n, before the operator's run of that size.
    baseline: { type: 'boolean', default: false },
    'baseline-n': { type: 'string', default: '1000' },
    shapes: { type: 'string', default: SHAPES.join(',') },
    // Everything again, R times, interleaved (baseline shapes in a rotated order, then the operator):
    // the summary gives medians and their spread.
    rounds: { type: 'string', default: '1' },
    // Leader failover rounds (each: SIGTERM, then SIGKILL), with the largest N's backends in place.
    'failover-rounds': { type: 'string', default: '3' },
    // With the largest N's backends Ready: the route service's answer for new backends asked the instant
    // they are Ready (this many, one at a time) and for existing ones (cache hits). 0 skips it.
    'route-probes': { type: 'string', default: '20' },
    'route-hits': { type: 'string', default: '2000' },
  },
});
function sizesOf(flag: string, raw: string): number[] {
  const out = raw.split(',').filter((x) => x.trim()).map((x) => Number(x.trim()));
  if (out.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--${flag}: whole numbers ≥ 1 separated by commas, got '${raw}'`);
  return out;
}
const sizes = sizesOf('n', args.n!);
const baselineSizes = args.baseline ? sizesOf('baseline-n', args['baseline-n']!) : [];
const shapes = args.shapes!.split(',').map((x) => x.trim()) as Shape[];
for (const sh of shapes) if (!SHAPES.includes(sh)) throw new Error(`--shapes: one of ${SHAPES.join(', ')}, got '${sh}'`);
const manifests = parseManifests(args.manifests!);
const variants = (args.variant!.length ? args.variant! : ['shipped:']).flatMap((v) => {
  const colon = v.indexOf(':');
  if (colon < 1) throw new Error(`--variant: NAME:NODE FLAGS[|OPERATOR FLAGS], got '${v}'`);
  const [node = '', operator = ''] = v.slice(colon + 1).split('|');
  const words = (x: string) => x.split(/\s+/).filter(Boolean);
  const name = v.slice(0, colon);
  return manifests.map((manifest) => ({ name: manifests.length > 1 ? `${name}+${manifest}` : name, nodeArgs: words(node), operatorArgs: words(operator), manifest }));
});
const rounds = Number(args.rounds);
const failoverRounds = Number(args['failover-rounds']);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds: a whole number ≥ 1, got '${args.rounds}'`);
if (!Number.isInteger(failoverRounds) || failoverRounds < 0) throw new Error(`--failover-rounds: a whole number ≥ 0, got '${args['failover-rounds']}'`);

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

// Resident memory and CPU seconds (user + system) of a process, from /proc.
function processUsage(pid: number): { rssMb: number; cpuSeconds: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
  return { rssMb: rssKb / 1024, cpuSeconds: ticks / 100 };
}

// The operator's own view of its memory (prom-client's default metrics): V8 heap in use and total, in MB.
interface Heap {
  usedMb: number;
  totalMb: number;
  externalMb: number;
}

async function heapFigures(operator: OperatorProcess): Promise<Heap> {
  const text = await operator.metrics();
  const mb = (name: string) => metricValue(text, name) / 1e6;
  return { usedMb: mb('nodejs_heap_size_used_bytes'), totalMb: mb('nodejs_heap_size_total_bytes'), externalMb: mb('nodejs_external_memory_bytes') };
}

const heapText = (h: Heap) => `V8 heap used ${h.usedMb.toFixed(0)} MB of ${h.totalMb.toFixed(0)} MB, external ${h.externalMb.toFixed(0)} MB`;

interface Result {
  n: number;
  variant: string;
  createSeconds: number; // first create sent → last create answered
  toPodsSeconds: number; // first create sent → last Pod seen
  toReadySeconds: number; // first create sent → last backend seen Ready
  podLatency: number[]; // ms, backend seen → its Pod seen
  readyLatency: number[]; // ms, backend seen → seen Ready
  deleteSeconds: number; // first delete sent → last backend and Pod (and any Service) gone
  createWrites: OperatorWrites;
  deleteWrites: OperatorWrites;
  peak: { rssMb: number; cpuSeconds: number };
  settled: { rssMb: number; heap: Heap };
  end: { rssMb: number; cpuSeconds: number };
  cpuAtStart: number;
  heap: Heap;
  endHeap: Heap;
  load: string;
  serverTime: string[]; // creation phase: mean API server time per request kind
  failover?: FailoverResult;
  route?: RouteLookupResult;
}

// What runs with all N backends Ready, before they are deleted.
interface Hooks {
  route?: (namespace: string, backends: Slb[]) => Promise<RouteLookupResult>;
  failover?: () => Promise<FailoverResult>;
}

// The operator under test; failover replaces it with the replica that took over.
interface Current {
  operator: OperatorProcess;
}

async function benchOnce(kc: KubeConfig, current: Current, n: number, parallel: number, manifest: Manifest, hooks: Hooks = {}): Promise<Result> {
  const operator = current.operator;
  const { core } = apiClients(kc);
  const namespace = await createNamespace(core, `bench-${n}`);
  const names = Array.from({ length: n }, (_, i) => `b-${i}`);

  // What the benchmark sees, timed on arrival: when each backend, its Pod, and its Ready status appear.
  const seenBackend = new Map<string, number>();
  const seenPod = new Map<string, number>();
  const seenReady = new Map<string, number>();
  const { log: quiet } = memoryLogger();
  const watch = (p: string, on: (obj: KubernetesObject, t: number) => void): Informer<KubernetesObject> => {
    const inf = createInformer<KubernetesObject>({ kubeConfig: kc, path: p, log: quiet, pageSize: 500 });
    inf.onEvent((ev) => {
      if (ev.type !== 'delete') on(ev.obj, performance.now());
    });
    return inf;
  };
  const slbs = watch(`/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`, (o, t) => {
    const name = o.metadata!.name!;
    if (!seenBackend.has(name)) seenBackend.set(name, t);
    if ((o as Slb).status?.phase === 'Ready' && !seenReady.has(name)) seenReady.set(name, t);
  });
  const pods = watch(`/api/v1/namespaces/${namespace}/pods`, (o, t) => {
    if (!seenPod.has(o.metadata!.name!)) seenPod.set(o.metadata!.name!, t);
  });
  const services = watch(`/api/v1/namespaces/${namespace}/services`, () => undefined);
  await Promise.all([slbs.start(), pods.start(), services.start()]);

  const cpuAtStart = processUsage(operator.pid).cpuSeconds;
  // The machine is shared: its load says how far the figures are from an idle machine's.
  const loadBefore = os.loadavg()[0]!.toFixed(1);
  const beforeText = await readMetricsText(kc);
  const before = parseRequestTotals(beforeText);
  const base = `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`;
  const started = performance.now();
  // A day to start: on a loaded machine the default 300 s would fail backends that are merely queued.
  const backend = (name: string) =>
    manifest === 'spawner'
      ? newBackend({ namespace, name, createdBy: 'spawner-bench', image: 'example.invalid/app:1', port: 8080, gracePeriodSeconds: 300, startupTimeoutSeconds: 86_400 })
      : slbManifest(namespace, name, { spec: { startupTimeoutSeconds: 86_400 } });
  const rate = Number(args.rate);
  if (rate > 0) {
    const inFlight: Promise<unknown>[] = [];
    for (const [i, name] of names.entries()) {
      const due = started + (i * 1000) / rate;
      if (due > performance.now()) await sleep(due - performance.now());
      inFlight.push(requestJson(kc, { method: 'POST', path: base, body: backend(name) }));
    }
    await Promise.all(inFlight);
  } else {
    await runPool(names, parallel, async (name) => {
      await requestJson(kc, { method: 'POST', path: base, body: backend(name) });
    });
  }
  const created = performance.now();
  log(`N=${n}: ${n} creates answered in ${((created - started) / 1000).toFixed(2)} s`);
  // Generous: on a loaded 2-core machine the cluster itself may manage only a few backends a second.
  const deadline = Math.max(300_000, n * 1000);
  await waitFor(() => seenReady.size >= n || undefined, {
    what: `${n} backends Ready`,
    timeoutMs: deadline,
    intervalMs: 20,
    onProgress: (line) => log(`${line} (${seenPod.size} Pods, ${seenReady.size} Ready)`),
    progressEveryMs: 10_000,
    failFast: () => operator.exited(),
  });
  const afterCreateText = await readMetricsText(kc);
  const afterCreate = parseRequestTotals(afterCreateText);
  const peak = processUsage(operator.pid);
  const heap = await heapFigures(operator);
  await sleep(Number(args['settle-seconds']) * 1000);
  const settled = { rssMb: processUsage(operator.pid).rssMb, heap: await heapFigures(operator) };
  if (args['heap-snapshot']) await heapSnapshot(operator);
  const podTimes = [...seenPod.values()];
  const readyTimes = [...seenReady.values()];
  const route = await hooks.route?.(namespace, slbs.list() as Slb[]);
  const failover = await hooks.failover?.();
  const deleter = current.operator;

  // Deletion: all at once, until the backends and their children are gone.
  const deleteStarted = performance.now();
  await runPool(names, parallel, async (name) => {
    await requestJson(kc, { method: 'DELETE', path: `${base}/${name}` });
  });
  await waitFor(() => (slbs.list().length === 0 && pods.list().length === 0 && services.list().length === 0) || undefined, {
    what: `${n} backends and their children gone`,
    timeoutMs: deadline,
    intervalMs: 20,
    onProgress: (line) => log(`${line} (${slbs.list().length} backends, ${pods.list().length} pods, ${services.list().length} services left)`),
    failFast: () => deleter.exited(),
  });
  const deleted = performance.now();
  const afterDelete = parseRequestTotals(await readMetricsText(kc));
  for (const i of [slbs, pods, services]) i.stop();
  await deleteNamespace(core, namespace);
  await waitNamespaceGone(core, namespace, 120_000);

  return {
    n,
    variant: '',
    createSeconds: (created - started) / 1000,
    toPodsSeconds: (Math.max(...podTimes) - started) / 1000,
    toReadySeconds: (Math.max(...readyTimes) - started) / 1000,
    podLatency: names.map((nm) => seenPod.get(nm)! - seenBackend.get(nm)!),
    readyLatency: names.map((nm) => seenReady.get(nm)! - seenBackend.get(nm)!),
    deleteSeconds: (deleted - deleteStarted) / 1000,
    createWrites: operatorWrites(difference(before, afterCreate)),
    deleteWrites: operatorWrites(difference(afterCreate, afterDelete)),
    serverTime: formatServerTime(serverTime(beforeText, afterCreateText), n),
    peak,
    settled,
    end: processUsage(deleter.pid),
    endHeap: await heapFigures(deleter),
    failover,
    route,
    load: `${loadBefore} → ${os.loadavg()[0]!.toFixed(1)}`,
    cpuAtStart,
    heap,
  };
}

function report(r: Result): string {
  const per = (x: number) => (x / r.n).toFixed(2);
  const ms = (x: number) => `${x.toFixed(1)} ms`;
  const w = r.createWrites;
  const d = r.deleteWrites;
  return [
    `N=${r.n}${Number(args.rate) > 0 ? ` at ${args.rate} creates/s` : ' as fast as the API server takes them'}, operator ${r.variant} (load average ${r.load})`,
    `  creates accepted          ${(r.n / r.createSeconds).toFixed(0)} SLBs/s (${r.createSeconds.toFixed(2)} s)`,
    `  to Pods created           ${(r.n / r.toPodsSeconds).toFixed(0)} SLBs/s (last Pod at ${r.toPodsSeconds.toFixed(2)} s)`,
    `  to Ready                  ${(r.n / r.toReadySeconds).toFixed(0)} SLBs/s (last Ready at ${r.toReadySeconds.toFixed(2)} s)`,
    `  create→Pod created        p50 ${ms(percentile(r.podLatency, 50))}  p99 ${ms(percentile(r.podLatency, 99))}  max ${ms(Math.max(...r.podLatency))}`,
    `  create→Ready              p50 ${ms(percentile(r.readyLatency, 50))}  p99 ${ms(percentile(r.readyLatency, 99))}  max ${ms(Math.max(...r.readyLatency))}`,
    `  operator writes/SLB to Ready  ${per(w.total)} (finalizer ${per(w.finalizer)}, pod ${per(w.podCreate)}, service ${per(w.serviceCreate)}, status ${per(w.status)}; 409s ${w.conflicts}) + events ${per(w.events)}`,
    `  delete all → gone         ${(r.n / r.deleteSeconds).toFixed(0)} SLBs/s (${r.deleteSeconds.toFixed(2)} s)`,
    `  operator writes/SLB delete    ${per(d.finalizer + d.status + d.serviceDelete)} + pod deletes ${per(d.podDelete)} (kwok's final pod delete counts here too) (finalizer ${per(d.finalizer)}, status ${per(d.status)}, service ${per(d.serviceDelete)}; 409s ${d.conflicts}) + events ${per(d.events)}`,
    `  operator RSS              ${r.peak.rssMb.toFixed(0)} MB with ${r.n} Ready (${heapText(r.heap)})`,
    `                            ${r.settled.rssMb.toFixed(0)} MB ${args['settle-seconds']} s later (${heapText(r.settled.heap)})`,
    `                            ${r.end.rssMb.toFixed(0)} MB after deleting them all (${heapText(r.endHeap)})${r.failover ? ' (the replica that took over in the failover rounds)' : ''}`,
    `  operator CPU              ${(r.peak.cpuSeconds - r.cpuAtStart).toFixed(2)} s to create (${((r.peak.cpuSeconds - r.cpuAtStart) / r.n * 1000).toFixed(2)} ms/SLB)` +
      (r.failover ? '' : `, ${(r.end.cpuSeconds - r.peak.cpuSeconds).toFixed(2)} s to delete; ${r.end.cpuSeconds.toFixed(1)} s since the process started`),
    `  API server time while creating (requests × mean server-side duration):`,
    ...r.serverTime.map((l) => `    ${l}`),
  ].join('\n');
}

// SIGUSR2 makes the operator (started with --heapsnapshot-signal) write a snapshot into its log's folder.
async function heapSnapshot(operator: OperatorProcess): Promise<void> {
  const dir = path.dirname(operator.logFile);
  const before = new Set(readdirSync(dir).filter((f) => f.endsWith('.heapsnapshot')));
  process.kill(operator.pid, 'SIGUSR2');
  const file = await waitFor(() => readdirSync(dir).find((f) => f.endsWith('.heapsnapshot') && !before.has(f)), { what: 'a heap snapshot', timeoutMs: 120_000 });
  // Written once its size stops changing.
  let size = -1;
  await waitFor(() => {
    const now = statSync(path.join(dir, file)).size;
    const done = now === size && now > 0;
    size = now;
    return done || undefined;
  }, { what: 'the heap snapshot to be written', timeoutMs: 300_000, intervalMs: 1000 });
  log(`heap snapshot ${path.join(dir, file)} (${(size / 1e6).toFixed(0)} MB): node bench/operator/heapsnapshot-top.ts <file>`);
}

// The operator as its image runs it: the compiled JavaScript (images/stage-app.sh) and the image's Node
// flags (images/node-images.ts); --from-source runs the TypeScript by type stripping instead.
const fromSource = args['from-source']!;
let operatorEntry = path.join(repoRoot, 'operator/src/main.ts');
const operatorNodeArgs = fromSource ? [] : entrypoint('operator').filter((a) => a !== NODE && a !== MAIN);

function stageOperator(dir: string): void {
  if (fromSource) return;
  const image = nodeImage('operator');
  const dest = path.join(dir, 'operator-image');
  const staged = spawnSync('bash', [path.join(repoRoot, 'images/stage-app.sh'), image.workspace, image.entry, dest], { stdio: 'inherit' });
  if (staged.status !== 0) throw new Error(`images/stage-app.sh failed (status ${staged.status})`);
  operatorEntry = path.join(dest, MAIN);
}

// One table for the whole run: the baseline shapes, the operator at each N against the ceiling measured in
// the same run, writes per backend, memory, and failover. Medians over the rounds, (min–max) beside.
function summary(baselines: BaselineResult[], results: Result[], failover: FailoverResult | undefined, route: RouteLookupResult | undefined, loads: string): string {
  const out: string[] = ['', `== summary (load average over the run ${loads}; median (min–max) over ${rounds} round(s)) ==`];
  const baselineNs = [...new Set(baselines.map((b) => b.n))];
  for (const n of baselineNs) {
    out.push('', `baseline at N=${n} (no operator)          created/s   to Pods/s    to Ready/s   API server ms/backend (all writes)   writes/backend`);
    for (const shape of shapes) {
      const rs = baselines.filter((b) => b.n === n && b.shape === shape);
      if (!rs.length) continue;
      out.push(
        `  ${SHAPE_LABEL[shape].padEnd(38)} ${spread(rs.map((r) => r.createdPerS)).padStart(12)} ${spread(rs.map((r) => r.podsSeenPerS)).padStart(12)} ${spread(rs.map((r) => r.readyPerS)).padStart(12)}` +
          `   ${spread(rs.map((r) => r.writes.totalMs / r.n), 1).padStart(18)}              ${spread(rs.map((r) => r.writes.count / r.n), 2).padStart(10)}`,
      );
    }
  }
  out.push('', 'operator at N, variant to Pods/s     to Ready/s    of ceiling (Pods alone: Pod, Ready)   of SLB + Pod ceiling (Pod, Ready)   op writes/backend   RSS MB (settled)       heap used/total MB (settled)    CPU ms/backend');
  for (const n of sizes) for (const v of variants) {
    const rs = results.filter((r) => r.n === n && r.variant === v.name);
    if (!rs.length) continue;
    const ceiling = baselines.filter((b) => b.n === n && b.shape === 'pods');
    const objects = baselines.filter((b) => b.n === n && b.shape === 'slb-pod');
    const ratio = (mine: number[], theirs: number[]) => (theirs.length ? `${spread(mine.map((m, i) => (100 * m) / theirs[Math.min(i, theirs.length - 1)]!))} %` : '-');
    const toPods = rs.map((r) => r.n / r.toPodsSeconds);
    const toReady = rs.map((r) => r.n / r.toReadySeconds);
    out.push(
      `  ${`${n} ${v.name}`.padEnd(18)} ${spread(toPods).padStart(12)} ${spread(toReady).padStart(14)}    ` +
        `${`${ratio(toPods, ceiling.map((c) => c.podsSeenPerS))}, ${ratio(toReady, ceiling.map((c) => c.readyPerS))}`.padEnd(36)}` +
        `${`${ratio(toPods, objects.map((c) => c.podsSeenPerS))}, ${ratio(toReady, objects.map((c) => c.readyPerS))}`.padEnd(36)}` +
        `${spread(rs.map((r) => r.createWrites.total / r.n), 2).padStart(18)}   ${`${spread(rs.map((r) => r.peak.rssMb))} (${spread(rs.map((r) => r.settled.rssMb))})`.padEnd(22)} ` +
        `${`${spread(rs.map((r) => r.heap.usedMb))} / ${spread(rs.map((r) => r.heap.totalMb))} (${spread(rs.map((r) => r.settled.heap.usedMb))} / ${spread(rs.map((r) => r.settled.heap.totalMb))})`.padEnd(30)} ${spread(rs.map((r) => ((r.peak.cpuSeconds - r.cpuAtStart) / r.n) * 1000), 2).padStart(10)}`,
    );
  }
  out.push(`  (op writes: finalizer, Pod and status writes to Ready, and any Service create (none since decision B), counted by the API server; RSS and heap the moment all N are Ready, and ${args['settle-seconds']} s later)`);
  out.push(...variants.map((v) => `  variant ${v.name}: node ${[...operatorNodeArgs, ...v.nodeArgs].join(' ')} ${operatorEntry} ${v.operatorArgs.join(' ')}; backends written ${v.manifest}`));
  if (route) {
    out.push(
      '',
      `first request to a new backend, ${route.n} backends in place (route service, decision B)`,
      `  answer when asked the instant Ready: ${spread(route.firstMs, 2)} ms (${route.firstFromCache} of ${route.firstMs.length} from the cache); verdicts ${JSON.stringify(route.firstVerdicts)}`,
      `  cache hit among ${route.n}: p50 ${percentile(route.hitMs, 50).toFixed(2)} ms, p99 ${percentile(route.hitMs, 99).toFixed(2)} ms; route service RSS ${route.routerRssMb.toFixed(0)} MB`,
    );
  }
  if (failover) {
    out.push(
      '',
      `failover (${failover.gracefulMs.length} rounds, with the largest N's backends in place; lease 15 s, retry 2 s)`,
      `  graceful: SIGTERM → standby leading   ${spread(failover.gracefulMs)} ms   (target ≤ 2,000 ms)`,
      `  crash:    SIGKILL → standby leading   ${spread(failover.crashMs)} ms   (target ≤ the lease duration, 15,000 ms)`,
    );
  }
  return out.join('\n');
}

async function main(): Promise<void> {
  const given = process.env.KUBECONFIG;
  const stateFile = process.env.SPAWNER_CLUSTER_STATE ?? path.join(repoRoot, '.cache/cluster/bench-operator.json');
  let kubeconfig = given;
  if (!kubeconfig) {
    const info = await up({ stateFile, nodes: Number(args.nodes), log, apiserverExtraArgs: args['apiserver-args']!.split(' ').filter(Boolean) });
    kubeconfig = info.kubeconfig;
  }
  const kc = loadKubeConfig(kubeconfig);
  const { core } = apiClients(kc);
  const dir = await tempDir('spawner-bench-');
  const leaseName = `bench-${Date.now().toString(36)}`;
  const loadAtStart = os.loadavg().map((l) => l.toFixed(1)).join(' ');
  let current: Current | undefined;
  try {
    await installOperatorRbac(kubeconfig);
    const operatorKc = await operatorKubeconfig(kc, dir);
    stageOperator(dir);
    const startVariant = (v: (typeof variants)[number]) => (identity: string) =>
      startOperator({
        kubeconfig: operatorKc,
        dir,
        identity,
        leaseName,
        main: operatorEntry,
        extraArgs: [...(args.concurrency ? [`--concurrency=${args.concurrency}`] : []), ...v.operatorArgs],
        nodeArgs: [
          ...operatorNodeArgs, ...v.nodeArgs,
          ...(args.profile ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : []),
          ...(args['heap-snapshot'] ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${dir}`] : []),
        ],
      });
    const baselines: BaselineResult[] = [];
    const results: Result[] = [];
    let failover: FailoverResult | undefined;
    let route: RouteLookupResult | undefined;
    const largest = Math.max(...sizes);
    for (let round = 0; round < rounds; round++) {
      for (const n of sizes) {
        if (baselineSizes.includes(n)) {
          // A rotated order each round, so that no shape always runs right after the heaviest one.
          for (let i = 0; i < shapes.length; i++) {
            const shape = shapes[(i + round) % shapes.length]!;
            const b = await baselineOnce(kc, core, shape, n, Number(args.parallel), log);
            baselines.push(b);
            process.stdout.write(`${formatBaseline(b)}\n`);
          }
        }
        for (let i = 0; i < variants.length; i++) {
          const v = variants[(i + round) % variants.length]!;
          const start = startVariant(v);
          const holder: Current = { operator: await start(`bench-${v.name}-${n}-${round}`) };
          current = holder;
          await holder.operator.ready();
          await holder.operator.leading();
          const idle = processUsage(holder.operator.pid);
          log(`operator ${v.name} pid ${holder.operator.pid}, log ${holder.operator.logFile}; after start-up: RSS ${idle.rssMb.toFixed(0)} MB, CPU ${idle.cpuSeconds.toFixed(2)} s`);
          const last = round === rounds - 1 && n === largest && v === variants[0];
          const hooks: Hooks = {};
          if (last && Number(args['route-probes']) > 0) {
            hooks.route = async (namespace, backends) => {
              route = await measureRouteLookup({
                kc, kubeconfigFile: kubeconfig!, namespace, backends, newBackends: Number(args['route-probes']), hits: Number(args['route-hits']),
                dir, fromSource, log,
              });
              process.stdout.write(`${formatRouteLookup(route)}\n`);
              return route;
            };
          }
          if (last && failoverRounds > 0) {
            hooks.failover = async () => {
              const f = await measureFailover(holder.operator, start, failoverRounds, log);
              holder.operator = f.leader;
              failover = f;
              return f;
            };
          }
          const r = await benchOnce(kc, holder, n, Number(args.parallel), v.manifest, hooks);
          r.variant = v.name;
          results.push(r);
          process.stdout.write(`${report(r)}\n`);
          await holder.operator.stop();
        }
      }
    }
    const loads = `${loadAtStart} at start, ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} at the end`;
    process.stdout.write(`${summary(baselines, results, failover, route, loads)}\n`);
  } finally {
    await current?.operator.stop();
    if (args.profile) log(`CPU profile in ${dir}`);
    if (!given && !args['keep-cluster']) await down({ stateFile, log });
  }
}

await main();
