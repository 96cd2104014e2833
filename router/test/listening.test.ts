import { describe, expect, test } from '@jest/globals';
import { loopbackPorts } from '../../common/test/loopback-ports.ts';
import type { PodLike, RouteEntry } from '../src/decide.ts';
import { listeningRouter, RememberedRoutes, tcpConnects } from '../src/listening.ts';

const UID = '0b6f1c2e-8f51-4a57-9a43-1d2e3f4a5b6c';
const pending: RouteEntry = { name: 'room', uid: UID, phase: 'Pending', deleting: false, podIP: undefined, port: 8080, public: false };
const markedPod = (port: number): PodLike => ({
  metadata: { name: 'room', ownerReferences: [{ uid: UID, controller: true }], annotations: { 'spawner.dev/routable-when-listening': String(port) } },
  status: { phase: 'Running', podIP: '127.0.0.1' },
});

const ports = loopbackPorts();

test('RememberedRoutes forgets a route after its time, and the oldest beyond its bound', () => {
  let now = 0;
  const routes = new RememberedRoutes(5000, 2, () => now);
  routes.set('a', '10.0.0.1:8080');
  now = 4999;
  expect(routes.get('a')).toBe('10.0.0.1:8080');
  now = 5000;
  expect(routes.get('a')).toBeUndefined();
  expect(routes.size).toBe(0);
  routes.set('a', 'A');
  routes.set('b', 'B');
  routes.set('c', 'C');
  expect([routes.get('a'), routes.get('b'), routes.get('c')]).toEqual([undefined, 'B', 'C']);
});

describe('listeningRouter', () => {
  function router(pod: (port: number) => PodLike | undefined, port: number) {
    const reads: string[] = [];
    const r = listeningRouter({
      readPod: async (name) => {
        reads.push(name);
        return pod(port);
      },
      connect: tcpConnects,
      connectTimeoutMs: 250,
      rememberMs: 60_000,
    });
    return { r, reads };
  }

  test('the marked Pod listens: route to it, remembered for the next requests', async () => {
    const { r, reads } = router(markedPod, ports.open);
    expect(await r.check(pending)).toEqual({ verdict: { kind: 'route', upstream: `127.0.0.1:${ports.open}` }, outcome: 'listening' });
    expect(reads).toEqual(['room']);
    expect(r.remembered(UID)).toBe(`127.0.0.1:${ports.open}`);
  });

  test('status.podName names the Pod read', async () => {
    const { r, reads } = router(markedPod, ports.open);
    await r.check({ ...pending, podName: 'pool-x7k2p' });
    expect(reads).toEqual(['pool-x7k2p']);
  });

  test('not listening yet: starting, nothing remembered', async () => {
    const { r } = router(markedPod, ports.closed);
    expect(await r.check(pending)).toEqual({ verdict: { kind: 'starting' }, outcome: 'not-listening' });
    expect(r.remembered(UID)).toBeUndefined();
  });

  test('requests arriving together share one read and one connect; those queued behind a route need none', async () => {
    const { r, reads } = router(markedPod, ports.open);
    const answers = await Promise.all([r.check(pending), r.check(pending), r.check(pending)]);
    expect(answers.map((a) => a.verdict.kind)).toEqual(['route', 'route', 'route']);
    expect(answers.map((a) => a.outcome)).toEqual(['listening', 'remembered', 'remembered']);
    expect(reads).toEqual(['room']);
  });

  test('the Pod cannot be read: starting', async () => {
    const r = listeningRouter({
      readPod: async () => {
        throw new Error('connect ECONNREFUSED');
      },
      connect: tcpConnects,
      connectTimeoutMs: 250,
      rememberMs: 1000,
    });
    expect(await r.check(pending)).toEqual({ verdict: { kind: 'starting' }, outcome: 'error', error: 'connect ECONNREFUSED' });
  });

  test('a backend that is not starting is not checked', async () => {
    const { r, reads } = router(markedPod, ports.open);
    expect(await r.check({ ...pending, phase: 'Failed' })).toEqual({ verdict: { kind: 'starting' }, outcome: 'not-checked' });
    expect(reads).toEqual([]);
  });
});
