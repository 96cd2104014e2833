import { describe, expect, test } from '@jest/globals';
import { routableWhenListeningPort } from '../../common/spawner/activity.ts';
import { desiredPod, READINESS_PROBE_PERIOD_SECONDS } from '../src/spawner/desired.ts';
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

  test.each([
    ['spec.sidecar.enabled true, whatever the default', { sidecar: { enabled: true } }, 'node', 'Sidecar'],
    ['spec.sidecar.enabled false: the app serves /status', { sidecar: { enabled: false } }, 'sidecar', 'App'],
    ["unset: the operator's default node", {}, 'node', 'Node'],
    ["unset: the operator's default sidecar", {}, 'sidecar', 'Sidecar'],
    ['unset, no --activity-source: the built-in sidecar', {}, undefined, 'Sidecar'],
  ] as const)('%s', (_what, spec, activitySource, source) => {
    const p = desiredPod(slb({ spec }), { ...config, activitySource });
    expect(p.metadata!.annotations!['spawner.dev/activity-source']).toBe(source);
    expect(p.spec!.containers.map((c) => c.name)).toEqual(source === 'Sidecar' ? ['app', 'spawner-sidecar'] : ['app']);
  });

  test('without the sidecar the app alone runs: Ready within a second of listening (startup probe), then probed every 10 s', () => {
    const plain = desiredPod(slb({ spec: { httpPort: 3000, startupTimeoutSeconds: 60 } }), { ...config, activitySource: 'node' });
    expect(plain.spec!.containers.map((c) => c.name)).toEqual(['app']);
    const app = plain.spec!.containers[0]!;
    expect(app.startupProbe).toEqual({ tcpSocket: { port: 3000 }, periodSeconds: 1, failureThreshold: 70 });
    expect(app.readinessProbe).toEqual({ tcpSocket: { port: 3000 }, periodSeconds: READINESS_PROBE_PERIOD_SECONDS, failureThreshold: 1 });
  });

  test("the user's readiness probe decides (nothing added); a startup probe of theirs is kept", () => {
    const own = { httpGet: { path: '/ok', port: 8080 } };
    const withProbe = desiredPod(slb({ spec: { sidecar: { enabled: false }, template: { containers: [{ name: 'app', image: 'x', readinessProbe: own }] } } }), config);
    expect(withProbe.spec!.containers[0]!.readinessProbe).toEqual(own);
    expect(withProbe.spec!.containers[0]!.startupProbe).toBeUndefined();
    const startup = { exec: { command: ['true'] } };
    const withStartup = desiredPod(slb({ spec: { template: { containers: [{ name: 'app', image: 'x', startupProbe: startup }] } } }), { ...config, activitySource: 'node' });
    expect(withStartup.spec!.containers[0]!.startupProbe).toEqual(startup);
    expect(withStartup.spec!.containers[0]!.readinessProbe).toMatchObject({ tcpSocket: { port: 8080 } });
  });

  test.each<[string, Record<string, unknown>, 'node' | 'sidecar', string | undefined]>([
    ['node mode, the operator probes the app: its port', { httpPort: 3000 }, 'node', '3000'],
    ['the app serves /status, the operator probes it: its port', { sidecar: { enabled: false } }, 'sidecar', '8080'],
    ['the sidecar listens before the app: none', {}, 'sidecar', undefined],
    ['sidecar asked for in node mode: none', { sidecar: { enabled: true } }, 'node', undefined],
    ["the user's readiness probe defines readiness: none", { template: { containers: [{ name: 'app', image: 'x', readinessProbe: { httpGet: { path: '/ok', port: 8080 } } }] } }, 'node', undefined],
    ["the user's startup probe holds Ready back: none", { template: { containers: [{ name: 'app', image: 'x', startupProbe: { exec: { command: ['true'] } } }] } }, 'node', undefined],
    ['another container brings a readiness probe: none', { template: { containers: [{ name: 'app', image: 'x' }, { name: 'db', image: 'y', readinessProbe: { exec: { command: ['true'] } } }] } }, 'node', undefined],
  ])('routable when listening (%s)', (_what, spec, activitySource, port) => {
    const p = desiredPod(slb({ spec }), { ...config, activitySource });
    expect(p.metadata!.annotations!['spawner.dev/routable-when-listening']).toBe(port);
    expect(routableWhenListeningPort(p)).toBe(port === undefined ? undefined : Number(port));
  });

  test('what Pod Security `restricted` requires and the template leaves unset is filled in; what it sets is kept', () => {
    const plain = desiredPod(slb(), config).spec!;
    expect(plain.securityContext).toEqual({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    for (const c of plain.containers) {
      expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    }
    const own = desiredPod(
      slb({
        spec: {
          template: {
            securityContext: { runAsUser: 1000, runAsNonRoot: false },
            initContainers: [{ name: 'init', image: 'x' }],
            containers: [{ name: 'app', image: 'x', securityContext: { capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] } } }],
          },
        },
      }),
      config,
    ).spec!;
    expect(own.securityContext).toEqual({ runAsUser: 1000, runAsNonRoot: false, seccompProfile: { type: 'RuntimeDefault' } });
    expect(own.containers[0]!.securityContext).toEqual({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] } });
    expect(own.initContainers![0]!.securityContext).toEqual({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
  });

  test('pod spec fields pass through; safe defaults can be overridden', () => {
    const p = desiredPod(slb({ spec: { template: { containers: [{ name: 'app', image: 'x' }], nodeSelector: { disk: 'ssd' }, automountServiceAccountToken: true, volumes: [{ name: 'v', emptyDir: {} }] } } }), config);
    expect(p.spec).toMatchObject({ nodeSelector: { disk: 'ssd' }, automountServiceAccountToken: true, enableServiceLinks: false, volumes: [{ name: 'v', emptyDir: {} }] });
  });
});
