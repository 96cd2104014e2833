// Density on the real node: N idle drop-four backends at once in each way of counting connections —
// node (no sidecar; the sweeper reads the Pods from the node) and sidecar (spec.sidecar.enabled: true) —
// and what they cost once settled:
//   containers per backend, RSS and PSS per backend (summed over the Pod's processes, sandbox included:
//   /proc/<pid>/smaps_rollup of every process whose cgroup carries the Pod's UID),
//   node memory used per backend (MemTotal − MemAvailable, against the same measure before creating),
//   the sweeper's CPU (% of one core over --window-s) and RSS (its process on the node).
// Modes alternate order from one N to the next. Printed, never asserted.
//
//   node bench/density/run.ts [--n 1,20,50] [--modes node,sidecar] [--settle-s 20] [--window-s 30] [--namespace spawner-backends]
//
// Needs root on the node (it reads every process's /proc) and KUBECONFIG pointing at the cluster with
// Spawner deployed (make up; the e2e suite's cluster), whose operator defaults to node mode.
import { readdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { API_VERSION, GROUP, KIND, PLURAL, VERSION } from '../../common/contract.ts';
import { loadKubeAccess } from '../../common/kube/kubeconfig.ts';
import { requestJson } from '../../common/kube/rest.ts';
import { waitFor } from '../../e2e/harness/wait.ts';
import { podUidOfCgroup } from '../../sweeper/src/node/proc-net.ts';
import { kbField } from '../support/proc-fields.ts';

const { values: args } = parseArgs({
  options: {
    n: { type: 'string', default: '1,20,50' },
    modes: { type: 'string', default: 'node,sidecar' },
    'settle-s': { type: 'string', default: '20' },
    'window-s': { type: 'string', default: '30' },
    namespace: { type: 'string', default: 'spawner-backends' },
    image: { type: 'string', default: 'localhost/spawner/drop-four:0.1.0' },
  },
});
type Mode = 'node' | 'sidecar';
const sizes = args.n!.split(',').map(Number);
const modes = args.modes!.split(',') as Mode[];
const SETTLE_S = Number(args['settle-s']);
const WINDOW_S = Number(args['window-s']);
const namespace = args.namespace!;
if (sizes.some((n) => !Number.isInteger(n) || n < 1) || modes.some((m) => m !== 'node' && m !== 'sidecar')) {
  throw new Error(`--n takes whole numbers ≥ 1, --modes node and/or sidecar (got ${args.n}, ${args.modes})`);
}
if (process.getuid?.() !== 0) throw new Error('run as root: the Pods\' processes are read under /proc');
if (!process.env.KUBECONFIG) throw new Error('KUBECONFIG must name the cluster with Spawner deployed (make up)');
const kc = await loadKubeAccess(process.env.KUBECONFIG);
const log = (line: string) => process.stderr.write(`[density] ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const slbPath = `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`;
const CLOCK_TICKS = 100; // USER_HZ

interface Slb {
  metadata: { name: string; labels?: Record<string, string> };
  status?: { phase?: string; podUID?: string; podName?: string; activitySource?: string };
}

// ---- the node, from /proc ----

function processesByPod(): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let uid: string | undefined;
    try {
      uid = podUidOfCgroup(readFileSync(`/proc/${name}/cgroup`, 'utf8'));
    } catch {
      continue;
    }
    if (uid) out.set(uid, [...(out.get(uid) ?? []), Number(name)]);
  }
  return out;
}

function memoryOf(pid: number): { rssKiB: number; pssKiB: number } {
  try {
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const field = (f: string) => Number(new RegExp(`^${f}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
    return { rssKiB: field('Rss'), pssKiB: field('Pss') };
  } catch {
    return { rssKiB: 0, pssKiB: 0 };
  }
}

function nodeMemoryUsedMiB(): number {
  const text = readFileSync('/proc/meminfo', 'utf8');
  return (kbField(text, 'MemTotal') - kbField(text, 'MemAvailable')) / 1024;
}

async function steadyMemoryMiB(): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    samples.push(nodeMemoryUsedMiB());
    await sleep(1000);
  }
  return samples.sort((a, b) => a - b)[2]!;
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime (fields 14 and 15 of stat)
}

async function sweeperProcess(): Promise<number> {
  const pods = await requestJson<{ items: Array<{ metadata: { uid: string } }> }>(kc, {
    method: 'GET',
    path: '/api/v1/namespaces/spawner-system/pods?labelSelector=app.kubernetes.io%2Fname%3Dspawner-sweeper',
  });
  const uid = pods.items[0]?.metadata.uid;
  if (!uid) throw new Error('no sweeper Pod in spawner-system');
  const pids = processesByPod().get(uid) ?? [];
  const node = pids.find((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('node'));
  if (node === undefined) throw new Error('the sweeper Pod has no node process on this node');
  return node;
}

async function sweeperCost(): Promise<{ cpuPercent: number; rssMiB: number }> {
  const pid = await sweeperProcess();
  const before = cpuTicks(pid);
  const start = performance.now();
  await sleep(WINDOW_S * 1000);
  const ticks = cpuTicks(pid) - before;
  const seconds = (performance.now() - start) / 1000;
  const rssKiB = Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  return { cpuPercent: (ticks / CLOCK_TICKS / seconds) * 100, rssMiB: rssKiB / 1024 };
}

// ---- backends ----

async function create(mode: Mode, runId: string): Promise<string> {
  const body = {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { generateName: 'bench-density-', labels: { 'spawner.dev/bench': runId } },
    spec: {
      gracePeriodSeconds: 3600,
      httpPort: 8080,
      ...(mode === 'sidecar' ? { sidecar: { enabled: true } } : {}),
      template: { containers: [{ name: 'app', image: args.image, imagePullPolicy: 'IfNotPresent' }] },
    },
  };
  return (await requestJson<Slb>(kc, { method: 'POST', path: slbPath, body })).metadata.name;
}

async function listRun(runId: string): Promise<Slb[]> {
  return (await requestJson<{ items: Slb[] }>(kc, { method: 'GET', path: `${slbPath}?labelSelector=spawner.dev%2Fbench%3D${runId}` })).items;
}

interface Result {
  n: number;
  mode: Mode;
  containersPerBackend: number;
  rssMiB: number; // per backend
  pssMiB: number;
  nodeUsedMiB: number; // per backend
  sweeper: { cpuPercent: number; rssMiB: number };
  sweeperIdle: { cpuPercent: number; rssMiB: number };
}

async function measure(n: number, mode: Mode): Promise<Result> {
  const runId = `${Date.now().toString(36)}-${mode}`;
  log(`${n} ${mode}-mode backend(s): measuring the node without them (load ${loadavg()})`);
  const usedBefore = await steadyMemoryMiB();
  const sweeperIdle = await sweeperCost();
  const names = await Promise.all(Array.from({ length: n }, () => create(mode, runId)));
  const podUids: string[] = [];
  try {
    const slbs = await waitFor(
      async () => {
        const list = await listRun(runId);
        return list.length === n && list.every((s) => s.status?.phase === 'Ready' && s.status.podUID) ? list : undefined;
      },
      { what: `${n} backends Ready`, timeoutMs: 600_000, intervalMs: 1000 },
    );
    const wrong = slbs.filter((s) => s.status?.activitySource !== (mode === 'node' ? 'Node' : 'Sidecar'));
    if (wrong.length) throw new Error(`${wrong.length} backend(s) got activitySource ${wrong[0]!.status?.activitySource} in ${mode} mode`);
    podUids.push(...slbs.map((s) => s.status!.podUID!));
    log(`${n} Ready; settling ${SETTLE_S} s`);
    await sleep(SETTLE_S * 1000);
    const byPod = processesByPod();
    let rss = 0;
    let pss = 0;
    let containers = 0;
    for (const s of slbs) {
      for (const pid of byPod.get(s.status!.podUID!) ?? []) {
        const m = memoryOf(pid);
        rss += m.rssKiB;
        pss += m.pssKiB;
      }
      const pod = await requestJson<{ spec: { containers: unknown[] } }>(kc, { method: 'GET', path: `/api/v1/namespaces/${namespace}/pods/${s.status!.podName}` });
      containers += pod.spec.containers.length;
    }
    const usedAfter = await steadyMemoryMiB();
    const sweeper = await sweeperCost();
    return {
      n, mode, containersPerBackend: containers / n, rssMiB: rss / 1024 / n, pssMiB: pss / 1024 / n,
      nodeUsedMiB: (usedAfter - usedBefore) / n, sweeper, sweeperIdle,
    };
  } finally {
    await Promise.all(names.map((name) => requestJson(kc, { method: 'DELETE', path: `${slbPath}/${name}` }).catch(() => {})));
    await waitFor(async () => ((await listRun(runId)).length === 0 ? true : undefined), { what: 'the backends gone', timeoutMs: 600_000, intervalMs: 1000 });
    // Their Pods' processes gone from the node too, before the next baseline.
    await waitFor(() => {
      const left = processesByPod();
      return podUids.every((uid) => !left.has(uid)) ? true : undefined;
    }, { what: "the backends' processes gone", timeoutMs: 300_000, intervalMs: 1000 });
    await sleep(5000);
  }
}

function loadavg(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

const results: Result[] = [];
const loadStart = loadavg();
for (const [i, n] of sizes.entries()) {
  const order = i % 2 === 0 ? modes : [...modes].reverse();
  for (const mode of order) results.push(await measure(n, mode));
}

const f = (v: number, d = 1) => v.toFixed(d);
console.log(`\n== density on the real node (drop-four, idle, settled ${SETTLE_S} s; sweeper over ${WINDOW_S} s windows); load average ${loadStart} → ${loadavg()}`);
console.log('N    mode      containers/backend  RSS/backend MiB  PSS/backend MiB  node used/backend MiB   sweeper CPU % (idle → with them)   sweeper RSS MiB (idle → with them)');
for (const r of results) {
  console.log(
    `${String(r.n).padEnd(4)} ${r.mode.padEnd(9)} ${f(r.containersPerBackend, 0).padStart(10)}          ${f(r.rssMiB).padStart(9)}        ${f(r.pssMiB).padStart(9)}        ${f(r.nodeUsedMiB).padStart(9)}              ` +
      `${f(r.sweeperIdle.cpuPercent, 2)} → ${f(r.sweeper.cpuPercent, 2)}                         ${f(r.sweeperIdle.rssMiB)} → ${f(r.sweeper.rssMiB)}`,
  );
}
for (const n of sizes) {
  const node = results.find((r) => r.n === n && r.mode === 'node');
  const side = results.find((r) => r.n === n && r.mode === 'sidecar');
  if (!node || !side) continue;
  console.log(
    `N=${n}: the sidecar adds ${f(side.containersPerBackend - node.containersPerBackend, 0)} container and ${f(side.pssMiB - node.pssMiB)} MiB PSS ` +
      `(${f(side.nodeUsedMiB - node.nodeUsedMiB)} MiB of node memory) per backend over node mode; node mode adds no container to the user's ` +
      `(${f(node.containersPerBackend, 0)} per Pod) and its per-node cost is the sweeper's: ${f(node.sweeper.rssMiB - node.sweeperIdle.rssMiB)} MiB RSS and ` +
      `${f(node.sweeper.cpuPercent - node.sweeperIdle.cpuPercent, 2)} % CPU more with ${n} backend(s)`,
  );
}
console.log('targets: node mode adds 0 containers and 0 MB per backend');
process.exit(0);
