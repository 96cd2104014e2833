// Claims on the real node, through nginx and the route service: a WarmPool of drop-four backends, then
//   warm, one at a time   create → Ready (the benchmark's watch) and create → first byte (GET status.url
//                         answers 200 from the app, asked the moment Ready is seen: Ready is routable)
//   warm, N at once       the same for N claims created together from a full pool of N
//   cold, one at a time   a backend with its own template (no pool), for the ratio warm ÷ cold
// interleaved round by round, with p50/p99 per kind, the ratios of each round's p50 (median and range
// over the rounds) and the load average.
// --manifests: how the warm claims are written, each kind in every round (rotated): 'bare' as kubectl
// writes them (the operator patches its finalizer in first), 'spawner' as the CLI and POST /init do
// (common/spawner/backend.ts newClaim: the finalizer already on, one write less per claim).
//
//   node bench/claim/real-node.ts [--rounds 3] [--pool 20] [--one-at-a-time 10] [--cold 3] [--manifests bare,spawner]
//                                 [--namespace spawner-backends] [--public-url http://localhost:30080]
//
// Needs KUBECONFIG pointing at a cluster with Spawner deployed on the real node (make up), and the real
// node's lock (flock /tmp/spawner-real-node.lock …) on a shared machine.
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { API_VERSION, GROUP, LABEL_BACKEND, PLURAL, POOL_PLURAL, VERSION } from '../../common/contract.ts';
import { newClaim } from '../../common/spawner/backend.ts';
import { createInformer } from '../../common/kube/informer.ts';
import { loadKubeAccess } from '../../common/kube/kubeconfig.ts';
import { requestJson } from '../../common/kube/rest.ts';
import { createLogger } from '../../common/log.ts';
import type { SessionLivedBackend, WarmPool } from '../../schema/generated/types.ts';
import { waitFor } from '../../e2e/harness/wait.ts';
import { median, percentile, spread } from '../operator/stats.ts';
import { parseManifests, type Manifest } from '../support/manifests.ts';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    pool: { type: 'string', default: '20' }, // members, and the claims made at once
    'one-at-a-time': { type: 'string', default: '10' },
    cold: { type: 'string', default: '3' }, // cold starts one at a time per round
    manifests: { type: 'string', default: 'bare,spawner' },
    image: { type: 'string', default: 'localhost/spawner/drop-four:0.1.0' },
    namespace: { type: 'string', default: 'spawner-backends' },
    'public-url': { type: 'string', default: process.env.SPAWNER_E2E_PUBLIC_URL ?? 'http://localhost:30080' },
  },
});
const rounds = Number(args.rounds);
const poolSize = Number(args.pool);
const oneAtATime = Number(args['one-at-a-time']);
const colds = Number(args.cold);
for (const [flag, v] of [['rounds', rounds], ['pool', poolSize], ['one-at-a-time', oneAtATime], ['cold', colds]] as const) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${flag}: a whole number ≥ 1 (got ${String(v)})`);
}
if (oneAtATime > poolSize) throw new Error('--one-at-a-time must not exceed --pool (every one is meant to be warm)');
const manifests = parseManifests(args.manifests!);
const namespace = args.namespace!;
const log = (line: string) => process.stderr.write(`[claim-real] ${line}\n`);
if (!process.env.KUBECONFIG) throw new Error('KUBECONFIG must name a cluster with Spawner deployed on the real node (make up)');
const kc = await loadKubeAccess(process.env.KUBECONFIG);
const POOL = 'bench-claim';
const slbPath = `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`;
const poolPath = `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${POOL_PLURAL}`;

interface Sample {
  kind: 'warm-1' | 'warm-N' | 'cold-1';
  manifest: Manifest; // how a warm claim was written (cold ones are always bare)
  createdMs: number; // create sent → answered (the API server's part of a claim the client waits on)
  readyMs: number; // create sent → Ready seen
  firstByteMs: number; // create sent → 200 from the app
  warm: boolean; // PoolClaim ClaimedWarm
  firstAnswer: number; // the status of the first GET (anything but 200 is a routing failure)
}

// The benchmark's own watch: when each backend is first seen Ready.
const readySeen = new Map<string, { at: number; slb: SessionLivedBackend }>();
const waiters = new Map<string, () => void>();
const slbs = createInformer<SessionLivedBackend>({ kubeConfig: kc, path: slbPath, labelSelector: 'spawner.dev/bench=claim', log: createLogger('bench', 'silent') });
slbs.onEvent((ev) => {
  const name = ev.obj.metadata.name!;
  if (ev.type === 'delete' || readySeen.has(name) || ev.obj.status?.phase !== 'Ready') return;
  readySeen.set(name, { at: performance.now(), slb: ev.obj });
  waiters.get(name)?.();
});

function manifest(kind: Sample['kind'], how: Manifest): SessionLivedBackend {
  if (kind !== 'cold-1' && how === 'spawner') {
    const claim = newClaim({ namespace, generateName: 'bench-warm-', createdBy: 'spawner-bench', pool: POOL, gracePeriodSeconds: 600 });
    claim.metadata.labels = { ...claim.metadata.labels, 'spawner.dev/bench': 'claim' };
    return claim;
  }
  const metadata = { generateName: kind === 'cold-1' ? 'bench-cold-' : 'bench-warm-', namespace, labels: { 'spawner.dev/bench': 'claim' } };
  const spec: SessionLivedBackend['spec'] = kind === 'cold-1'
    ? { gracePeriodSeconds: 600, httpPort: 8080, template: { containers: [{ name: 'app', image: args.image!, imagePullPolicy: 'IfNotPresent' }] } }
    : { gracePeriodSeconds: 600, poolRef: { name: POOL } };
  return { apiVersion: API_VERSION as SessionLivedBackend['apiVersion'], kind: 'SessionLivedBackend', metadata, spec };
}

async function claimOnce(kind: Sample['kind'], how: Manifest): Promise<Sample & { name: string }> {
  const sent = performance.now();
  const created = await requestJson<SessionLivedBackend>(kc, { method: 'POST', path: slbPath, body: manifest(kind, how) });
  const createdMs = performance.now() - sent;
  const name = created.metadata.name!;
  if (!readySeen.has(name)) {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${name} not Ready within 300 s`)), 300_000);
      waiters.set(name, () => {
        clearTimeout(t);
        resolve();
      });
    });
  }
  const ready = readySeen.get(name)!;
  const res = await fetch(ready.slb.status!.url!);
  await res.arrayBuffer();
  const firstByte = performance.now();
  const warm = ready.slb.status?.conditions?.some((c) => c.type === 'PoolClaim' && c.reason === 'ClaimedWarm') ?? false;
  return { name, kind, manifest: how, createdMs, readyMs: ready.at - sent, firstByteMs: firstByte - sent, warm, firstAnswer: res.status };
}

async function readyMembers(): Promise<number> {
  const pool = await requestJson<WarmPool>(kc, { path: `${poolPath}/${POOL}` });
  return pool.status?.readyReplicas ?? 0;
}

async function poolFull(): Promise<void> {
  await waitFor(async () => ((await readyMembers()) >= poolSize ? true : undefined), { what: `${poolSize} Ready members`, timeoutMs: 600_000, intervalMs: 250 });
}

async function removeAll(names: string[]): Promise<void> {
  await Promise.all(names.map((n) => requestJson(kc, { method: 'DELETE', path: `${slbPath}/${n}` }).catch(() => undefined)));
}

// Waits until these sessions' Pods are gone, not only asked to go: with the pool full again (each step
// waits for that first), the next step starts on a settled node and does not measure this one tearing down.
async function podsGone(names: string[]): Promise<void> {
  const selector = encodeURIComponent(`${LABEL_BACKEND} in (${names.join(',')})`);
  const left = async () => (await requestJson<{ items: unknown[] }>(kc, { path: `/api/v1/namespaces/${namespace}/pods?labelSelector=${selector}` })).items.length;
  if (names.length > 0) await waitFor(async () => ((await left()) === 0 ? true : undefined), { what: `the Pods of ${names.length} removed session(s) gone`, timeoutMs: 300_000, intervalMs: 250 });
}

function line(label: string, xs: Sample[]): string {
  const ms = (v: number) => `${v.toFixed(0)} ms`;
  const r = xs.map((s) => s.readyMs);
  const b = xs.map((s) => s.firstByteMs);
  const cold = xs.filter((s) => !s.warm).length;
  const failed = xs.filter((s) => s.firstAnswer !== 200).length;
  return `  ${label.padEnd(26)} n=${String(xs.length).padEnd(4)} create→Ready p50 ${ms(percentile(r, 50)).padStart(8)} p99 ${ms(percentile(r, 99)).padStart(8)}   ` +
    `create→first byte p50 ${ms(percentile(b, 50)).padStart(8)} p99 ${ms(percentile(b, 99)).padStart(8)}   ` +
    `(create answered p50 ${ms(percentile(xs.map((s) => s.createdMs), 50))} p99 ${ms(percentile(xs.map((s) => s.createdMs), 99))})` +
    `${label.startsWith('warm') ? `   (started cold: ${cold})` : ''}${failed ? `   FIRST ANSWER NOT 200: ${failed}` : ''}`;
}

async function main(): Promise<void> {
  await slbs.start();
  const loadAtStart = os.loadavg().map((l) => l.toFixed(1)).join(' ');
  await requestJson(kc, { method: 'DELETE', path: `${poolPath}/${POOL}` }).catch(() => undefined);
  await waitFor(async () => (await requestJson(kc, { path: `${poolPath}/${POOL}` }).then(() => undefined, () => true)), { what: 'an old bench pool gone', timeoutMs: 120_000 });
  await requestJson(kc, {
    method: 'POST', path: poolPath,
    body: { apiVersion: API_VERSION, kind: 'WarmPool', metadata: { name: POOL, namespace }, spec: { replicas: poolSize, httpPort: 8080, template: { containers: [{ name: 'app', image: args.image!, imagePullPolicy: 'IfNotPresent' }] } } },
  });
  const samples: Array<Sample & { round: number }> = [];
  try {
    for (let round = 0; round < rounds; round++) {
      // The order alternates, so that neither kind always runs on a machine the other just loaded.
      const hows = manifests.map((_, i) => manifests[(i + round) % manifests.length]!);
      const warm = hows.flatMap((how) => [['warm-1', how], ['warm-N', how]] as Array<[Sample['kind'], Manifest]>);
      const steps: Array<[Sample['kind'], Manifest]> = round % 2 === 0 ? [...warm, ['cold-1', 'bare']] : [['cold-1', 'bare'], ...warm.reverse()];
      for (const [kind, how] of steps) {
        await poolFull();
        await sleep(2000);
        const made: string[] = [];
        if (kind === 'warm-N') {
          const all = await Promise.all(Array.from({ length: poolSize }, () => claimOnce(kind, how)));
          for (const s of all) { samples.push({ ...s, round }); made.push(s.name); }
        } else {
          for (let i = 0; i < (kind === 'cold-1' ? colds : oneAtATime); i++) {
            const s = await claimOnce(kind, how);
            samples.push({ ...s, round });
            made.push(s.name);
          }
        }
        log(`round ${round + 1} ${kind}${kind === 'cold-1' ? '' : ` (${how})`}: ${made.length} done (load ${os.loadavg()[0]!.toFixed(1)})`);
        await removeAll(made);
        await podsGone(made);
      }
    }
  } finally {
    await removeAll([...readySeen.keys()]);
    await requestJson(kc, { method: 'DELETE', path: `${poolPath}/${POOL}` }).catch(() => undefined);
    slbs.stop();
  }
  const of = (kind: Sample['kind'], how?: Manifest, round?: number) =>
    samples.filter((s) => s.kind === kind && (how === undefined || kind === 'cold-1' || s.manifest === how) && (round === undefined || s.round === round));
  const out = [
    `claims on the real node through nginx (pool of ${poolSize}; ${rounds} round(s); load average ${loadAtStart} at start, ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} at the end)`,
  ];
  const ratio = (a: Sample['kind'], b: Sample['kind'], how: Manifest, pick: (s: Sample) => number) =>
    spread(Array.from({ length: rounds }, (_, r) => median(of(a, how, r).map(pick)) / median(of(b, how, r).map(pick))), 3);
  for (const how of manifests) {
    out.push(
      `backends written ${how === 'bare' ? 'bare, as kubectl would (the operator patches its finalizer in)' : 'as the CLI and POST /init write them (finalizer already on)'}:`,
      line('warm, one at a time', of('warm-1', how)),
      line(`warm, ${poolSize} at once`, of('warm-N', how)),
      `  per-round p50 ratios (median (min–max)): warm÷cold create→first byte ${ratio('warm-1', 'cold-1', how, (s) => s.firstByteMs)}, ` +
        `create→Ready ${ratio('warm-1', 'cold-1', how, (s) => s.readyMs)}; ${poolSize} at once ÷ one at a time, first byte ${ratio('warm-N', 'warm-1', how, (s) => s.firstByteMs)}`,
      `  per round, warm one at a time first byte p50: ${Array.from({ length: rounds }, (_, r) => `${percentile(of('warm-1', how, r).map((s) => s.firstByteMs), 50).toFixed(0)}`).join(', ')} ms; ` +
        `${poolSize} at once p99: ${Array.from({ length: rounds }, (_, r) => `${percentile(of('warm-N', how, r).map((s) => s.firstByteMs), 99).toFixed(0)}`).join(', ')} ms`,
    );
  }
  if (manifests.length === 2) {
    const byRound = (kind: Sample['kind'], pick: (s: Sample) => number, p: number) =>
      spread(Array.from({ length: rounds }, (_, r) => percentile(of(kind, 'spawner', r).map(pick), p) / percentile(of(kind, 'bare', r).map(pick), p)), 3);
    out.push(`per-round ratios spawner ÷ bare: ${poolSize} at once first byte p99 ${byRound('warm-N', (s) => s.firstByteMs, 99)}, create→Ready p50 ${byRound('warm-N', (s) => s.readyMs, 50)}; one at a time first byte p50 ${byRound('warm-1', (s) => s.firstByteMs, 50)}`);
  }
  out.push(
    line('cold, one at a time', of('cold-1')),
    'targets: warm create→first byte p50 ≤ 100 ms, p99 ≤ 250 ms; 20 at once from a pool of 20 p99 ≤ 500 ms',
  );
  process.stdout.write(`${out.join('\n')}\n`);
}

await main();
