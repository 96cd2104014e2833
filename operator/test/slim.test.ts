import { describe, expect, test } from '@jest/globals';
import { computeStatus } from '../src/spawner/status.ts';
import { slimPod, slimService } from '../src/spawner/slim.ts';
import { at, config, pod, service, slb, type PodState } from './fixtures.ts';

const states: PodState[] = ['unscheduled', 'creating', 'running', 'ready', 'imagePull', 'crashed', 'evicted', 'succeeded', 'deleting'];

describe('the slimmed Pod and Service the operator caches', () => {
  test.each(states)('a %s Pod gives the same status as the full one', (state) => {
    for (const previous of [undefined, { phase: 'Ready' as const, readyTime: '2026-01-01T00:00:02Z' }]) {
      const backend = slb(previous ? { status: previous } : {});
      const full = pod(backend, state);
      const observed = { pod: full, service: service(backend) };
      const slimmed = { pod: slimPod(structuredClone(full)), service: slimService(structuredClone(observed.service)) };
      expect(computeStatus(backend, slimmed, at(5), config)).toEqual(computeStatus(backend, observed, at(5), config));
    }
  });

  test('keeps what ownership, caching and deletion need, and drops the rest', () => {
    const backend = slb();
    const full = pod(backend, 'ready');
    full.metadata!.deletionTimestamp = new Date('2026-01-01T00:00:09Z');
    const slim = slimPod(full);
    expect(slim.metadata).toEqual({
      name: full.metadata!.name, namespace: full.metadata!.namespace, uid: full.metadata!.uid, resourceVersion: full.metadata!.resourceVersion,
      labels: full.metadata!.labels, ownerReferences: full.metadata!.ownerReferences, deletionTimestamp: full.metadata!.deletionTimestamp,
    });
    expect(slim.spec).toEqual({ containers: full.spec!.containers.map((c) => ({ name: c.name })), nodeName: 'node-1' });
    expect(JSON.stringify(slim).length).toBeLessThan(JSON.stringify(full).length / 2);
    expect(slimService(service(backend)).spec).toBeUndefined();
  });
});
