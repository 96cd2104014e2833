import { describe, expect, test } from '@jest/globals';
import { mintAccessToken } from '../../common/spawner/access.ts';
import { computeStatus, decidePhase, sameStatus, startupDeadlineInMs, statusWriteDecision } from '../src/spawner/status.ts';
import { at, config, pod, slb, T0, testAccessKey, type PodState } from './fixtures.ts';

// The invitation the fixtures' backend `game` (namespace sessions, uid uid-slb) gets.
const gameToken = mintAccessToken(testAccessKey, { namespace: 'sessions', name: 'game', uid: 'uid-slb' });

const fresh = slb();
const readyBefore = slb({ status: { phase: 'Ready', readyTime: '2026-01-01T00:00:05Z' } });

describe('decidePhase', () => {
  test.each<[string, ReturnType<typeof slb>, PodState | undefined, number, string, string]>([
    ['no Pod yet', fresh, undefined, 1, 'Pending', 'Starting'],
    ['unscheduled', fresh, 'unscheduled', 1, 'Pending', 'Starting'],
    ['containers creating', fresh, 'creating', 1, 'Pending', 'Starting'],
    ['running but not listening', fresh, 'running', 1, 'Pending', 'Starting'],
    ['ready: routable by its address, no Service waited for (decision B)', fresh, 'ready', 1, 'Ready', 'PodReady'],
    ['image cannot be pulled', fresh, 'imagePull', 1, 'Failed', 'ImagePullBackOff'],
    ['the app exited', fresh, 'crashed', 1, 'Failed', 'AppExited'],
    ['evicted', fresh, 'evicted', 1, 'Failed', 'Evicted'],
    ['the pod completed', fresh, 'succeeded', 1, 'Failed', 'AppExited'],
    ['startup timeout passed', fresh, 'creating', 300, 'Failed', 'StartupTimeout'],
    ['startup timeout with no Pod at all', fresh, undefined, 301, 'Failed', 'StartupTimeout'],
    ['Ready, then the Pod vanished', readyBefore, undefined, 60, 'Failed', 'PodLost'],
    ['Ready, then the Pod is being deleted', readyBefore, 'deleting', 60, 'Failed', 'PodLost'],
    ['Ready, app briefly not ready', readyBefore, 'running', 600, 'Ready', 'PodNotReady'],
    ['Failed stays Failed', slb({ status: { phase: 'Failed', reason: 'ErrImagePull', message: 'nope' } }), 'ready', 1, 'Failed', 'ErrImagePull'],
    ['being deleted', slb({ metadata: { deletionTimestamp: at(5) } }), 'ready', 10, 'Terminating', 'Deleted'],
  ])('%s', (_what, backend, podState, seconds, phase, reason) => {
    const observed = { pod: podState ? pod(backend, podState) : undefined };
    expect(decidePhase(backend, observed, at(seconds))).toMatchObject({ phase, reason });
  });

  test('a name conflict fails the backend and says what to do', () => {
    const verdict = decidePhase(fresh, { conflict: 'a Pod named sessions/game already exists and is not controlled by this backend; delete it' }, at(1));
    expect(verdict).toMatchObject({ phase: 'Failed', reason: 'NameConflict' });
    expect(verdict.message).toContain('sessions/game');
  });

  test('messages say what the backend waits for', () => {
    expect(decidePhase(fresh, { pod: pod(fresh, 'unscheduled') }, at(1)).message).toBe('waiting to be scheduled: 0/1 nodes are available');
    expect(decidePhase(fresh, { pod: pod(fresh, 'creating') }, at(1)).message).toBe('waiting for container app: ContainerCreating');
    expect(decidePhase(fresh, { pod: pod(fresh, 'imagePull') }, at(1)).message).toContain('Back-off pulling image');
    expect(decidePhase(fresh, { pod: pod(fresh, 'crashed') }, at(1)).message).toBe('container app exited with code 3 (Error)');
  });
});

describe('decidePhase with refused creates', () => {
  const quota = { kind: 'Pod', name: 'sessions/game', code: 403, reason: 'Forbidden', message: 'exceeded quota: q', permanent: false };
  const invalid = { kind: 'Pod', name: 'sessions/game', code: 422, reason: 'Invalid', message: 'spec.x: Invalid value', permanent: true };
  const refusedBefore = slb({ status: { phase: 'Pending', conditions: [{ type: 'ChildrenCreated', status: 'False', reason: 'Forbidden', message: 'the API server refused to create Pod sessions/game (403 Forbidden): exceeded quota: q', lastTransitionTime: '2026-01-01T00:00:01Z' }] } });
  test.each<[string, ReturnType<typeof slb>, object, number, string, string, RegExp]>([
    ['invalid: Failed at once with the API server\'s reason', fresh, { refusals: [invalid] }, 1, 'Failed', 'Invalid', /Invalid value; retrying cannot fix this/],
    ['quota, before the deadline: Pending, saying so', fresh, { refusals: [quota] }, 1, 'Pending', 'Starting', /exceeded quota: q; retrying until startupTimeoutSeconds \(300 s\)/],
    ['quota at the deadline: StartupTimeout carrying the refusal', fresh, { refusals: [quota] }, 300, 'Failed', 'StartupTimeout', /^not Ready within startupTimeoutSeconds \(300 s\); last state: the API server refused to create Pod sessions\/game \(403 Forbidden\): exceeded quota: q$/],
    ['a refusal recorded earlier still counts at the deadline', refusedBefore, {}, 300, 'Failed', 'StartupTimeout', /last state: the API server refused .*exceeded quota: q$/],
  ])('%s', (_what, backend, observed, seconds, phase, reason, message) => {
    const verdict = decidePhase(backend, observed, at(seconds));
    expect(verdict).toMatchObject({ phase, reason });
    expect(verdict.message).toMatch(message);
  });
});

describe('computeStatus', () => {
  test('Ready carries url (with the token), node, pod, its address, readyTime and both conditions true; no Service', () => {
    const status = computeStatus(fresh, { pod: pod(fresh, 'ready') }, at(2), config);
    expect(status).toEqual({
      phase: 'Ready',
      url: `http://spawner.test/p/game/?token=${gameToken}`,
      nodeName: 'node-1', podName: 'game', podIP: '10.0.0.7', podPort: 9090,
      podUID: 'uid-pod', activitySource: 'Sidecar',
      readyTime: '2026-01-01T00:00:02Z',
      observedGeneration: 1,
      conditions: [
        { type: 'Scheduled', status: 'True', reason: 'Scheduled', message: 'scheduled to node-1', observedGeneration: 1, lastTransitionTime: '2026-01-01T00:00:02Z' },
        { type: 'Ready', status: 'True', reason: 'PodReady', message: 'the backend accepts connections', observedGeneration: 1, lastTransitionTime: '2026-01-01T00:00:02Z' },
      ],
    });
  });

  test('Failed carries reason and message; a condition written by the sweeper is kept', () => {
    const swept = { type: 'Swept', status: 'True' as const, reason: 'Idle', message: 'idle', lastTransitionTime: '2026-01-01T00:00:00Z' };
    const backend = slb({ status: { phase: 'Pending', conditions: [swept] } });
    const status = computeStatus(backend, { pod: pod(backend, 'imagePull') }, at(3), config);
    expect(status).toMatchObject({ phase: 'Failed', reason: 'ImagePullBackOff', nodeName: 'node-1' });
    expect(status.conditions?.find((c) => c.type === 'Swept')).toEqual(swept);
    expect(status.url).toBeUndefined();
  });

  test.each<[string, Parameters<typeof slb>[0], number]>([
    ['the sidecar’s proxy port when the Pod has the sidecar', {}, 9090],
    ['the app’s port when it has none', { spec: { sidecar: { enabled: false }, httpPort: 3000 } }, 3000],
  ])('podPort: %s', (_what, over, port) => {
    const backend = slb(over);
    expect(computeStatus(backend, { pod: pod(backend, 'ready') }, at(2), config).podPort).toBe(port);
  });

  test('serviceName (deprecated) stays on a backend created before decision B, and is never set on a new one', () => {
    const old = slb({ status: { phase: 'Pending', serviceName: 'game' } });
    expect(computeStatus(old, { pod: pod(old, 'ready') }, at(2), config)).toMatchObject({ phase: 'Ready', serviceName: 'game' });
    expect(computeStatus(fresh, { pod: pod(fresh, 'ready') }, at(2), config).serviceName).toBeUndefined();
  });

  test('a public backend’s URL carries no token', () => {
    const open = slb({ spec: { access: 'Public' } });
    expect(computeStatus(open, { pod: pod(open, 'ready') }, at(2), config).url).toBe('http://spawner.test/p/game/');
  });

  test('a backend outside the routed namespace runs, gets no URL, and a condition says why', () => {
    const elsewhere = { ...config, routedNamespace: 'spawner-backends' };
    const status = computeStatus(fresh, { pod: pod(fresh, 'ready') }, at(2), elsewhere);
    expect(status.phase).toBe('Ready');
    expect(status.url).toBeUndefined();
    expect(status.conditions?.find((c) => c.type === 'Routable')).toEqual({
      type: 'Routable',
      status: 'False',
      reason: 'NamespaceNotRouted',
      message: 'the router serves namespace spawner-backends only; a backend in sessions runs but gets no URL (create it in spawner-backends)',
      observedGeneration: 1,
      lastTransitionTime: '2026-01-01T00:00:02Z',
    });
  });

  test('recomputing from the same observations gives the same status (no needless write)', () => {
    const observed = { pod: pod(fresh, 'ready') };
    const first = computeStatus(fresh, observed, at(2), config);
    const again = computeStatus({ ...fresh, status: first }, observed, at(50), config);
    expect(sameStatus(first, again)).toBe(true);
  });
});

describe('statusWriteDecision', () => {
  const pending = computeStatus(fresh, { pod: pod(fresh, 'creating') }, at(0.2), config);
  const podCreatedAt = (seconds: number) => {
    const p = pod(fresh, 'creating');
    p.metadata!.creationTimestamp = at(seconds).toISOString() as unknown as Date;
    return p;
  };
  test.each([
    ['no change, no write', slb({ status: pending }), pending, 5, undefined, { write: false }],
    ['Pending details of a Pod just created wait until the start is slow', slb({ status: { phase: 'Pending' } }), pending, 0.2, podCreatedAt(0), { write: false, retryInMs: 4800 }],
    ['Pending details of a slow Pod are written (a progress write)', slb({ status: { phase: 'Pending' } }), pending, 5.5, podCreatedAt(0), { write: true, progress: true }],
    // A burst: the backend waited 30 s in the queue; its Pod is a second old, which is no news yet.
    ['a backend that waited in the queue: timed from its Pod', slb({ status: { phase: 'Pending' } }), pending, 31, podCreatedAt(30), { write: false, retryInMs: 4000 }],
    ['no Pod yet: timed from the backend', slb({ status: { phase: 'Pending' } }), pending, 6, undefined, { write: true, progress: true }],
    ['no Pod yet, young backend: wait', slb({ status: { phase: 'Pending' } }), pending, 1, undefined, { write: false, retryInMs: 4000 }],
    ['a phase change is written at once', slb({ status: { phase: 'Pending' } }), { ...pending, phase: 'Ready' as const }, 0.2, podCreatedAt(0), { write: true }],
    ['no status at all is written at once', slb(), pending, 0.2, undefined, { write: true }],
  ])('%s', (_what, backend, next, seconds, observedPod, expected) => {
    expect(statusWriteDecision(backend, next, at(seconds), observedPod)).toEqual(expected);
  });
});

describe('startupDeadlineInMs', () => {
  test.each([
    ['pending: until the deadline', slb({ status: { phase: 'Pending' } }), 100, 200_000],
    ['pending past the deadline: now', slb(), 400, 0],
    ['ready: none', readyBefore, 100, undefined],
  ])('%s', (_what, backend, seconds, expected) => {
    expect(startupDeadlineInMs(backend, at(seconds))).toBe(expected);
  });
  test('T0 is the creation time of the fixtures', () => {
    expect(fresh.metadata.creationTimestamp).toBe(T0.toISOString());
  });
});
