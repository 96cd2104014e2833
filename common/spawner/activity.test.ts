import { describe, expect, test } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import {
  activitySourceOf, activitySourceOfPod, chooseActivitySource, routableWhenListeningPort, sidecarPortConflict, upstreamPort, type ActivitySource,
} from './activity.ts';

const spec = (s: object = {}) => ({ template: { containers: [{ name: 'app', image: 'x' }] }, ...s });

describe('what a new backend gets', () => {
  test.each([
    ['enabled: true', { sidecar: { enabled: true } }, 'node', 'Sidecar'],
    ['enabled: false', { sidecar: { enabled: false } }, 'node', 'App'],
    ['unset, default node', {}, 'node', 'Node'],
    ['unset, default sidecar', { sidecar: {} }, 'sidecar', 'Sidecar'],
  ] as const)('%s → %s', (_what, s, operatorDefault, expected) => {
    expect(chooseActivitySource({ spec: spec(s) }, operatorDefault)).toBe(expected);
  });

  test.each([
    ['the sidecar by default on its proxy port', { httpPort: 9090 }, 'Sidecar', true],
    ['the sidecar by default on its admin port', { httpPort: 9091 }, 'Sidecar', true],
    ['node mode on 9090', { httpPort: 9090 }, 'Node', false],
    ['the sidecar on another port', { httpPort: 8080 }, 'Sidecar', false],
  ] as const)('port clash: %s', (_what, s, source, clash) => {
    expect(sidecarPortConflict({ spec: spec(s) }, source) !== undefined).toBe(clash);
  });
});

describe('what a running backend uses', () => {
  const pod = (annotation: string | undefined, containers: string[]): V1Pod => ({
    metadata: { annotations: annotation ? { 'spawner.dev/activity-source': annotation } : undefined },
    spec: { containers: containers.map((name) => ({ name, image: 'x' })) },
  });
  test.each([
    ['its annotation', pod('Node', ['app']), {}, 'Node'],
    ['a Pod made before the annotation, with the sidecar', pod(undefined, ['app', 'spawner-sidecar']), {}, 'Sidecar'],
    ['a Pod made before the annotation, without it, enabled false', pod(undefined, ['app']), { sidecar: { enabled: false } }, 'App'],
    ['a Pod without annotation or sidecar', pod(undefined, ['app']), {}, 'Node'],
  ] as const)('from the Pod: %s', (_what, p, s, expected) => {
    expect(activitySourceOfPod(p, { spec: spec(s) })).toBe(expected);
  });

  test.each([
    ['status.activitySource Node', {}, { activitySource: 'Node' }, 'Node', 8080],
    ['status.activitySource Sidecar', {}, { activitySource: 'Sidecar' }, 'Sidecar', 9090],
    ['status.activitySource App on its httpPort', { httpPort: 3000 }, { activitySource: 'App' }, 'App', 3000],
    ['written before the field: stored enabled true', { sidecar: { enabled: true } }, {}, 'Sidecar', 9090],
    ['written before the field: unset meant the sidecar', {}, {}, 'Sidecar', 9090],
    ['written before the field: enabled false', { sidecar: { enabled: false } }, {}, 'App', 8080],
  ] as const)('from the backend: %s', (_what, s, status, source: ActivitySource, port) => {
    const backend = { spec: spec(s), status };
    expect(activitySourceOf(backend)).toBe(source);
    expect(upstreamPort(backend)).toBe(port);
  });
});

describe('the port a Pod is routable on once it listens', () => {
  test.each<[string, Record<string, string> | undefined, number | undefined]>([
    ['a port', { 'spawner.dev/routable-when-listening': '8080' }, 8080],
    ['the highest port', { 'spawner.dev/routable-when-listening': '65535' }, 65535],
    ['no annotations', undefined, undefined],
    ['another annotation only', { 'spawner.dev/activity-source': 'Node' }, undefined],
    ['zero', { 'spawner.dev/routable-when-listening': '0' }, undefined],
    ['beyond 65535', { 'spawner.dev/routable-when-listening': '65536' }, undefined],
    ['a name, not a number', { 'spawner.dev/routable-when-listening': 'http' }, undefined],
    ['a leading zero', { 'spawner.dev/routable-when-listening': '08080' }, undefined],
    ['empty', { 'spawner.dev/routable-when-listening': '' }, undefined],
  ])('%s', (_what, annotations, port) => {
    expect(routableWhenListeningPort({ metadata: { annotations } })).toBe(port);
  });
});
