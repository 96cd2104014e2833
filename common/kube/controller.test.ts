import { afterEach, beforeEach, describe, expect, jest, test } from '@jest/globals';
import type { KubernetesObject, V1Pod } from '@kubernetes/client-node';
import {
  ControllerManager,
  defineController,
  finalizersMergePatch,
  hasFinalizer,
  resourcePath,
  withFinalizer,
  withoutFinalizer,
  type ControllerDefinition,
  reconcileOutcome,
  type ReconcileContext,
} from './controller.ts';
import { RetryAfter, type Result } from './workqueue.ts';
import { startHealthServer, type HealthServer } from './health.ts';
import { createRuntimeMetrics } from './metrics.ts';
import { FakeApiServer } from './testing/fake-apiserver.ts';
import { eventually } from './testing/eventually.ts';
import { memoryLogger } from './testing/memlog.ts';

jest.setTimeout(90_000);

const SLBS = { prefix: '/apis/spawner.dev/v1', plural: 'sessionlivedbackends' };
const PODS = { prefix: '/api/v1', plural: 'pods' };
const LEASES = { prefix: '/apis/coordination.k8s.io/v1', plural: 'leases' };
const POOLS = { prefix: '/apis/spawner.dev/v1', plural: 'warmpools' };
const FIN = 'spawner.dev/teardown';
const FOR = { apiVersion: 'spawner.dev/v1', kind: 'SessionLivedBackend', plural: 'sessionlivedbackends' };

function slb(name: string, finalizers: string[] = [FIN]): KubernetesObject {
  return { apiVersion: FOR.apiVersion, kind: FOR.kind, metadata: { name, namespace: 'ns', finalizers } };
}

function podOwnedBy(name: string, owner: KubernetesObject | undefined): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'ns',
      ownerReferences: owner
        ? [{ apiVersion: FOR.apiVersion, kind: FOR.kind, name: owner.metadata!.name!, uid: owner.metadata!.uid!, controller: true }]
        : undefined,
    },
  };
}

describe('finalizer helpers', () => {
  test.each<[string[] | undefined, string[], string[], boolean]>([
    [undefined, [FIN], [], false],
    [[], [FIN], [], false],
    [['other'], ['other', FIN], ['other'], false],
    [[FIN], [FIN], [], true],
    [['a', FIN, 'b'], ['a', FIN, 'b'], ['a', 'b'], true],
  ])('finalizers %j', (have, added, removed, has) => {
    const obj = { metadata: { name: 'x', finalizers: have, resourceVersion: '7' } };
    expect(withFinalizer(obj, FIN)).toEqual(added);
    expect(withoutFinalizer(obj, FIN)).toEqual(removed);
    expect(hasFinalizer(obj, FIN)).toBe(has);
    expect(obj.metadata.finalizers).toEqual(have);
  });

  test('merge patch carries the resourceVersion precondition', () => {
    expect(finalizersMergePatch({ metadata: { resourceVersion: '42' } }, [FIN])).toEqual({
      metadata: { finalizers: [FIN], resourceVersion: '42' },
    });
  });

  test.each([
    [{ ...FOR }, '/apis/spawner.dev/v1/sessionlivedbackends'],
    [{ ...FOR, namespace: 'team-a' }, '/apis/spawner.dev/v1/namespaces/team-a/sessionlivedbackends'],
    [{ apiVersion: 'v1', kind: 'Pod', plural: 'pods' }, '/api/v1/pods'],
    [{ ...FOR, path: '/custom' }, '/custom'],
  ])('resourcePath %j', (ref, want) => {
    expect(resourcePath(ref)).toBe(want);
  });

  test.each<[string, Partial<ControllerDefinition>, RegExp]>([
    ['finalizer without finalize', { finalizer: FIN }, /go together/],
    ['finalize without finalizer', { finalize: async () => 'done' }, /go together/],
    ['owned kind without path', { owns: [{ apiVersion: 'v1', kind: 'Pod', path: '' }] }, /Pod needs/],
    ['zero concurrency', { concurrency: 0 }, /concurrency/],
  ])('defineController rejects %s', (_what, extra, err) => {
    expect(() => defineController({ for: FOR, reconcile: async () => undefined, ...extra })).toThrow(err);
  });
});

describe('ControllerManager', () => {
  let fake: FakeApiServer;
  let managers: ControllerManager[];
  let servers: HealthServer[];

  beforeEach(async () => {
    fake = new FakeApiServer([SLBS, PODS, LEASES, POOLS]);
    await fake.start();
    managers = [];
    servers = [];
  });

  afterEach(async () => {
    for (const m of managers) await m.stop();
    for (const s of servers) await s.close();
    await fake.close();
  });

  function recorder(identity = 'solo') {
    const calls: string[] = [];
    const ownedSeen = new Map<string, string[]>();
    let flaky = 2;
    const def = defineController({
      for: FOR,
      owns: [{ apiVersion: 'v1', kind: 'Pod', path: '/api/v1/pods' }],
      finalizer: FIN,
      reconcile: async (obj: KubernetesObject, ctx: ReconcileContext) => {
        calls.push(`${identity} reconcile ${obj.metadata?.name}`);
        ownedSeen.set(ctx.name, ctx.owned<V1Pod>('Pod').map((p) => p.metadata!.name!));
        if (obj.metadata?.name === 'flaky' && flaky-- > 0) throw new Error('transient');
      },
      finalize: async (obj: KubernetesObject) => {
        calls.push(`${identity} finalize ${obj.metadata?.name}`);
        return 'done';
      },
    });
    return { def, calls, ownedSeen };
  }

  test('dispatches primary and owned events to reconcile or finalize, and retries failures', async () => {
    const { def, calls, ownedSeen } = recorder();
    const metrics = createRuntimeMetrics({ defaultMetrics: false });
    const { log } = memoryLogger();
    const m = new ControllerManager({
      kubeConfig: fake.kubeConfig(),
      log,
      controllers: [def],
      leaderElection: false,
      metrics,
      queue: { baseDelayMs: 5, maxDelayMs: 50 },
    });
    managers.push(m);
    const web = fake.create(SLBS, slb('web'));
    await m.start();
    const count = (s: string) => calls.filter((c) => c === s).length;
    await eventually(() => count('solo reconcile web') === 1, 'initial reconcile');

    // An owned Pod brings its owner back; ctx.owned sees it. An unowned Pod does not.
    fake.create(PODS, podOwnedBy('web-pod', web));
    await eventually(() => count('solo reconcile web') === 2, 'reconcile after owned pod');
    expect(ownedSeen.get('web')).toEqual(['web-pod']);
    fake.create(PODS, podOwnedBy('stray', undefined));

    // Failures are retried with backoff until they succeed.
    fake.create(SLBS, slb('flaky'));
    await eventually(() => count('solo reconcile flaky') === 3, 'two failures and a success');

    // Deletion with our finalizer: finalize, not reconcile. Without it: neither.
    const cur = fake.getObject(SLBS, 'ns', 'web')!;
    fake.update(SLBS, { ...cur, metadata: { ...cur.metadata, deletionTimestamp: new Date() } });
    await eventually(() => count('solo finalize web') === 1, 'finalize');
    const foreign = slb('foreign', ['someone-else/x']);
    fake.create(SLBS, { ...foreign, metadata: { ...foreign.metadata, deletionTimestamp: new Date() } });

    // A removed object is dropped without calling a handler.
    const q = m.queue('sessionlivedbackend')!;
    const addsBefore = q.adds;
    fake.remove(SLBS, 'ns', 'web');
    await eventually(() => q.adds > addsBefore && q.len() === 0 && q.inFlight() === 0, 'deletion processed');
    expect(calls.filter((c) => c.includes('web'))).toEqual(['solo reconcile web', 'solo reconcile web', 'solo finalize web']);
    expect(calls.filter((c) => c.includes('foreign') || c.includes('stray'))).toEqual([]);

    const text = await metrics.registry.metrics();
    expect(text).toMatch(/controller_runtime_reconcile_errors_total\{controller="sessionlivedbackend"\} 2/);
    expect(text).toMatch(/controller_runtime_reconcile_total\{controller="sessionlivedbackend",result="error"\} 2/);
    expect(text).toMatch(/workqueue_depth\{name="sessionlivedbackend"\} 0/);
    expect(text).toMatch(/informer_synced\{informer="\/api\/v1\/pods"\} 1/);
  });

  test('a watched kind is cached for ctx.cached, and its events bring back the primaries `map` names', async () => {
    const { log } = memoryLogger();
    const reads: Array<string | undefined> = [];
    const def = defineController({
      name: 'watching',
      for: FOR,
      watches: [{
        apiVersion: 'spawner.dev/v1', kind: 'WarmPool', path: '/apis/spawner.dev/v1/warmpools',
        // Backends whose spec names the pool.
        map: (pool, primaries) => primaries().filter((b) => (b as { spec?: { pool?: string } }).spec?.pool === pool.metadata?.name).map((b) => `ns/${b.metadata!.name}`),
      }],
      reconcile: async (obj: KubernetesObject, ctx: ReconcileContext) => {
        reads.push(`${obj.metadata?.name}: ${ctx.cached<KubernetesObject>('WarmPool', 'ns', 'games')?.metadata?.name ?? 'none'}`);
      },
    });
    const m = new ControllerManager({ kubeConfig: fake.kubeConfig(), log, controllers: [def], leaderElection: false });
    managers.push(m);
    fake.create(SLBS, { ...slb('claim'), spec: { pool: 'games' } } as KubernetesObject);
    fake.create(SLBS, { ...slb('other'), spec: { pool: 'chess' } } as KubernetesObject);
    await m.start();
    await eventually(() => reads.length === 2, 'initial reconciles');
    fake.create(POOLS, { apiVersion: 'spawner.dev/v1', kind: 'WarmPool', metadata: { name: 'games', namespace: 'ns' } });
    await eventually(() => reads.includes('claim: games'), 'the pool brings back the backend that names it');
    expect(reads.filter((r) => r?.startsWith('other'))).toEqual(['other: none']);
    expect(m.informers().map((i) => i.name)).toContain('/apis/spawner.dev/v1/warmpools');
  });

  test('controllers reading the same kind share one informer; selectors name informers apart', () => {
    const { log } = memoryLogger();
    const pools = defineController({ name: 'pools', for: { apiVersion: 'spawner.dev/v1', kind: 'WarmPool', plural: 'warmpools' }, owns: [{ apiVersion: 'v1', kind: 'Pod', path: '/api/v1/pods', labelSelector: 'pool' }], reconcile: async () => undefined });
    const backends = defineController({
      name: 'backends', for: FOR,
      owns: [{ apiVersion: 'v1', kind: 'Pod', path: '/api/v1/pods', labelSelector: 'managed' }],
      watches: [{ apiVersion: 'spawner.dev/v1', kind: 'WarmPool', path: '/apis/spawner.dev/v1/warmpools' }],
      reconcile: async () => undefined,
    });
    const m = new ControllerManager({ kubeConfig: fake.kubeConfig(), log, controllers: [pools, backends], leaderElection: false });
    expect(m.informers().map((i) => i.name).sort()).toEqual([
      '/api/v1/pods?labelSelector=managed', '/api/v1/pods?labelSelector=pool', '/apis/spawner.dev/v1/sessionlivedbackends', '/apis/spawner.dev/v1/warmpools',
    ]);
    expect(m.ownedKindInformer('backends', 'Pod')?.name).toBe('/api/v1/pods?labelSelector=managed');
  });

  test('ctx.labelled finds owned-kind objects by an indexed label, whoever owns them', async () => {
    const { log } = memoryLogger();
    const found: string[][] = [];
    const def = defineController({
      name: 'labels',
      for: FOR,
      owns: [{ apiVersion: 'v1', kind: 'Pod', path: '/api/v1/pods', indexLabels: ['pool'] }],
      reconcile: async (_obj: KubernetesObject, ctx: ReconcileContext) => {
        found.push(ctx.labelled<V1Pod>('Pod', 'pool', 'ns', 'games').map((p) => p.metadata!.name!).sort());
      },
    });
    const m = new ControllerManager({ kubeConfig: fake.kubeConfig(), log, controllers: [def], leaderElection: false });
    managers.push(m);
    fake.create(PODS, { ...podOwnedBy('m1', undefined), metadata: { name: 'm1', namespace: 'ns', labels: { pool: 'games' } } });
    fake.create(PODS, { ...podOwnedBy('m2', undefined), metadata: { name: 'm2', namespace: 'other', labels: { pool: 'games' } } });
    fake.create(PODS, { ...podOwnedBy('m3', undefined), metadata: { name: 'm3', namespace: 'ns', labels: { pool: 'chess' } } });
    fake.create(SLBS, slb('web'));
    await m.start();
    await eventually(() => found.length > 0, 'a reconcile');
    expect(found[0]).toEqual(['m1']);
  });

  test('a kind cannot be both owned and watched', () => {
    expect(() => defineController({
      for: FOR,
      owns: [{ apiVersion: 'v1', kind: 'Pod', path: '/api/v1/pods' }],
      watches: [{ apiVersion: 'v1', kind: 'Pod', path: '/api/v1/pods' }],
      reconcile: async () => undefined,
    })).toThrow(/Pod is both owned and watched/);
  });

  test('reconcile results are counted with controller-runtime\'s labels; children and the primary informer are handed out by kind and name', async () => {
    const metrics = createRuntimeMetrics({ defaultMetrics: false });
    const { log } = memoryLogger();
    let again = 1;
    const seen: Array<string | undefined> = [];
    const def = defineController({
      name: 'results',
      for: FOR,
      owns: [{ apiVersion: 'v1', kind: 'Pod', path: '/api/v1/pods' }],
      reconcile: async (obj: KubernetesObject, ctx: ReconcileContext) => {
        seen.push(ctx.children<V1Pod>('Pod').get('ns', 'web-pod')?.metadata?.name);
        switch (obj.metadata?.name) {
          case 'later': return { requeueAfterMs: 60_000 }; // a success that asks to come back: requeue_after
          case 'now': return again-- > 0 ? { requeueAfterMs: 0 } : undefined; // at once: requeue, then success
          case 'wait': throw new RetryAfter(60_000);
          default: return undefined;
        }
      },
    });
    const m = new ControllerManager({ kubeConfig: fake.kubeConfig(), log, controllers: [def], leaderElection: false, metrics });
    managers.push(m);
    const web = fake.create(SLBS, slb('web'));
    fake.create(PODS, podOwnedBy('web-pod', web));
    for (const name of ['later', 'now', 'wait']) fake.create(SLBS, slb(name));
    await m.start();
    // web, later, wait once; now twice (its immediate requeue).
    await eventually(() => seen.length >= 5 && m.queue('results')!.inFlight() === 0, 'every object reconciled');
    const text = await metrics.registry.metrics();
    const total = (result: string) => Number(new RegExp(`controller_runtime_reconcile_total\\{controller="results",result="${result}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
    expect([total('success'), total('requeue'), total('requeue_after'), total('error')]).toEqual([2, 1, 2, 0]);
    expect(seen).toContain('web-pod');
    expect(m.primaryInformer('results')?.list().map((o) => o.metadata?.name).sort()).toEqual(['later', 'now', 'wait', 'web']);
    expect(m.primaryInformer('nope')).toBeUndefined();
  });

  test.each<[string, Result | void, unknown, string]>([
    ['nothing asked', undefined, undefined, 'success'],
    ['empty result', {}, undefined, 'success'],
    ['come back later', { requeueAfterMs: 5000 }, undefined, 'requeue_after'],
    ['come back at once', { requeueAfterMs: 0 }, undefined, 'requeue'],
    ['failed', undefined, new Error('boom'), 'error'],
    ['RetryAfter with a delay', undefined, new RetryAfter(100), 'requeue_after'],
    ['RetryAfter at once', undefined, new RetryAfter(0), 'requeue'],
  ])('reconcileOutcome: %s → %s', (_what, result, err, want) => {
    expect(reconcileOutcome(result, err)).toBe(want);
  });

  test('only the leader reconciles; after it stops, the standby takes over and looks at everything', async () => {
    fake.create(SLBS, slb('one'));
    fake.create(SLBS, slb('two'));
    const mk = (identity: string) => {
      const r = recorder(identity);
      const { log } = memoryLogger();
      const m = new ControllerManager({
        kubeConfig: fake.kubeConfig(),
        log,
        controllers: [r.def],
        leaderElection: { namespace: 'sys', name: 'op', identity, leaseDurationMs: 1000, renewDeadlineMs: 600, retryPeriodMs: 100 },
      });
      managers.push(m);
      return { m, calls: r.calls };
    };
    const a = mk('a');
    await a.m.start();
    await eventually(() => a.m.isLeader(), 'a leads');
    const b = mk('b');
    await b.m.start();
    await eventually(() => a.calls.length === 2, 'a reconciles both');
    fake.create(SLBS, slb('three'));
    await eventually(() => a.calls.length === 3, 'a reconciles the new one');
    expect(b.calls).toEqual([]);
    expect(b.m.isLeader()).toBe(false);

    await a.m.stop();
    await eventually(() => b.calls.length === 3, 'b reconciles everything after taking over');
    expect(b.calls.sort()).toEqual(['b reconcile one', 'b reconcile three', 'b reconcile two']);
  });

  test('losing the Lease stops handing out work at once and aborts the in-flight reconcile', async () => {
    fake.create(SLBS, slb('slow'));
    let inFlightSignal: AbortSignal | undefined;
    const calls: string[] = [];
    const def = defineController({
      for: FOR,
      reconcile: async (obj: KubernetesObject, ctx: ReconcileContext) => {
        calls.push(obj.metadata!.name!);
        if (obj.metadata?.name === 'slow') {
          inFlightSignal = ctx.signal;
          await new Promise((r) => ctx.signal.addEventListener('abort', r));
        }
      },
    });
    const { log } = memoryLogger();
    const m = new ControllerManager({
      kubeConfig: fake.kubeConfig(),
      log,
      controllers: [def],
      leaderElection: { namespace: 'sys', name: 'op', identity: 'a', leaseDurationMs: 30_000, renewDeadlineMs: 20_000, retryPeriodMs: 100 },
    });
    managers.push(m);
    await m.start();
    await eventually(() => inFlightSignal !== undefined, 'slow reconcile running');
    const lease = fake.getObject(LEASES, 'sys', 'op')!;
    fake.update(LEASES, { ...lease, spec: { ...(lease.spec as object), holderIdentity: 'intruder' } } as never);
    await eventually(() => inFlightSignal!.aborted, 'signal aborted on loss');
    expect(m.isLeader()).toBe(false);
    fake.create(SLBS, slb('after-loss'));
    const q = m.queue('sessionlivedbackend')!;
    await eventually(() => q.len() === 1, 'new key waits in the queue');
    expect(calls).toEqual(['slow']);
  });

  test('stop releases the Lease after shutdownGraceMs even while a reconcile that ignores its signal hangs', async () => {
    fake.create(SLBS, slb('stuck'));
    let stuckRunning = false;
    const hang = new Promise<void>(() => undefined); // never settles, whatever the signal says
    const mk = (identity: string) => {
      const { log, lines } = memoryLogger();
      const m = new ControllerManager({
        kubeConfig: fake.kubeConfig(),
        log,
        controllers: [defineController({
          for: FOR,
          reconcile: async () => {
            if (identity === 'a') {
              stuckRunning = true;
              await hang;
            }
          },
        })],
        // A 30 s poll and a 120 s Lease: b can only take over in time through the release (and its watch).
        leaderElection: { namespace: 'sys', name: 'op', identity, leaseDurationMs: 120_000, renewDeadlineMs: 60_000, retryPeriodMs: 30_000 },
        shutdownGraceMs: 200,
      });
      managers.push(m);
      return { m, lines };
    };
    const a = mk('a');
    await a.m.start();
    await eventually(() => stuckRunning, 'a reconcile hangs');
    const b = mk('b');
    await b.m.start();
    await a.m.stop();
    expect(a.lines.some((l) => l.msg === 'reconciles still in flight at shutdown; releasing the lease anyway')).toBe(true);
    await eventually(() => b.m.isLeader(), 'b leads after the release');
  });

  test('serves /readyz (503 until synced), /healthz and /metrics', async () => {
    let failLists = true;
    fake.faults.push((r) => (failLists && r.method === 'GET' ? { status: 500 } : undefined));
    const metrics = createRuntimeMetrics();
    const { log } = memoryLogger();
    const m = new ControllerManager({
      kubeConfig: fake.kubeConfig(),
      log,
      controllers: [recorder().def],
      leaderElection: false,
      metrics,
      informer: { backoffInitialMs: 10, backoffMaxMs: 50 },
    });
    managers.push(m);
    const srv = await startHealthServer({ port: 0, host: '127.0.0.1', registry: metrics.registry, ...m.healthChecks(), log });
    servers.push(srv);
    const get = async (p: string) => {
      const res = await fetch(`http://127.0.0.1:${srv.port}${p}`);
      return { status: res.status, text: await res.text() };
    };
    const started = m.start();
    expect((await get('/readyz')).status).toBe(503);
    expect(JSON.parse((await get('/readyz')).text).checks[0].detail).toMatch(/not synced/);
    expect((await get('/healthz')).status).toBe(200);
    failLists = false;
    await started;
    expect((await get('/readyz')).status).toBe(200);
    const metricsText = (await get('/metrics')).text;
    expect(metricsText).toContain('workqueue_depth{name="sessionlivedbackend"}');
    expect(metricsText).toContain('process_cpu_user_seconds_total');
    expect((await get('/nope')).status).toBe(404);
  });
});
