import { describe, expect, test } from '@jest/globals';
import type { V1Pod, V1Service } from '@kubernetes/client-node';
import { createLogger } from '../../common/log.ts';
import { ChildCache, LatestWrites } from '../../common/kube/children.ts';
import { statusError } from '../../common/kube/errors.ts';
import { finalize, reconcile, type SpawnerDeps } from '../src/spawner/reconcile.ts';
import type { SessionLivedBackend } from '../../common/spawner/types.ts';
import { RecordingApi } from './fake-api.ts';
import { TokenBucket } from '../src/http-api/limits.ts';
import { at, config, oldService, pod, slb } from './fixtures.ts';
import { newBackend } from '../../common/spawner/backend.ts';

const FIN = 'spawner.dev/teardown';

// The world as the informers show it; tests move it forward by hand.
function world(seconds: number) {
  const api = new RecordingApi();
  const cachedPods = new Map<string, V1Pod>();
  const cachedServices = new Map<string, V1Service>();
  let now = at(seconds);
  const deps: SpawnerDeps = {
    api,
    pods: new ChildCache<V1Pod>((ns, n) => cachedPods.get(`${ns}/${n}`)),
    services: new ChildCache<V1Service>((ns, n) => cachedServices.get(`${ns}/${n}`)),
    backends: new LatestWrites<SessionLivedBackend>(),
    config,
    now: () => now,
    log: createLogger('test', 'silent'),
  };
  return {
    api, deps, cachedPods, cachedServices,
    setTime: (s: number) => { now = at(s); },
  };
}

// As the API server returns it: status.phase defaulted to Pending.
const created = () => slb({ status: { phase: 'Pending' } });

describe('reconcile', () => {
  test('a new backend: finalizer, Pod and no Service (decision B); Pending details wait; Ready in one status write (3 writes)', async () => {
    const w = world(0.1);
    const backend = created();
    expect(await reconcile(backend, w.deps)).toEqual({ requeueAfterMs: 4900 });
    expect(w.api.actions).toEqual([`patch finalizers [${FIN}]`, 'create pod game']);

    // The informers catch up; the Pod becomes Ready.
    w.api.actions.length = 0;
    const stored = w.api.backend!;
    w.cachedPods.set('sessions/game', { ...pod(stored, 'ready'), metadata: w.api.pods.get('sessions/game')!.metadata });
    w.setTime(0.5);
    await reconcile(stored, w.deps);
    expect(w.api.actions).toEqual(['patch status Ready', 'event Normal Ready']);
    expect(w.api.backend!.status).toMatchObject({ phase: 'Ready', url: expect.stringMatching(/^http:\/\/spawner\.test\/p\/game\/\?token=[\w-]{44}$/), readyTime: '2026-01-01T00:00:00Z' });

    // Nothing changed: nothing is written.
    w.api.actions.length = 0;
    w.setTime(30);
    expect(await reconcile(w.api.backend!, w.deps)).toEqual({});
    expect(w.api.actions).toEqual([]);
  });

  // As Spawner's CLI and HTTP API write a backend (the one builder), and as the API server returns it.
  const fromSpawnerClients = (): SessionLivedBackend => {
    const written = newBackend({ namespace: 'sessions', name: 'game', createdBy: 'spawner-cli', image: 'example.invalid/app:1', port: 8080, gracePeriodSeconds: 300 });
    return { ...written, metadata: { ...created().metadata, ...written.metadata }, status: { phase: 'Pending' } };
  };

  test.each([
    ['as kubectl writes it (no finalizer): the finalizer first, then the Pod', created, [`patch finalizers [${FIN}]`, 'create pod game']],
    ["as Spawner's clients write it (common/spawner/backend.ts: the finalizer already on): the Pod is the first write", fromSpawnerClients, ['create pod game']],
  ])('a new backend %s; never a Pod beside a backend without the finalizer', async (_how, make, actions) => {
    const w = world(0.1);
    await reconcile(make(), w.deps);
    expect(w.api.actions).toEqual(actions);
    expect(w.api.backend?.metadata.finalizers ?? make().metadata.finalizers).toEqual([FIN]);
  });

  test("a backend written with the finalizer and deleted before the operator ever saw it: no Pod is made, the API server is asked for one, the finalizer goes", async () => {
    const w = world(1);
    const backend = { ...fromSpawnerClients(), metadata: { ...fromSpawnerClients().metadata, deletionTimestamp: at(1) } };
    expect(await finalize(backend, w.deps)).toBe('done');
    expect(w.api.actions).toEqual(['patch status Terminating', 'event Normal Terminating', 'get pod game', 'patch finalizers []']);
  });

  test('in a burst, a backend whose Pod was created late is not given a Pending write for its wait in the queue', async () => {
    const w = world(30);
    const backend = slb({ status: { phase: 'Pending' }, metadata: { finalizers: [FIN] } });
    const young = pod(backend, 'creating');
    young.metadata!.creationTimestamp = at(29).toISOString() as unknown as Date;
    w.cachedPods.set('sessions/game', young);
    expect(await reconcile(backend, w.deps)).toEqual({ requeueAfterMs: 4000 });
    expect(w.api.actions).toEqual([]);
  });

  test('a reconcile that runs before the informers saw its own writes repeats none of them', async () => {
    const w = world(0.1);
    const stale = created();
    await reconcile(stale, w.deps);
    w.api.actions.length = 0;
    await reconcile(stale, w.deps); // same stale cache: no finalizer, no Pod
    expect(w.api.actions).toEqual([]);
  });

  test('Pending details are written once the Pod has been starting for longer than the start-up SLO', async () => {
    const w = world(36);
    const backend = slb({ status: { phase: 'Pending' }, metadata: { finalizers: [FIN] } });
    const slow = pod(backend, 'creating');
    slow.metadata!.creationTimestamp = at(30).toISOString() as unknown as Date;
    w.cachedPods.set('sessions/game', slow);
    expect(await reconcile(backend, w.deps)).toEqual({ requeueAfterMs: 264_000 });
    expect(w.api.actions).toEqual(['patch status Pending']);
    expect(w.api.backend!.status!.conditions!.find((c) => c.type === 'Ready')!.message).toBe('waiting for container app: ContainerCreating');
  });

  test('under load, progress writes beyond the shared rate are put off; a phase change never is', async () => {
    const w = world(36);
    w.deps.progressWrites = new TokenBucket(1, 1, at(36).getTime()); // one token, refilled in a second
    const slowBackend = (name: string) => {
      const backend = slb({ status: { phase: 'Pending' }, metadata: { name, finalizers: [FIN] } });
      const slow = pod(backend, 'creating');
      slow.metadata!.creationTimestamp = at(30).toISOString() as unknown as Date;
      w.cachedPods.set(`sessions/${name}`, slow);
      return backend;
    };
    await reconcile(slowBackend('first'), w.deps);
    expect(w.api.actions).toEqual(['patch status Pending']);
    w.api.actions.length = 0;
    w.api.backend = undefined;
    expect(await reconcile(slowBackend('second'), w.deps)).toEqual({ requeueAfterMs: 2_000 });
    expect(w.api.actions).toEqual([]); // put off
    const third = slb({ status: { phase: 'Pending' }, metadata: { name: 'third', finalizers: [FIN] } });
    w.cachedPods.set('sessions/third', pod(third, 'ready'));
    await reconcile(third, w.deps);
    expect(w.api.actions).toEqual(['patch status Ready', 'event Normal Ready']); // the bucket is still empty
  });

  test('a Pod deleted from under a Pending backend is recreated', async () => {
    const w = world(5);
    const backend = slb({ status: { phase: 'Pending' }, metadata: { finalizers: [FIN] } });
    await reconcile(backend, w.deps);
    expect(w.api.actions).toEqual(['create pod game', 'patch status Pending']);
  });

  test('a Ready backend whose Pod disappeared fails and is not restarted', async () => {
    const w = world(60);
    const backend = slb({ status: { phase: 'Ready', readyTime: '2026-01-01T00:00:02Z', nodeName: 'node-1' }, metadata: { finalizers: [FIN] } });
    await reconcile(backend, w.deps);
    expect(w.api.actions).toEqual(['patch status Failed', 'event Warning PodLost']);
  });

  test('a backend created before decision B keeps its Service until it fails or goes, and none is ever made again', async () => {
    const w = world(60);
    const backend = slb({ status: { phase: 'Ready', readyTime: '2026-01-01T00:00:02Z', nodeName: 'node-1', serviceName: 'game' }, metadata: { finalizers: [FIN] } });
    w.cachedPods.set('sessions/game', pod(backend, 'ready'));
    w.cachedServices.set('sessions/game', oldService(backend));
    await reconcile(backend, w.deps);
    expect(w.api.actions).toEqual(['patch status Ready']); // the url with its token, podPort…: no Service create
    expect(w.api.backend!.status!.serviceName).toBe('game');

    w.api.actions.length = 0;
    w.cachedPods.clear();
    await reconcile(w.api.backend!, w.deps);
    // Failed lets go of what it holds: the Service goes at once (the Pod is gone already).
    expect(w.api.actions).toEqual(['patch status Failed', 'event Warning PodLost', 'delete service game uid=uid-svc']);
  });

  test("an unset sidecar on the sidecar's ports under the sidecar default: no Pod, Failed saying why", async () => {
    const w = world(1);
    const backend = slb({ spec: { httpPort: 9090 }, status: { phase: 'Pending' }, metadata: { finalizers: [FIN] } });
    await reconcile(backend, w.deps);
    expect(w.api.actions).toEqual(['patch status Failed', 'event Warning SidecarPortConflict']);
    expect(w.api.backend!.status!.message).toContain('spec.httpPort 9090');
  });

  test('the same backend under the node default gets its Pod (no sidecar to clash with), annotated Node', async () => {
    const w = world(1);
    w.deps.config = { ...config, activitySource: 'node' };
    const backend = slb({ spec: { httpPort: 9090 }, status: { phase: 'Pending' }, metadata: { finalizers: [FIN] } });
    await reconcile(backend, w.deps);
    expect(w.api.actions).toEqual(['create pod game']);
    expect(w.api.pods.get('sessions/game')?.metadata?.annotations).toEqual({ 'spawner.dev/activity-source': 'Node', 'spawner.dev/routable-when-listening': '9090' });
  });

  test('a same-named Pod the backend does not own is never touched; the backend fails naming the conflict', async () => {
    const w = world(1);
    const backend = slb({ status: { phase: 'Pending' }, metadata: { finalizers: [FIN] } });
    w.api.pods.set('sessions/game', { metadata: { name: 'game', namespace: 'sessions', uid: 'someone-else' } });
    await reconcile(backend, w.deps);
    expect(w.api.actions).toEqual(['create pod game', 'get pod game', 'patch status Failed', 'event Warning NameConflict']);
    expect(w.api.backend!.status!.message).toContain('a Pod named sessions/game already exists and is not controlled by this backend');
    expect(w.api.actions.some((a) => a.startsWith('delete pod'))).toBe(false);
  });

  test('a Pod of ours that the create raced with is taken as ours, not as a conflict', async () => {
    const w = world(0.1);
    const backend = created();
    const ours = pod(backend, 'creating');
    w.api.pods.set('sessions/game', ours);
    await reconcile(backend, w.deps);
    expect(w.api.actions).toEqual([`patch finalizers [${FIN}]`, 'create pod game', 'get pod game']);
  });

  test.each([
    ['on no node', undefined],
    ['on a node (the sweeper leaves Failed backends to the operator)', 'node-1'],
  ])('a Failed backend %s is deleted a grace period after it failed', async (_where, nodeName) => {
    const failed = { reason: 'StartupTimeout', message: 'x', observedGeneration: 1 };
    const backend = slb({
      spec: { gracePeriodSeconds: 300 },
      metadata: { finalizers: [FIN] },
      status: {
        phase: 'Failed', ...failed, ...(nodeName ? { nodeName } : {}),
        conditions: [
          // Ready=False since creation: not when it failed.
          { type: 'Ready', status: 'False', ...failed, lastTransitionTime: '2026-01-01T00:00:00Z' },
          { type: 'Failed', status: 'True', ...failed, lastTransitionTime: '2026-01-01T00:05:00Z' },
        ],
      },
    });
    const early = world(400);
    expect(await reconcile(backend, early.deps)).toEqual({ requeueAfterMs: 200_000 });
    expect(early.api.actions).toEqual([]); // no new children, no status change
    const late = world(601);
    await reconcile(backend, late.deps);
    expect(late.api.actions).toEqual(['event Normal FailedExpired', 'delete backend game']);
  });

  test('a backend that failed before the Failed condition existed gets it now and counts from now (late, never early)', async () => {
    const backend = slb({
      spec: { gracePeriodSeconds: 300 },
      metadata: { finalizers: [FIN] },
      status: {
        phase: 'Failed', reason: 'StartupTimeout', message: 'x', observedGeneration: 1,
        conditions: [{ type: 'Ready', status: 'False', reason: 'StartupTimeout', message: 'x', observedGeneration: 1, lastTransitionTime: '2026-01-01T00:05:00Z' }],
      },
    });
    const w = world(400);
    expect(await reconcile(backend, w.deps)).toEqual({ requeueAfterMs: 300_000 });
    expect(w.api.actions).toEqual(['patch status Failed']);
    expect(w.api.backend!.status!.conditions!.find((c) => c.type === 'Failed')).toMatchObject({ status: 'True', reason: 'StartupTimeout', lastTransitionTime: '2026-01-01T00:06:40Z' });
  });
});

describe('finalize', () => {
  const deleting = () => slb({ status: { phase: 'Ready', readyTime: '2026-01-01T00:00:02Z' }, metadata: { finalizers: [FIN], deletionTimestamp: at(10) } });

  test.each([
    ['its Pod', false, []],
    ['its Pod and the Service of a backend created before decision B', true, ['delete service game uid=svc-uid']],
  ])('Terminating, then %s deleted by uid, then the finalizer goes once they are gone', async (_what, old, serviceDelete) => {
    const w = world(10);
    const backend = deleting();
    w.cachedPods.set('sessions/game', pod(backend, 'ready', 'pod-uid'));
    if (old) w.cachedServices.set('sessions/game', oldService(backend, 'svc-uid'));
    expect(await finalize(backend, w.deps)).toEqual({ requeueAfterMs: 5_000 });
    expect(w.api.actions).toEqual(['patch status Terminating', 'event Normal Terminating', 'delete pod game uid=pod-uid', ...serviceDelete]);

    w.api.actions.length = 0;
    expect(await finalize(w.api.backend!, w.deps)).toEqual({ requeueAfterMs: 5_000 });
    expect(w.api.actions).toEqual([]); // deletes already requested; waiting for them to be gone

    w.cachedPods.clear();
    w.cachedServices.clear();
    expect(await finalize(w.api.backend!, w.deps)).toBe('done');
    expect(w.api.actions).toEqual(['get pod game', 'patch finalizers []']); // the API server asked, not only the cache
  });

  test('a Pod the API server has but the cache has not shown yet (a lost create answer, a killed predecessor) is deleted before the finalizer goes', async () => {
    const w = world(10);
    const backend = deleting();
    w.api.pods.set('sessions/game', pod(backend, 'ready', 'late-uid'));
    expect(await finalize(backend, w.deps)).toEqual({ requeueAfterMs: 5_000 });
    expect(w.api.actions).toEqual(['patch status Terminating', 'event Normal Terminating', 'get pod game', 'delete pod game uid=late-uid']);
    w.api.actions.length = 0;
    expect(await finalize(w.api.backend!, w.deps)).toEqual({ requeueAfterMs: 5_000 }); // still there: the finalizer stays
    expect(w.api.actions).toEqual(['get pod game']);
    w.api.pods.clear();
    w.api.actions.length = 0;
    expect(await finalize(w.api.backend!, w.deps)).toBe('done');
    expect(w.api.actions).toEqual(['get pod game', 'patch finalizers []']);
  });

  test('children of someone else are left alone', async () => {
    const w = world(10);
    const backend = deleting();
    w.cachedPods.set('sessions/game', { metadata: { name: 'game', namespace: 'sessions', uid: 'other' } });
    expect(await finalize(backend, w.deps)).toBe('done');
    expect(w.api.actions).toEqual(['patch status Terminating', 'event Normal Terminating', 'get pod game', 'patch finalizers []']);
  });

  test('without our finalizer there is nothing to do', async () => {
    const w = world(10);
    const backend = slb({ metadata: { deletionTimestamp: at(10), finalizers: ['other'] } });
    expect(await finalize(backend, w.deps)).toBe('done');
    expect(w.api.actions).toEqual([]);
  });

  test('other finalizers are kept', async () => {
    const w = world(10);
    const backend = slb({ status: { phase: 'Terminating' }, metadata: { deletionTimestamp: at(10), finalizers: ['a', FIN, 'b'] } });
    expect(await finalize(backend, w.deps)).toBe('done');
    expect(w.api.actions).toEqual(['get pod game', 'patch finalizers [a,b]']);
  });
});

describe('a backend that is gone from under the operator', () => {
  class GoneApi extends RecordingApi {
    override async patchFinalizers(): Promise<never> {
      this.actions.push('patch finalizers (404)');
      throw statusError(404, 'NotFound', 'sessionlivedbackends.spawner.dev "game" not found');
    }
  }
  test.each([
    ['reconcile', created(), {}, ['patch finalizers (404)']],
    ['finalize', slb({ status: { phase: 'Terminating' }, metadata: { finalizers: [FIN], deletionTimestamp: at(1) } }), 'done', ['get pod game', 'patch finalizers (404)']],
  ] as const)('%s ends quietly on its 404 instead of failing and retrying', async (step, backend, expected, actions) => {
    const w = world(1);
    const api = new GoneApi();
    const deps = { ...w.deps, api };
    const result = step === 'reconcile' ? await reconcile(backend, deps) : await finalize(backend, deps);
    expect(result).toEqual(expected);
    expect(api.actions).toEqual(actions);
  });
});

describe('a child the API server refuses to create', () => {
  const quota = () => statusError(403, 'Forbidden', 'pods "game" is forbidden: exceeded quota: q, requested: pods=1, used: pods=0, limited: pods=0');
  const invalid = () => statusError(422, 'Invalid', 'Pod "game" is invalid: spec.containers[0].volumeMounts[0].name: Not found: "data"');
  const startup = (seconds: number) => slb({ status: { phase: 'Pending' }, metadata: { finalizers: [FIN] }, spec: { startupTimeoutSeconds: seconds } });

  test('a quota refusal is recorded at once (condition and Warning Event), retried with growing delays, and Failed at the deadline with its message', async () => {
    const w = world(0.2); // a young backend: the refusal is written anyway
    w.api.refuse.set('pod', quota());
    const backend = startup(20);
    expect(await reconcile(backend, w.deps)).toEqual({ requeueAfterMs: 1000 });
    expect(w.api.actions).toEqual(['create pod game', 'patch status Pending', 'event Warning FailedCreate']);
    const refused = w.api.backend!.status!.conditions!.find((c) => c.type === 'ChildrenCreated')!;
    expect(refused).toMatchObject({ status: 'False', reason: 'Forbidden', lastTransitionTime: '2026-01-01T00:00:00Z' });
    expect(refused.message).toContain('exceeded quota: q');
    expect(w.api.backend!.status!.conditions!.find((c) => c.type === 'Ready')!.message).toMatch(/exceeded quota.*retrying until startupTimeoutSeconds \(20 s\)/);
    expect(w.api.events.find((e) => e.reason === 'FailedCreate')!.message).toContain('the API server refused to create Pod sessions/game (403 Forbidden)');

    // The same refusal again: no new write, no new Event; the delay grows with how long it has stood.
    const stored = w.api.backend!;
    w.api.actions.length = 0;
    w.setTime(8);
    expect(await reconcile(stored, w.deps)).toEqual({ requeueAfterMs: 8000 });
    expect(w.api.actions).toEqual(['create pod game']);

    // The deadline fires whatever the children's state, and Failed carries the last refusal.
    w.api.actions.length = 0;
    w.setTime(20);
    expect(await reconcile(stored, w.deps)).toEqual({ requeueAfterMs: 300_000 }); // the Failed expiry
    expect(w.api.actions).toEqual(['create pod game', 'patch status Failed', 'event Warning StartupTimeout']);
    expect(w.api.backend!.status).toMatchObject({ phase: 'Failed', reason: 'StartupTimeout' });
    expect(w.api.backend!.status!.message).toMatch(/^not Ready within startupTimeoutSeconds \(20 s\); last state: the API server refused to create Pod sessions\/game \(403 Forbidden\): pods "game" is forbidden: exceeded quota/);
  });

  test('the quota clears before the deadline: the Pod is created and the condition turns True', async () => {
    const w = world(1);
    w.api.refuse.set('pod', quota());
    await reconcile(startup(60), w.deps);
    w.api.refuse.delete('pod');
    w.setTime(3);
    await reconcile(w.api.backend!, w.deps);
    expect(w.api.pods.has('sessions/game')).toBe(true);
    expect(w.api.backend!.status!.conditions!.find((c) => c.type === 'ChildrenCreated')).toMatchObject({ status: 'True', reason: 'Created' });
  });

  test('an invalid child fails the backend at once with the API server\'s reason, and nothing is left running', async () => {
    const w = world(0.2);
    w.api.refuse.set('pod', invalid());
    const result = await reconcile(startup(300), w.deps);
    expect(w.api.backend!.status).toMatchObject({ phase: 'Failed', reason: 'Invalid' });
    expect(w.api.backend!.status!.message).toMatch(/volumeMounts\[0\]\.name: Not found.*retrying cannot fix this/);
    expect(w.api.actions).toEqual(['create pod game', 'patch status Failed', 'event Warning FailedCreate', 'event Warning Invalid']);
    expect(result).toEqual({ requeueAfterMs: 299_800 }); // its expiry, counted from the failure (whole seconds)
  });

  test.each([
    ['deletes the Pod of a backend that failed', false, false, ['patch status Failed', 'event Warning ImagePullBackOff', 'delete pod game uid=uid-pod']],
    ['with --keep-failed-pods keeps it for its logs', true, false, ['patch status Failed', 'event Warning ImagePullBackOff']],
    ['deletes the Pod and Service of a backend created before decision B', false, true, ['patch status Failed', 'event Warning ImagePullBackOff', 'delete pod game uid=uid-pod', 'delete service game uid=uid-svc']],
    ['with --keep-failed-pods an old backend\'s Service still goes', true, true, ['patch status Failed', 'event Warning ImagePullBackOff', 'delete service game uid=uid-svc']],
  ])('%s', async (_what, keepFailedPods, old, actions) => {
    const w = world(5);
    w.deps.config = { ...config, keepFailedPods };
    const backend = slb({ status: { phase: 'Pending' }, metadata: { finalizers: [FIN] } });
    w.cachedPods.set('sessions/game', pod(backend, 'imagePull'));
    if (old) w.cachedServices.set('sessions/game', oldService(backend));
    await reconcile(backend, w.deps);
    expect(w.api.actions).toEqual(actions);
    // Once the delete is requested, a later reconcile does not repeat it.
    w.api.actions.length = 0;
    await reconcile(w.api.backend!, w.deps);
    expect(w.api.actions).toEqual([]);
  });

  test('a transient error (500) still lets the status and the deadline be written, then goes through the queue\'s backoff', async () => {
    const w = world(30);
    w.api.refuse.set('pod', statusError(500, 'InternalError', 'etcdserver: request timed out'));
    await expect(reconcile(startup(20), w.deps)).rejects.toThrow('etcdserver: request timed out');
    expect(w.api.backend!.status).toMatchObject({ phase: 'Failed', reason: 'StartupTimeout' });
    expect(w.api.backend!.status!.conditions!.some((c) => c.type === 'ChildrenCreated')).toBe(false);
  });
});
