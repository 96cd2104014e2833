// WarmPool invariants while two operator replicas on one Lease are SIGKILLed again and again (each
// restarted at once under its identity): claims are made and some deleted, the pool is scaled up and
// down, then deleted. Afterwards:
//   1. no member was ever controlled by two backends (every controller a Pod ever had, from a watch
//      that saw every change): exactly one backend per member;
//   2. nothing is orphaned: every Pod left is controlled by a backend that exists, the pool's members
//      went with it, and each backend kept controls exactly one Pod;
//   and every backend kept is Ready, members claimed warm still run the Pod they were handed.
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import type { CoordinationV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, V1Pod } from '@kubernetes/client-node';
import { createInformer, type Informer } from '../../common/kube/informer.ts';
import { memoryLogger } from '../../common/kube/testing/memlog.ts';
import { apiClients, kubectl, loadKubeConfig, waitFor } from '../../e2e/harness/kube.ts';
import {
  createNamespace, deleteNamespace, installOperatorRbac, operatorKubeconfig, operatorNamespace, sleep, startOperator, tempDir,
  type OperatorProcess,
} from './support/operator-process.ts';
import { seededRandom } from './support/random.ts';
import { createPool, poolManifest } from './support/pools.ts';
import { createSlb, deleteSlb, type Slb } from './support/slbs.ts';

const CLAIMS = 45;
let kc: KubeConfig;
let core: CoreV1Api;
let custom: CustomObjectsApi;
let coordination: CoordinationV1Api;
let namespace = '';
let dir = '';
let operatorKc = '';
const replicas = new Map<string, OperatorProcess>();
const controllersOf = new Map<string, Set<string>>(); // Pod uid → every controller uid it was seen with
const podEvents: Array<{ type: string; name: string; uid: string; controller?: string }> = [];
let pods: Informer<V1Pod>;
let slbs: Informer<Slb>;

beforeAll(async () => {
  kc = loadKubeConfig();
  ({ core, custom, coordination } = apiClients(kc));
  dir = await tempDir('spawner-pools-crash-');
  await installOperatorRbac();
  namespace = await createNamespace(core, 'pools-crash');
  operatorKc = await operatorKubeconfig(kc, dir);
  const { log } = memoryLogger();
  pods = createInformer<V1Pod>({ kubeConfig: kc, path: `/api/v1/namespaces/${namespace}/pods`, log });
  pods.onEvent((ev) => {
    const m = ev.obj.metadata!;
    const controller = m.ownerReferences?.find((r) => r.controller)?.uid;
    podEvents.push({ type: ev.type, name: m.name!, uid: m.uid!, controller });
    if (!controller) return;
    if (!controllersOf.has(m.uid!)) controllersOf.set(m.uid!, new Set());
    controllersOf.get(m.uid!)!.add(controller);
  });
  slbs = createInformer<Slb>({ kubeConfig: kc, path: `/apis/spawner.dev/v1/namespaces/${namespace}/sessionlivedbackends`, log });
  await Promise.all([pods.start(), slbs.start()]);
}, 10 * 60_000);

afterAll(async () => {
  await Promise.all([...replicas.values()].map((r) => r.stop()));
  pods?.stop();
  slbs?.stop();
  if (core && namespace) await deleteNamespace(core, namespace);
}, 180_000);

test(`${CLAIMS} claims, scale up and down, then the pool deleted, while two replicas are SIGKILLed again and again`, async () => {
  const seed = Number(process.env.SPAWNER_CRASH_SEED) || Date.now() % 1_000_000;
  const rnd = seededRandom(seed); // SPAWNER_CRASH_SEED replays a run
  process.stderr.write(`[pools-crash] seed ${seed} (SPAWNER_CRASH_SEED=${seed} replays the kill points)\n`);
  const leaseName = `pools-crash-${namespace}`;
  const start = (identity: string) =>
    startOperator({ kubeconfig: operatorKc, dir, identity, watchNamespace: namespace, leaseName, extraArgs: ['--concurrency=8'] }).then((p) => {
      replicas.set(identity, p);
      return p;
    });
  await Promise.all([start('replica-a'), start('replica-b')]);
  const holder = async () => (await coordination.readNamespacedLease({ namespace: operatorNamespace, name: leaseName }).catch(() => undefined))?.spec?.holderIdentity;

  await createPool(custom, poolManifest(namespace, 'games', { replicas: 8 }));
  await waitFor(async () => (await kubectl(['get', 'wp', 'games', '-n', namespace, '-o', 'jsonpath={.status.readyReplicas}'])) === '8' || undefined, {
    what: 'the pool to fill', timeoutMs: 5 * 60_000,
  });

  const names = Array.from({ length: CLAIMS }, (_, i) => `room-${String(i).padStart(2, '0')}`);
  const deleted = new Set(names.filter((_, i) => i % 3 === 2));
  let poolDeleted = false;
  let workloadDone = false;
  const workload = (async () => {
    const pending: Promise<void>[] = [];
    for (const [i, name] of names.entries()) {
      await createSlb(custom, { apiVersion: 'spawner.dev/v1', kind: 'SessionLivedBackend', metadata: { name, namespace }, spec: { poolRef: { name: 'games' }, gracePeriodSeconds: 3600 } });
      if (deleted.has(name)) pending.push(sleep(rnd() * 3000).then(() => deleteSlb(custom, namespace, name)));
      if (i === Math.floor(CLAIMS / 3)) await kubectl(['scale', 'wp', 'games', '-n', namespace, '--replicas=12']);
      if (i === Math.floor((2 * CLAIMS) / 3)) await kubectl(['scale', 'wp', 'games', '-n', namespace, '--replicas=4']);
      await sleep(rnd() * 250);
    }
    // Every claim settled (Ready, warm or cold) before its pool goes: a claim never waits on a deleted pool.
    await waitFor(() => names.filter((n) => !deleted.has(n)).every((n) => slbs.get(namespace, n)?.status?.phase === 'Ready') || undefined, {
      what: 'every kept claim Ready', timeoutMs: 5 * 60_000, intervalMs: 200,
    });
    await kubectl(['delete', 'wp', 'games', '-n', namespace, '--wait=false']);
    poolDeleted = true;
    await Promise.all(pending);
    await sleep(2000 + rnd() * 3000); // kills land during the pool's teardown too
  })().finally(() => {
    workloadDone = true;
  });

  // The killer: a random replica (the leader two times in three), SIGKILLed after a random while and
  // restarted at once under its identity.
  let kills = 0;
  while (!workloadDone || kills < 10) {
    await sleep(300 + rnd() * 1500);
    const lead = await holder();
    const victim = lead && rnd() < 0.67 ? lead : rnd() < 0.5 ? 'replica-a' : 'replica-b';
    await replicas.get(victim)?.kill('SIGKILL');
    kills += 1;
    await start(victim);
  }
  await workload;
  expect(poolDeleted).toBe(true);
  process.stderr.write(`[pools-crash] ${kills} kills\n`);
  await Promise.all([...replicas.values()].map((r) => r.ready()));

  // Converged: the pool and its unclaimed members gone, every kept backend Ready on one Pod of its own.
  const kept = names.filter((n) => !deleted.has(n));
  await waitFor(async () => {
    const pool = await kubectl(['get', 'wp', '-n', namespace, '-o', 'name']);
    const podList = pods.list().filter((p) => !p.metadata?.deletionTimestamp);
    const lingering = names.filter((n) => deleted.has(n) && slbs.get(namespace, n));
    const notReady = kept.filter((n) => slbs.get(namespace, n)?.status?.phase !== 'Ready');
    if (pool.trim() || lingering.length || notReady.length || podList.length !== kept.length) {
      throw new Error(`pool '${pool.trim()}', ${lingering.length} deleted backends left, ${notReady.length} not Ready, ${podList.length} Pods for ${kept.length} backends`);
    }
    return true;
  }, { what: 'everything to converge', timeoutMs: 5 * 60_000, intervalMs: 500 });

  // 1. Exactly one backend per member, ever.
  const backendUids = new Set([...slbs.list()].map((s) => s.metadata.uid!));
  const twice = [...controllersOf.entries()].filter(([, owners]) => [...owners].filter((o) => o !== poolUid()).length > 1);
  expect(twice).toEqual([]);

  // 2. No orphans: each Pod is controlled by a backend that exists; each backend controls exactly one.
  const byBackend = new Map<string, string[]>();
  for (const p of pods.list()) {
    const controller = p.metadata?.ownerReferences?.find((r) => r.controller)?.uid;
    expect({ pod: p.metadata?.name, controlledByABackend: controller !== undefined && backendUids.has(controller) }).toEqual({ pod: p.metadata?.name, controlledByABackend: true });
    byBackend.set(controller!, [...(byBackend.get(controller!) ?? []), p.metadata!.name!]);
  }
  for (const name of kept) {
    const slb = slbs.get(namespace, name)!;
    expect({ name, pods: byBackend.get(slb.metadata.uid!) ?? [] }).toEqual({ name, pods: [slb.status!.podName] });
  }
  // Claimed warm: the member named at the claim still runs, outliving its pool.
  const warm = kept.filter((n) => slbs.get(namespace, n)!.status?.conditions?.some((c) => c.type === 'PoolClaim' && c.reason === 'ClaimedWarm'));
  process.stderr.write(`[pools-crash] ${warm.length} of ${kept.length} kept claims warm\n`);
  expect(warm.length).toBeGreaterThan(0);
  for (const name of warm) {
    const slb = slbs.get(namespace, name)!;
    const member = slb.status!.pool!.member!;
    expect({ name, runs: pods.get(namespace, member)?.metadata?.ownerReferences?.[0]?.uid === slb.metadata.uid }).toEqual({ name, runs: true });
  }
}, 20 * 60_000);

// The pool's uid, from the first controller reference any member carried (members are created by it).
function poolUid(): string | undefined {
  return podEvents.find((e) => e.name.startsWith('games-') && e.type === 'add')?.controller;
}
