import { describe, expect, test } from '@jest/globals';
import { classifyMember, desiredMember, isMemberOf, memberSelector, templateHash } from '../../src/pools/members.ts';
import { at, config, member, pool, T0 } from './fixtures.ts';

describe('desiredMember', () => {
  const p = pool({ spec: { httpPort: 3000 } });
  const { pod, hash } = desiredMember(p, config);

  test('is the Pod a cold start would make, named by the API server after the pool, owned by the pool', () => {
    expect(pod.metadata).toMatchObject({ generateName: 'games-', namespace: 'sessions' });
    expect(pod.metadata?.name).toBeUndefined();
    expect(pod.metadata?.ownerReferences).toEqual([{ apiVersion: 'spawner.dev/v1', kind: 'WarmPool', name: 'games', uid: 'uid-pool', controller: true, blockOwnerDeletion: true }]);
    expect(pod.spec).toMatchObject({ restartPolicy: 'Never', automountServiceAccountToken: false, enableServiceLinks: false });
    expect(pod.spec?.containers[0]?.env).toEqual([{ name: 'PORT', value: '3000' }]);
  });

  test('carries the pool and template-hash labels (the selector finds unclaimed members)', () => {
    expect(pod.metadata?.labels).toEqual({ 'app.kubernetes.io/managed-by': 'spawner', 'spawner.dev/pool': 'games', 'spawner.dev/template-hash': hash });
    expect(memberSelector(p)).toBe('spawner.dev/pool=games');
    expect(hash).toMatch(/^[0-9a-f]{10}$/);
  });

  test('the sidecar logs under the member Pod\'s own name until a claim names its session', () => {
    const sidecar = pod.spec!.containers.find((c) => c.name === 'spawner-sidecar')!;
    expect(sidecar.env).toContainEqual({ name: 'BACKEND_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } });
  });

  test.each([
    ['the image', { template: { containers: [{ name: 'app', image: 'localhost/demo:2' }] } }, {}],
    ['the port', { httpPort: 3001 }, {}],
    ['the sidecar setting', { sidecar: { enabled: false } }, {}],
    ['the operator\'s sidecar image', {}, { sidecarImage: 'localhost/spawner/sidecar:0.2.0' }],
  ])('the template hash changes with %s', (_what, spec, cfg) => {
    expect(templateHash(pool({ spec: { httpPort: 3000, ...spec } }), { ...config, ...cfg })).not.toBe(hash);
  });

  test.each([
    ['replicas', { replicas: 9 }],
    ['the startup timeout (it shapes no Pod)', { startupTimeoutSeconds: 10 }],
  ])('the template hash does not change with %s', (_what, spec) => {
    expect(templateHash(pool({ spec: { httpPort: 3000, ...spec } }), config)).toBe(hash);
  });
});

describe('classifyMember', () => {
  const p = pool({ spec: { startupTimeoutSeconds: 60 } });
  const hash = templateHash(p, config);
  test.each<[string, ReturnType<typeof member>, number, boolean, string, string | undefined]>([
    ['starting', member(p, 'starting'), 10, false, 'starting', undefined],
    ['ready', member(p, 'ready'), 10, false, 'ready', undefined],
    ['being deleted', member(p, 'deleting'), 10, false, 'deleting', undefined],
    ['deletion requested by us, not seen yet', member(p, 'ready'), 10, true, 'deleting', undefined],
    ['an image that cannot be pulled', member(p, 'imagePull'), 10, false, 'failed', 'ErrImagePull'],
    ['the app exited', member(p, 'crashed'), 10, false, 'failed', 'AppExited'],
    ['built from an older template', member(p, 'ready', { hash: 'old0000000' }), 10, false, 'outdated', undefined],
    ['failed and outdated: failed wins (it is counted as a failure)', member(p, 'imagePull', { hash: 'old0000000' }), 10, false, 'failed', 'ErrImagePull'],
    ['not Ready within the startup timeout', member(p, 'starting'), 60, false, 'timedOut', 'StartupTimeout'],
    ['Ready after the startup timeout is just Ready', member(p, 'ready'), 600, false, 'ready', undefined],
  ])('%s', (_what, pod, seconds, requested, state, reason) => {
    const c = classifyMember(pod, p, hash, at(seconds), requested);
    expect({ state: c.state, reason: c.failure?.reason }).toEqual({ state, reason });
  });

  test('a member belongs to the pool of its controller uid, not of its name', () => {
    const pod = member(p, 'ready');
    expect(isMemberOf(pod, p)).toBe(true);
    expect(isMemberOf(pod, pool({ metadata: { uid: 'uid-successor' } }))).toBe(false);
  });

  test('timestamps may be Dates or strings', () => {
    const pod = member(p, 'starting');
    pod.metadata!.creationTimestamp = T0.toISOString() as unknown as Date;
    expect(classifyMember(pod, p, hash, at(61)).state).toBe('timedOut');
  });
});
