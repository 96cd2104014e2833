import { describe, expect, test } from '@jest/globals';
import { desiredPod, desiredService } from '../src/spawner/desired.ts';
import { config, slb } from './fixtures.ts';

describe('desiredPod', () => {
  test('the app gets PORT, the sidecar is injected last, and the pod is owned by the backend', () => {
    const p = desiredPod(slb({ spec: { httpPort: 3000 } }), config);
    expect(p.metadata).toMatchObject({
      name: 'game', namespace: 'sessions',
      labels: { 'spawner.dev/backend': 'game', 'app.kubernetes.io/managed-by': 'spawner' },
      ownerReferences: [{ apiVersion: 'spawner.dev/v1', kind: 'SessionLivedBackend', name: 'game', uid: 'uid-slb', controller: true, blockOwnerDeletion: true }],
    });
    expect(p.spec!.restartPolicy).toBe('Never');
    expect(p.spec!.containers.map((c) => c.name)).toEqual(['app', 'spawner-sidecar']);
    expect(p.spec!.containers[0]!.env).toEqual([{ name: 'PORT', value: '3000' }]);
    const sidecar = p.spec!.containers[1]!;
    expect(sidecar.image).toBe(config.sidecarImage);
    expect(sidecar.args).toEqual(['--upstream-port=3000', '--proxy-port=9090', '--admin-port=9091']);
    expect(sidecar.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 9091 });
  });

  test.each([
    ['user env is kept and PORT overrides a user PORT', [{ name: 'A', value: '1' }, { name: 'PORT', value: '1' }], [{ name: 'A', value: '1' }, { name: 'PORT', value: '8080' }]],
    ['no env', undefined, [{ name: 'PORT', value: '8080' }]],
  ])('%s', (_what, env, expected) => {
    const p = desiredPod(slb({ spec: { template: { containers: [{ name: 'app', image: 'x', env }] } } }), config);
    expect(p.spec!.containers[0]!.env).toEqual(expected);
  });

  test('without the sidecar the app alone runs, with a TCP readiness probe unless it brings its own', () => {
    const plain = desiredPod(slb({ spec: { sidecar: { enabled: false } } }), config);
    expect(plain.spec!.containers.map((c) => c.name)).toEqual(['app']);
    expect(plain.spec!.containers[0]!.readinessProbe).toMatchObject({ tcpSocket: { port: 8080 } });
    const own = { httpGet: { path: '/ok', port: 8080 } };
    const withProbe = desiredPod(slb({ spec: { sidecar: { enabled: false }, template: { containers: [{ name: 'app', image: 'x', readinessProbe: own }] } } }), config);
    expect(withProbe.spec!.containers[0]!.readinessProbe).toEqual(own);
  });

  test('pod spec fields pass through; safe defaults can be overridden', () => {
    const p = desiredPod(slb({ spec: { template: { containers: [{ name: 'app', image: 'x' }], nodeSelector: { disk: 'ssd' }, automountServiceAccountToken: true, volumes: [{ name: 'v', emptyDir: {} }] } } }), config);
    expect(p.spec).toMatchObject({ nodeSelector: { disk: 'ssd' }, automountServiceAccountToken: true, enableServiceLinks: false, volumes: [{ name: 'v', emptyDir: {} }] });
  });
});

describe('desiredService', () => {
  test.each([
    ['the sidecar proxy when the sidecar is enabled', {}, 9090],
    ['the app port when the sidecar is disabled', { sidecar: { enabled: false }, httpPort: 3000 }, 3000],
  ])('targets %s', (_what, spec, target) => {
    const s = desiredService(slb({ spec }));
    expect(s.spec).toEqual({ type: 'ClusterIP', selector: { 'spawner.dev/backend': 'game' }, ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: target }] });
    expect(s.metadata!.ownerReferences![0]!.uid).toBe('uid-slb');
  });
});
