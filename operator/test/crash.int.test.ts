// The operator SIGKILLed at random points while 200 backends are created and half of them deleted, and
// started again each time: afterwards no backend has had more than one Pod (nor any Service), no Pod
// is left without its backend, every backend kept is Ready and every one deleted is gone, and
// a deleted backend's children went before it did (the finalizer held it, not garbage collection).
// A third of the backends are written as Spawner's CLI and HTTP API write them (common/spawner/backend.ts:
// with the operator's finalizer already on, so its first write is the Pod), the rest as kubectl would.
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import type { CoreV1Api, CustomObjectsApi, KubeConfig, V1Pod, V1Service } from '@kubernetes/client-node';
import { createInformer, type Informer } from '../../common/kube/informer.ts';
import { memoryLogger } from '../../common/kube/testing/memlog.ts';
import { apiClients, loadKubeConfig, waitFor } from '../../e2e/harness/kube.ts';
import {
  createNamespace, deleteNamespace, installOperatorRbac, operatorKubeconfig, sleep, startOperator, tempDir,
  type OperatorProcess,
} from './support/operator-process.ts';
import { seededRandom } from './support/random.ts';
import { createSlb, deleteSlb, slbManifest, type Slb } from './support/slbs.ts';
import { newBackend } from '../../common/spawner/backend.ts';

const TOTAL = 200;
let kc: KubeConfig;
let core: CoreV1Api;
let custom: CustomObjectsApi;
let namespace = '';
let dir = '';
let operatorKc = '';
let operator: OperatorProcess | undefined;

type Kind = 'SessionLivedBackend' | 'Pod' | 'Service';
// rv: the resourceVersion the event carried. Events come from three independent watches, so their
// arrival order means nothing across kinds; resourceVersions of one etcd do order them (a harness fact,
// not an API promise: Kubernetes calls them opaque).
type Seen = { kind: Kind; type: string; name: string; uid: string; owner?: string; rv: number };
const seen: Seen[] = [];
const caches = new Map<Kind, Informer<Slb | V1Pod | V1Service>>();

beforeAll(async () => {
  kc = loadKubeConfig();
  ({ core, custom } = apiClients(kc));
  dir = await tempDir('spawner-crash-');
  await installOperatorRbac();
  namespace = await createNamespace(core, 'crash');
  operatorKc = await operatorKubeconfig(kc, dir);
  const { log } = memoryLogger();
  const paths: Array<[Kind, string]> = [
    ['SessionLivedBackend', `/apis/spawner.dev/v1/namespaces/${namespace}/sessionlivedbackends`],
    ['Pod', `/api/v1/namespaces/${namespace}/pods`],
    ['Service', `/api/v1/namespaces/${namespace}/services`],
  ];
  await Promise.all(
    paths.map(([kind, path]) => {
      const inf = createInformer<Slb | V1Pod | V1Service>({ kubeConfig: kc, path, log });
      inf.onEvent((ev) => {
        const m = ev.obj.metadata!;
        seen.push({ kind, type: ev.type, name: m.name!, uid: m.uid!, owner: m.ownerReferences?.find((r) => r.controller)?.uid, rv: Number(m.resourceVersion) });
      });
      caches.set(kind, inf);
      return inf.start();
    }),
  );
}, 10 * 60_000);

afterAll(async () => {
  await operator?.stop();
  for (const i of caches.values()) i.stop();
  if (core && namespace) await deleteNamespace(core, namespace);
}, 120_000);

test(`${TOTAL} backends created and half deleted while the operator is SIGKILLed again and again`, async () => {
  const seed = Number(process.env.SPAWNER_CRASH_SEED) || Date.now() % 1_000_000;
  const rnd = seededRandom(seed); // SPAWNER_CRASH_SEED replays a run
  process.stderr.write(`[crash] seed ${seed} (SPAWNER_CRASH_SEED=${seed} replays the kill points)\n`);
  const start = (n: number) =>
    startOperator({ kubeconfig: operatorKc, dir, identity: 'crash', watchNamespace: namespace, leaseName: `crash-${namespace}`, extraArgs: [`--concurrency=8`] }).then((p) => {
      process.stderr.write(`[crash] operator start ${n} (pid ${p.pid})\n`);
      return p;
    });

  const names = Array.from({ length: TOTAL }, (_, i) => `b-${String(i).padStart(3, '0')}`);
  const deleted = new Set(names.filter((_, i) => i % 2 === 1));
  const uids = new Map<string, string>();

  // The workload: paced creations so that the kills land throughout, each odd one deleted soon after.
  let workloadDone = false;
  const workload = (async () => {
    const pending: Promise<void>[] = [];
    for (const [i, name] of names.entries()) {
      const manifest = i % 3 === 0
        ? newBackend({ namespace, name, createdBy: 'spawner-crash-test', image: 'example.invalid/app:1', port: 8080, gracePeriodSeconds: 300 })
        : slbManifest(namespace, name);
      const created = await createSlb(custom, manifest);
      uids.set(name, created.metadata.uid!);
      // Half of the deletions come at any moment, half once the backend has its Pod (teardown work).
      const hasPod = () => waitFor(() => caches.get('Pod')!.get(namespace, name), { what: `the Pod of ${name}`, timeoutMs: 5 * 60_000, intervalMs: 50 });
      if (deleted.has(name)) pending.push((rnd() < 0.5 ? hasPod() : Promise.resolve()).then(() => sleep(rnd() * 2000)).then(() => deleteSlb(custom, namespace, name)));
      await sleep(rnd() * 120);
    }
    await Promise.all(pending);
  })().finally(() => {
    workloadDone = true;
  });

  // The killer: start, let it run a random while, SIGKILL. A third of the kills land anywhere from
  // start-up on (listing, campaigning), the rest while it works its queue.
  let kills = 0;
  operator = await start(0);
  while (!workloadDone || kills < 8) {
    if (rnd() < 0.33) await sleep(rnd() * 2000);
    else {
      await operator.leading();
      await sleep(rnd() * 1500);
    }
    await operator.kill('SIGKILL');
    kills += 1;
    operator = await start(kills);
  }
  await workload;
  process.stderr.write(`[crash] ${kills} kills\n`);
  await operator.ready();

  // Converged: kept backends Ready with their own Pod, deleted ones gone with theirs.
  const kept = names.filter((n) => !deleted.has(n));
  const listOf = <T>(kind: Kind) => caches.get(kind)!.list() as T[];
  await waitFor(
    () => {
      const backends = listOf<Slb>('SessionLivedBackend');
      const notReady = kept.filter((n) => backends.find((b) => b.metadata.name === n)?.status?.phase !== 'Ready');
      const lingering = backends.filter((b) => deleted.has(b.metadata.name!)).map((b) => b.metadata.name);
      const children = listOf<V1Pod>('Pod').length;
      if (notReady.length || lingering.length || children !== kept.length) {
        throw new Error(`${notReady.length} not Ready (${notReady.slice(0, 5).join(' ')}…), ${lingering.length} deleted ones still there, ${children} children`);
      }
      return true;
    },
    { what: 'every backend to reach its phase', timeoutMs: 5 * 60_000, intervalMs: 500, failFast: () => operator?.exited() },
  );

  // No backend ever had a Service (decision B: the route service goes to the Pod's address).
  expect(seen.filter((s) => s.kind === 'Service')).toEqual([]);
  for (const kind of ['Pod'] as const) {
    // No orphans: each child left is controlled by a backend that exists, under its own name.
    for (const child of listOf<V1Pod>(kind)) {
      const name = child.metadata!.name!;
      expect({ kind, name, kept: kept.includes(name) }).toEqual({ kind, name, kept: true });
      expect(child.metadata?.ownerReferences?.find((r) => r.controller)?.uid).toBe(uids.get(name));
    }
    // No duplicates: nothing deleted the children of kept backends, so each had exactly one, ever.
    for (const name of names) {
      const childUids = new Set(seen.filter((s) => s.kind === kind && s.name === name && s.type === 'add').map((s) => s.uid));
      expect({ kind, name, children: childUids.size }).toEqual({ kind, name, children: deleted.has(name) ? Math.min(childUids.size, 1) : 1 });
    }
  }
  // The finalizer held each deleted backend until its children were gone.
  const finalized = [...deleted].filter((n) => seen.some((s) => s.kind === 'Pod' && s.name === n && s.type === 'add'));
  process.stderr.write(`[crash] ${finalized.length} of ${deleted.size} deleted backends had children to tear down\n`);
  const deletedAt = (kind: Kind, name: string) => seen.find((s) => s.kind === kind && s.name === name && s.type === 'delete')?.rv;
  for (const name of deleted) {
    const backendGone = deletedAt('SessionLivedBackend', name);
    expect({ name, backendGone: backendGone !== undefined }).toEqual({ name, backendGone: true });
    for (const kind of ['Pod'] as const) {
      const childGone = deletedAt(kind, name);
      const hadChild = seen.some((s) => s.kind === kind && s.name === name && s.type === 'add');
      if (hadChild) expect({ name, kind, goneBeforeBackend: childGone !== undefined && childGone < backendGone! }).toEqual({ name, kind, goneBeforeBackend: true });
    }
  }
}, 15 * 60_000);
