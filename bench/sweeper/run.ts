// Sweeper benchmark: idle-to-deleted lag, from the moment a backend's grace period ends to the moment
// its SLB is deleted (the DELETED watch event reaching this process), over --n backends (100).
//
//   node bench/sweeper/run.ts [--mode node|sidecar] [--n 100] [--grace 3] [--spread 2] [--keep-cluster]
//                             [--active-interval-ms 400]   (node mode: the sweeper's --node-active-interval-ms)
// --mode node (the default, and the shipped default): the backends' Pods are network namespaces read from
// the node (benchNode below; needs root); sidecar: loopback stand-ins of the sidecar.
//
// Against the harness's real control plane (brought up here, state in SPAWNER_CLUSTER_STATE, default
// .cache/cluster/bench-sweeper.json, unless KUBECONFIG names one). The sweeper is its own process
// under the RBAC of manifests/sweeper. Each backend's sidecar is a loopback stand-in speaking the admin
// protocol (sweeper/test/support/fake-sidecar.ts; a hundred real sidecar processes would measure this
// machine's memory, not the sweeper) on an address of its own, written as the SLB's status.podIP as
// the operator would. Every backend starts with one connection open; the connections close at
// random moments over --spread seconds, and each close starts that backend's grace period.
import type { ChildProcess } from 'node:child_process';
import { chmod } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { GROUP, PLURAL, VERSION } from '../../common/contract.ts';
import { createInformer } from '../../common/kube/informer.ts';
import { memoryLogger } from '../../common/kube/testing/memlog.ts';
import { down, up } from '../../e2e/harness/cluster.ts';
import { loadKubeConfig, waitFor } from '../../e2e/harness/kube.ts';
import { repoRoot } from '../../e2e/harness/paths.ts';
import type { SessionLivedBackend } from '../../common/spawner/types.ts';
import {
  createBackend, createNamespace, deleteNamespace, freePortOn, installSweeperRbac, LoopbackAddresses, markReady, startSweeper,
  sweeperKubeConfig, tempDir, writeKubeconfig, type SweeperProcess,
} from '../../sweeper/test/support/cluster.ts';
import { FakeSidecar } from '../../sweeper/test/support/fake-sidecar.ts';
import { NetnsLab, UNPRIVILEGED_UID } from '../../sweeper/test/support/netns-lab.ts';
import { startListeners } from '../density/listeners.ts';

const { values: args } = parseArgs({
  options: {
    mode: { type: 'string', default: 'node' },
    n: { type: 'string', default: '100' },
    grace: { type: 'string', default: '3' },
    spread: { type: 'string', default: '2' },
    'active-interval-ms': { type: 'string', default: '400' },
    'keep-cluster': { type: 'boolean', default: false },
  },
});
const N = Number(args.n);
const GRACE = Number(args.grace);
const SPREAD = Number(args.spread);
if (!Number.isInteger(N) || N < 1 || N > 250) throw new Error('--n must be a whole number from 1 to 250 (one loopback address each)');
if (!Number.isInteger(GRACE) || GRACE < 1) throw new Error('--grace must be a whole number of seconds ≥ 1');
if (!(SPREAD >= 0)) throw new Error('--spread must be a number of seconds ≥ 0');
const MODE = args.mode as 'node' | 'sidecar';
if (MODE !== 'node' && MODE !== 'sidecar') throw new Error('--mode must be node or sidecar');

const NODE = 'bench-sweeper-node';
const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Where the lag goes, from the sweeper's own log: deciding (grace over → its 'sweeping' line, after the
// confirming read) and the API calls (→ DELETED seen: condition patch, Event, delete, the watch event).
function whereTheLagGoes(
  sweeper: SweeperProcess, namespace: string, names: string[], graceEnds: Map<string, number>, deletedAt: Map<string, number>,
): string[] {
  const decidedAt = new Map<string, number>();
  const sweptAt = new Map<string, number>();
  for (const line of sweeper.logLines) {
    if (line.namespace !== namespace) continue;
    if (line.msg === 'sweeping') decidedAt.set(String(line.name), Date.parse(String(line.time)));
    if (line.msg === 'swept') sweptAt.set(String(line.name), Date.parse(String(line.time)));
  }
  const decided = names.filter((n) => decidedAt.has(n));
  const calls = decided.filter((n) => sweptAt.has(n)).map((n) => sweptAt.get(n)! - decidedAt.get(n)!);
  const decide = decided.map((n) => decidedAt.get(n)! - graceEnds.get(n)!);
  const api = decided.map((n) => deletedAt.get(n)! - decidedAt.get(n)!);
  const split = (label: string, v: number[]) => `    ${label.padEnd(54)} p50 ${percentile(v, 50).toFixed(0).padStart(5)} ms   p99 ${percentile(v, 99).toFixed(0).padStart(5)} ms`;
  return [
    split('grace period over → the sweeper decides', decide),
    split('decided → DELETED seen (patch, Event, delete)', api),
    split('  of which the sweeper waits for its calls', calls),
  ];
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

// When each backend of the namespace was seen deleted (the informer is started by the caller).
function deletionTimes(admin: ReturnType<typeof loadKubeConfig>, namespace: string) {
  const deletedAt = new Map<string, number>();
  const { log: quiet } = memoryLogger();
  const informer = createInformer<SessionLivedBackend>({ kubeConfig: admin, path: `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`, log: quiet });
  informer.onEvent((ev) => {
    if (ev.type === 'delete' && !deletedAt.has(ev.obj.metadata.name!)) deletedAt.set(ev.obj.metadata.name!, Date.now());
  });
  return { informer, deletedAt };
}

async function bench(kubeconfig: string): Promise<string> {
  const admin = loadKubeConfig(kubeconfig);
  await installSweeperRbac();
  const namespace = await createNamespace(admin, 'bench-sweeper');
  const dir = await tempDir('bench-sweeper-');
  const addresses = new LoopbackAddresses();
  const sidecars: FakeSidecar[] = [];
  let sweeper: SweeperProcess | undefined;
  const { informer, deletedAt } = deletionTimes(admin, namespace);
  try {
    const first = addresses.take();
    const adminPort = await freePortOn(first);
    for (let i = 0; i < N; i++) {
      const sidecar = await FakeSidecar.start({ host: i === 0 ? first : addresses.take(), port: adminPort, heartbeatMs: 5000 });
      sidecar.connect(); // someone is using it
      sidecars.push(sidecar);
    }
    process.env.SWEEPER_TEST_LOG_LEVEL ??= 'info';
    sweeper = await startSweeper({
      kubeconfigFile: await writeKubeconfig(sweeperKubeConfig(admin), path.join(dir, 'sweeper.kubeconfig')),
      nodeName: NODE,
      namespace,
      sidecarAdminPort: adminPort,
      extraArgs: ['--heartbeat-timeout-ms=10000'],
    });
    await informer.start();

    const names = sidecars.map((_, i) => `b-${i}`);
    await Promise.all(
      names.map(async (name, i) => {
        const created = await createBackend(admin, { namespace, name, grace: GRACE });
        await markReady(admin, created, { nodeName: NODE, podIP: sidecars[i]!.host });
      }),
    );
    await waitFor(() => sidecars.every((s) => s.subscribers === 1), { what: `the sweeper to follow all ${N} backends`, timeoutMs: 180_000, onProgress: log });
    log(`${N} backends Ready and followed; closing their connections over ${SPREAD} s (grace ${GRACE} s)`);

    // Each backend's connection closes at its own moment; its grace period ends GRACE s later.
    const graceEnds = new Map<string, number>();
    const start = Date.now();
    const order = names.map((name, i) => ({ name, i, at: start + Math.random() * SPREAD * 1000 })).sort((a, b) => a.at - b.at);
    for (const { name, i, at } of order) {
      const wait = at - Date.now();
      if (wait > 0) await sleep(wait);
      sidecars[i]!.disconnect();
      graceEnds.set(name, sidecars[i]!.lastActivityMs + GRACE * 1000);
    }
    await waitFor(() => deletedAt.size >= N, { what: `all ${N} backends deleted`, timeoutMs: 300_000, onProgress: log, intervalMs: 50 });

    const lags = names.map((name) => deletedAt.get(name)! - graceEnds.get(name)!);
    const early = lags.filter((l) => l < 0);
    const p50 = percentile(lags, 50);
    const p99 = percentile(lags, 99);
    return [
      `sweeper benchmark: ${N} backends, gracePeriodSeconds ${GRACE}, connections closed over ${SPREAD} s (${os.cpus().length} CPUs shared, load average ${os.loadavg()[0]!.toFixed(2)})`,
      `  idle-to-deleted lag (grace period over → DELETED seen):  p50 ${p50.toFixed(0)} ms   p99 ${p99.toFixed(0)} ms   max ${Math.max(...lags).toFixed(0)} ms   min ${Math.min(...lags).toFixed(0)} ms`,
      ...whereTheLagGoes(sweeper, namespace, names, graceEnds, deletedAt),
      `  deleted before their grace period ended: ${early.length}`,
      `  target: p99 < 1000 ms  ${p99 < 1000 ? 'met' : 'NOT met'}`,
    ].join('\n');
  } finally {
    informer.stop();
    await sweeper?.stop();
    await Promise.all(sidecars.map((s) => s.stop()));
    await deleteNamespace(admin, namespace);
  }
}

// Node mode: each backend's "Pod" is a network namespace made here (sweeper/test/support/netns-lab.ts)
// with a sandbox process in a cgroup carrying its UID and an app listening on :8080 (one small process
// holds every listener, bench/density/listeners.c); its connection comes from a peer namespace (as the
// router's would) and ends in one of two ways, half the backends each: the app closes first after the
// client's goodbye (a WebSocket's closing handshake: TIME_WAIT in the Pod dates the close exactly), or
// the client closes first (nothing stays in the Pod: the next read sees it gone). The sweeper runs as
// nobody with no capability, reading the Pods from the node as the DaemonSet does.
async function benchNode(kubeconfig: string): Promise<string> {
  const admin = loadKubeConfig(kubeconfig);
  await installSweeperRbac();
  const namespace = await createNamespace(admin, 'bench-sweeper');
  const dir = await tempDir('bench-sweeper-');
  await chmod(dir, 0o755);
  const lab = await NetnsLab.create();
  let listeners: ChildProcess | undefined;
  let sweeper: SweeperProcess | undefined;
  const { informer, deletedAt } = deletionTimes(admin, namespace);
  try {
    const peerNs = await lab.addNamespace();
    const peer = await lab.startPeer(peerNs, 'client');
    const namespaces = await lab.addNamespaces(N);
    const pods = await Promise.all(namespaces.map(async (ns) => ({ ns, ...(await lab.startSandbox(ns)) })));
    listeners = await startListeners(namespaces);
    const names = pods.map((_, i) => `b-${i}`);
    for (const [i, p] of pods.entries()) await peer.send('open', { key: names[i], host: p.ns.ip, port: 8080 });
    const kubeconfigFile = await writeKubeconfig(sweeperKubeConfig(admin), path.join(dir, 'sweeper.kubeconfig'));
    await chmod(kubeconfigFile, 0o644);
    process.env.SWEEPER_TEST_LOG_LEVEL ??= 'info';
    sweeper = await startSweeper({
      kubeconfigFile, nodeName: NODE, namespace, sidecarAdminPort: 9091, asUser: UNPRIVILEGED_UID,
      extraArgs: [`--node-active-interval-ms=${args['active-interval-ms']}`],
    });
    await informer.start();
    await Promise.all(
      names.map(async (name, i) => {
        const created = await createBackend(admin, { namespace, name, grace: GRACE });
        await markReady(admin, created, { nodeName: NODE, podIP: pods[i]!.ns.ip, node: { podUID: pods[i]!.podUid } });
      }),
    );
    await waitFor(() => names.every((n) => sweeper!.logLines.some((l) => l.name === n && l.msg === 'following activity')), {
      what: `the sweeper to follow all ${N} backends`, timeoutMs: 180_000, onProgress: log,
    });
    await sleep(3000); // every backend read at least twice, its open connection seen
    log(`${N} backends Ready and followed; closing their connections over ${SPREAD} s (grace ${GRACE} s)`);

    const graceEnds = new Map<string, number>();
    const appFirst = new Set<string>();
    const start = Date.now();
    const order = names.map((name, i) => ({ name, i, at: start + Math.random() * SPREAD * 1000 })).sort((a, b) => a.at - b.at);
    await Promise.all(
      order.map(async ({ name, i, at }) => {
        const wait = at - Date.now();
        if (wait > 0) await sleep(wait);
        const closedAt = Date.now();
        if (i % 2 === 0) {
          appFirst.add(name);
          await peer.send('bye', { key: name });
        } else {
          await peer.send('close', { key: name });
        }
        graceEnds.set(name, closedAt + GRACE * 1000);
      }),
    );
    await waitFor(() => deletedAt.size >= N, { what: `all ${N} backends deleted`, timeoutMs: 300_000, onProgress: log, intervalMs: 50 });
    const lagOf = (subset: string[]) => subset.map((name) => deletedAt.get(name)! - graceEnds.get(name)!);
    const all = lagOf(names);
    const line = (label: string, v: number[]) =>
      `  ${label.padEnd(58)} p50 ${percentile(v, 50).toFixed(0).padStart(5)} ms   p99 ${percentile(v, 99).toFixed(0).padStart(5)} ms   max ${Math.max(...v).toFixed(0).padStart(5)} ms   min ${Math.min(...v).toFixed(0)} ms`;
    const early = all.filter((l) => l < 0).length;
    return [
      `sweeper benchmark, node mode: ${N} backends (network namespaces read from the node), gracePeriodSeconds ${GRACE}, connections closed over ${SPREAD} s, reads every 1 s (every ${args['active-interval-ms']} ms with a connection open) (${os.cpus().length} CPUs shared, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')})`,
      line('idle-to-deleted lag, all (grace over → DELETED seen)', all),
      line('  the app closed first (a WebSocket closing handshake)', lagOf(names.filter((n) => appFirst.has(n)))),
      line('  the client closed first (seen gone at the next read)', lagOf(names.filter((n) => !appFirst.has(n)))),
      ...whereTheLagGoes(sweeper, namespace, names, graceEnds, deletedAt),
      `  deleted before their grace period ended: ${early}`,
      `  target: p99 < 1000 ms  ${percentile(all, 99) < 1000 ? 'met' : 'NOT met'}`,
    ].join('\n');
  } finally {
    informer.stop();
    await sweeper?.stop();
    listeners?.kill('SIGKILL');
    await lab.close();
    await deleteNamespace(admin, namespace);
  }
}

async function main(): Promise<void> {
  const given = process.env.KUBECONFIG;
  const stateFile = process.env.SPAWNER_CLUSTER_STATE ?? path.join(repoRoot, '.cache/cluster/bench-sweeper.json');
  let kubeconfig = given;
  if (!kubeconfig) {
    const info = await up({ stateFile, log });
    kubeconfig = info.kubeconfig;
    process.env.KUBECONFIG = info.kubeconfig;
    process.env.SPAWNER_TEST_KUBECTL = info.kubectl;
  }
  try {
    process.stdout.write(`${MODE === 'node' ? await benchNode(kubeconfig) : await bench(kubeconfig)}\n`);
  } finally {
    if (!given && !args['keep-cluster']) await down({ stateFile, log });
  }
}

await main();
