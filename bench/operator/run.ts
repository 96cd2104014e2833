// Operator benchmark: against a harness cluster with kwok nodes, create N backends as fast as the API
// server takes them, wait for every Pod and for Ready, then delete them all. Prints throughput,
// create→Pod and create→Ready latency, the operator's API writes per backend as the API server counted
// them (apiserver_request_total), and the operator's RSS and CPU time.
//
//   node bench/operator/run.ts [--n 100,1000,5000] [--nodes 4] [--concurrency C] [--parallel 32]
//
// Brings up its own cluster (state in SPAWNER_CLUSTER_STATE, default .cache/cluster/bench-operator.json)
// unless KUBECONFIG names one; the operator runs as a local process under its service account's RBAC.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { KubeConfig, KubernetesObject, V1Pod } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from '../../common/contract.ts';
import { createInformer, type Informer } from '../../common/kube/informer.ts';
import { requestJson } from '../../common/kube/rest.ts';
import { memoryLogger } from '../../common/kube/testing/memlog.ts';
import { down, up } from '../../e2e/harness/cluster.ts';
import { apiClients, loadKubeConfig, waitFor } from '../../e2e/harness/kube.ts';
import { repoRoot } from '../../e2e/harness/paths.ts';
import {
  createNamespace, deleteNamespace, installOperatorRbac, metricValue, operatorKubeconfig, startOperator, tempDir,
  type OperatorProcess,
} from '../../operator/test/support/operator-process.ts';
import { slbManifest, type Slb } from '../../operator/test/support/slbs.ts';
import { desiredPod, desiredService } from '../../operator/src/spawner/desired.ts';
import { difference, operatorWrites, parseRequestTotals, readMetricsText, serverTimeBreakdown, type OperatorWrites } from './apiserver-metrics.ts';

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
    'node-args': { type: 'string', default: '' }, // Node flags for the operator, e.g. '--max-semi-space-size=2'
    // Also measure the cluster without the operator: the benchmark itself creates each backend's Pod and
    // Service, as a zero-cost operator would; the ceiling the operator's figures are up against.
    baseline: { type: 'boolean', default: false }, // write a V8 CPU profile of the operator (.cpuprofile)
  },
});
const sizes = args.n!.split(',').map((s) => Number(s.trim()));
if (sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--n: whole numbers ≥ 1 separated by commas, got '${args.n}'`);

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

function percentile(values: number[], p: number): number {
  if (!values.length) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

// Resident memory and CPU seconds (user + system) of a process, from /proc.
function processUsage(pid: number): { rssMb: number; cpuSeconds: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
  return { rssMb: rssKb / 1024, cpuSeconds: ticks / 100 };
}

// The operator's own view of its memory (prom-client's default metrics): V8 heap in use and total.
async function heapFigures(operator: OperatorProcess): Promise<string> {
  const text = await operator.metrics();
  const mb = (name: string) => (metricValue(text, name) / 1e6).toFixed(0);
  return `V8 heap used ${mb('nodejs_heap_size_used_bytes')} MB of ${mb('nodejs_heap_size_total_bytes')} MB, external ${mb('nodejs_external_memory_bytes')} MB`;
}

async function runPool<T>(items: T[], parallel: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, items.length) }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

interface Result {
  n: number;
  createSeconds: number; // first create sent → last create answered
  toPodsSeconds: number; // first create sent → last Pod seen
  toReadySeconds: number; // first create sent → last backend seen Ready
  podLatency: number[]; // ms, backend seen → its Pod seen
  readyLatency: number[]; // ms, backend seen → seen Ready
  deleteSeconds: number; // first delete sent → last backend, Pod and Service gone
  createWrites: OperatorWrites;
  deleteWrites: OperatorWrites;
  peak: { rssMb: number; cpuSeconds: number };
  end: { rssMb: number; cpuSeconds: number };
  cpuAtStart: number;
  heap: string;
  endHeap: string;
  load: string;
  serverTime: string[]; // creation phase: mean API server time per request kind
}

async function benchOnce(kc: KubeConfig, operator: OperatorProcess, n: number, parallel: number): Promise<Result> {
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
  const backend = (name: string) => slbManifest(namespace, name, { spec: { startupTimeoutSeconds: 86_400 } });
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
  const podTimes = [...seenPod.values()];
  const readyTimes = [...seenReady.values()];

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
    failFast: () => operator.exited(),
  });
  const deleted = performance.now();
  const afterDelete = parseRequestTotals(await readMetricsText(kc));
  for (const i of [slbs, pods, services]) i.stop();
  await deleteNamespace(core, namespace);

  return {
    n,
    createSeconds: (created - started) / 1000,
    toPodsSeconds: (Math.max(...podTimes) - started) / 1000,
    toReadySeconds: (Math.max(...readyTimes) - started) / 1000,
    podLatency: names.map((nm) => seenPod.get(nm)! - seenBackend.get(nm)!),
    readyLatency: names.map((nm) => seenReady.get(nm)! - seenBackend.get(nm)!),
    deleteSeconds: (deleted - deleteStarted) / 1000,
    createWrites: operatorWrites(difference(before, afterCreate)),
    deleteWrites: operatorWrites(difference(afterCreate, afterDelete)),
    serverTime: serverTimeBreakdown(beforeText, afterCreateText),
    peak,
    end: processUsage(operator.pid),
    endHeap: await heapFigures(operator),
    load: `${loadBefore} → ${os.loadavg()[0]!.toFixed(1)}`,
    cpuAtStart,
    heap,
  };
}

async function baselineOnce(kc: KubeConfig, n: number, parallel: number): Promise<string> {
  const { core } = apiClients(kc);
  const namespace = await createNamespace(core, `baseline-${n}`);
  const seenPod = new Map<string, number>();
  const seenReady = new Map<string, number>();
  const { log: quiet } = memoryLogger();
  const pods = createInformer<KubernetesObject>({ kubeConfig: kc, path: `/api/v1/namespaces/${namespace}/pods`, log: quiet, pageSize: 500 });
  pods.onEvent((ev) => {
    if (ev.type === 'delete') return;
    const name = ev.obj.metadata!.name!;
    const t = performance.now();
    if (!seenPod.has(name)) seenPod.set(name, t);
    if (podReady(ev.obj as V1Pod) && !seenReady.has(name)) seenReady.set(name, t);
  });
  await pods.start();
  const beforeText = await readMetricsText(kc);
  const config = { sidecarImage: 'localhost/spawner/sidecar:0.1.0', publicUrl: 'http://spawner.test' };
  const started = performance.now();
  await runPool(Array.from({ length: n }, (_, i) => `b-${i}`), parallel, async (name) => {
    const slb = { ...slbManifest(namespace, name), metadata: { name, namespace, uid: 'none' } };
    const pod = desiredPod(slb, config);
    const service = desiredService(slb);
    for (const o of [pod, service]) delete o.metadata!.ownerReferences;
    await Promise.all([
      requestJson(kc, { method: 'POST', path: `/api/v1/namespaces/${namespace}/pods`, body: pod }),
      requestJson(kc, { method: 'POST', path: `/api/v1/namespaces/${namespace}/services`, body: service }),
    ]);
  });
  const created = performance.now();
  await waitFor(() => seenReady.size >= n || undefined, { what: `${n} pods Ready`, timeoutMs: Math.max(300_000, n * 1000), intervalMs: 20, onProgress: (line) => log(`${line} (${seenPod.size} Pods, ${seenReady.size} Ready)`) });
  const afterText = await readMetricsText(kc);
  pods.stop();
  await deleteNamespace(core, namespace);
  const last = (m: Map<string, number>) => (Math.max(...m.values()) - started) / 1000;
  return [
    `baseline N=${n} (no operator: the benchmark creates each Pod and Service itself, ${parallel} in flight)`,
    `  Pod+Service pairs created ${(n / ((created - started) / 1000)).toFixed(0)}/s (${((created - started) / 1000).toFixed(2)} s)`,
    `  to Pods seen              ${(n / last(seenPod)).toFixed(0)}/s; to Pods Ready ${(n / last(seenReady)).toFixed(0)}/s (last at ${last(seenReady).toFixed(2)} s)`,
    `  API server time (requests × mean server-side duration):`,
    ...serverTimeBreakdown(beforeText, afterText).map((l) => `    ${l}`),
  ].join('\n');
}

function podReady(p: V1Pod): boolean {
  return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

function report(r: Result): string {
  const per = (x: number) => (x / r.n).toFixed(2);
  const ms = (x: number) => `${x.toFixed(1)} ms`;
  const w = r.createWrites;
  const d = r.deleteWrites;
  return [
    `N=${r.n}${Number(args.rate) > 0 ? ` at ${args.rate} creates/s` : ' as fast as the API server takes them'} (load average ${r.load})`,
    `  creates accepted          ${(r.n / r.createSeconds).toFixed(0)} SLBs/s (${r.createSeconds.toFixed(2)} s)`,
    `  to Pods created           ${(r.n / r.toPodsSeconds).toFixed(0)} SLBs/s (last Pod at ${r.toPodsSeconds.toFixed(2)} s)`,
    `  to Ready                  ${(r.n / r.toReadySeconds).toFixed(0)} SLBs/s (last Ready at ${r.toReadySeconds.toFixed(2)} s)`,
    `  create→Pod created        p50 ${ms(percentile(r.podLatency, 50))}  p99 ${ms(percentile(r.podLatency, 99))}  max ${ms(Math.max(...r.podLatency))}`,
    `  create→Ready              p50 ${ms(percentile(r.readyLatency, 50))}  p99 ${ms(percentile(r.readyLatency, 99))}  max ${ms(Math.max(...r.readyLatency))}`,
    `  operator writes/SLB to Ready  ${per(w.total)} (finalizer ${per(w.finalizer)}, pod ${per(w.podCreate)}, service ${per(w.serviceCreate)}, status ${per(w.status)}; 409s ${w.conflicts}) + events ${per(w.events)}`,
    `  delete all → gone         ${(r.n / r.deleteSeconds).toFixed(0)} SLBs/s (${r.deleteSeconds.toFixed(2)} s)`,
    `  operator writes/SLB delete    ${per(d.finalizer + d.status + d.serviceDelete)} + pod deletes ${per(d.podDelete)} (kwok's final pod delete counts here too) (finalizer ${per(d.finalizer)}, status ${per(d.status)}, service ${per(d.serviceDelete)}; 409s ${d.conflicts}) + events ${per(d.events)}`,
    `  operator RSS              ${r.peak.rssMb.toFixed(0)} MB with ${r.n} Ready (${r.heap})`,
    `                            ${r.end.rssMb.toFixed(0)} MB after deleting them all (${r.endHeap})`,
    `  operator CPU              ${(r.peak.cpuSeconds - r.cpuAtStart).toFixed(2)} s to create (${((r.peak.cpuSeconds - r.cpuAtStart) / r.n * 1000).toFixed(2)} ms/SLB), ${(r.end.cpuSeconds - r.peak.cpuSeconds).toFixed(2)} s to delete; ${r.end.cpuSeconds.toFixed(1)} s since the process started`,
    `  API server time while creating (requests × mean server-side duration):`,
    ...r.serverTime.map((l) => `    ${l}`),
  ].join('\n');
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
  const dir = await tempDir('spawner-bench-');
  let operator: OperatorProcess | undefined;
  try {
    await installOperatorRbac(kubeconfig);
    operator = await startOperator({
      kubeconfig: await operatorKubeconfig(kc, dir),
      dir,
      identity: 'bench',
      leaseName: `bench-${Date.now().toString(36)}`,
      extraArgs: args.concurrency ? [`--concurrency=${args.concurrency}`] : [],
      nodeArgs: [...(args.profile ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : []), ...args['node-args']!.split(' ').filter(Boolean)],
    });
    await operator.ready();
    await operator.leading();
    const idle = processUsage(operator.pid);
    log(`operator pid ${operator.pid}, log ${operator.logFile}; after start-up: RSS ${idle.rssMb.toFixed(0)} MB, CPU ${idle.cpuSeconds.toFixed(2)} s`);
    for (const n of sizes) {
      if (args.baseline) process.stdout.write(`${await baselineOnce(kc, n, Number(args.parallel))}\n`);
      const r = await benchOnce(kc, operator, n, Number(args.parallel));
      process.stdout.write(`${report(r)}\n`);
    }
  } finally {
    await operator?.stop();
    if (args.profile) log(`CPU profile in ${dir}`);
    if (!given && !args['keep-cluster']) await down({ stateFile, log });
  }
}

await main();
