import { describe, expect, test } from '@jest/globals';
import { computeStatus } from '../src/spawner/status.ts';
import { ACTIVITY_SOURCE_ANNOTATION } from '../../common/spawner/activity.ts';
import { slimBackend, slimPod, slimService } from '../src/spawner/slim.ts';
import { at, config, oldService, pod, slb, type PodState } from './fixtures.ts';

const states: PodState[] = ['unscheduled', 'creating', 'running', 'ready', 'imagePull', 'crashed', 'evicted', 'succeeded', 'deleting'];

describe('the slimmed Pod (and old backends\' Service) the operator caches', () => {
  test.each(states)('a %s Pod gives the same status as the full one', (state) => {
    for (const previous of [undefined, { phase: 'Ready' as const, readyTime: '2026-01-01T00:00:02Z' }]) {
      const backend = slb(previous ? { status: previous } : {});
      const full = pod(backend, state);
      const observed = { pod: full };
      const slimmed = { pod: slimPod(structuredClone(full)) };
      expect(computeStatus(backend, slimmed, at(5), config)).toEqual(computeStatus(backend, observed, at(5), config));
    }
  });

  test('keeps what ownership, caching and deletion need, and drops the rest', () => {
    const backend = slb();
    const full = pod(backend, 'ready');
    full.metadata!.deletionTimestamp = new Date('2026-01-01T00:00:09Z');
    expect(full.metadata!.annotations![ACTIVITY_SOURCE_ANNOTATION]).toBeDefined();
    full.metadata!.annotations = { ...full.metadata!.annotations, 'kubectl.kubernetes.io/last-applied-configuration': '{}' };
    const slim = slimPod(full);
    expect(slim.metadata).toEqual({
      name: full.metadata!.name, namespace: full.metadata!.namespace, uid: full.metadata!.uid, resourceVersion: full.metadata!.resourceVersion,
      labels: full.metadata!.labels, deletionTimestamp: full.metadata!.deletionTimestamp,
      annotations: { [ACTIVITY_SOURCE_ANNOTATION]: full.metadata!.annotations![ACTIVITY_SOURCE_ANNOTATION] },
      ownerReferences: full.metadata!.ownerReferences!.map(({ blockOwnerDeletion: _b, ...ref }) => ref),
    });
    expect(slim.spec).toEqual({ containers: full.spec!.containers.map((c) => ({ name: c.name })), nodeName: 'node-1' });
    expect(JSON.stringify(slim).length).toBeLessThan(JSON.stringify(full).length / 2);
    expect(slimService(oldService(backend)).spec).toBeUndefined();
  });
});

describe('the slimmed backend the operator caches', () => {
  const full = (status?: NonNullable<Parameters<typeof slb>[0]>['status']) => {
    const b = slb(status ? { status } : {});
    b.metadata.labels = { team: 'a' };
    b.metadata.annotations = { 'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify(b) };
    b.metadata.finalizers = ['spawner.dev/teardown'];
    b.metadata.managedFields = [{ manager: 'kubectl', operation: 'Update' }];
    return b;
  };

  test.each(states)('with a %s Pod it gives the same status as the full one', (state) => {
    for (const previous of [undefined, { phase: 'Pending' as const }, { phase: 'Ready' as const, readyTime: '2026-01-01T00:00:02Z', conditions: [{ type: 'Swept', status: 'False' as const, reason: 'Active', message: 'in use', lastTransitionTime: '2026-01-01T00:00:03Z' }] }]) {
      const backend = full(previous);
      const observed = { pod: pod(backend, state) };
      expect(computeStatus(slimBackend(structuredClone(backend)), observed, at(5), config)).toEqual(computeStatus(backend, observed, at(5), config));
    }
  });

  test('keeps what names, orders and builds the backend; drops labels, annotations and managedFields', () => {
    const backend = full({ phase: 'Ready', readyTime: '2026-01-01T00:00:02Z', url: 'http://spawner.test/p/game/' });
    const slim = slimBackend(structuredClone(backend));
    expect(slim.apiVersion).toBe(backend.apiVersion);
    expect(slim.kind).toBe(backend.kind);
    expect(slim.spec).toEqual(backend.spec);
    expect(slim.status).toEqual(backend.status);
    expect(slim.metadata).toEqual({
      name: 'game', namespace: 'sessions', uid: 'uid-slb', resourceVersion: '10', generation: 1,
      creationTimestamp: backend.metadata.creationTimestamp, finalizers: ['spawner.dev/teardown'],
    });
  });
});
