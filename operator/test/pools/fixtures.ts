// Builders for the pool tests: a WarmPool and its members in each state, made by the real builders.
import type { V1Pod } from '@kubernetes/client-node';
import { desiredMember, type WarmPool } from '../../src/pools/members.ts';
import { config, T0 } from '../fixtures.ts';

export { at, config, T0 } from '../fixtures.ts';

export function pool(overrides: { spec?: Partial<WarmPool['spec']>; metadata?: Partial<WarmPool['metadata']>; status?: WarmPool['status'] } = {}): WarmPool {
  return {
    apiVersion: 'spawner.dev/v1',
    kind: 'WarmPool',
    metadata: { name: 'games', namespace: 'sessions', uid: 'uid-pool', generation: 2, resourceVersion: '5', creationTimestamp: T0.toISOString() as unknown as Date, ...overrides.metadata },
    spec: { replicas: 3, template: { containers: [{ name: 'app', image: 'localhost/demo:1' }] }, ...overrides.spec },
    ...(overrides.status ? { status: overrides.status } : {}),
  };
}

export type MemberState = 'starting' | 'ready' | 'imagePull' | 'crashed' | 'deleting';

let counter = 0;

/** A member as the informer would show it: created `ageSeconds` before `now` (T0-relative seconds). */
export function member(p: WarmPool, state: MemberState, o: { name?: string; createdAt?: number; hash?: string; rv?: string } = {}): V1Pod {
  const built = desiredMember(p, config).pod;
  const n = ++counter;
  const name = o.name ?? `${p.metadata.name}-m${n}`;
  const pod: V1Pod = {
    ...built,
    metadata: {
      ...built.metadata,
      name,
      generateName: undefined,
      uid: `uid-${name}`,
      resourceVersion: o.rv ?? String(100 + n),
      creationTimestamp: new Date(T0.getTime() + (o.createdAt ?? 0) * 1000),
      labels: { ...built.metadata!.labels, ...(o.hash ? { 'spawner.dev/template-hash': o.hash } : {}) },
    },
    spec: { ...built.spec!, nodeName: 'node-1' },
  };
  const running = { phase: 'Running', podIP: `10.0.1.${n % 250}` };
  switch (state) {
    case 'starting':
      pod.status = { phase: 'Pending', containerStatuses: [{ name: 'app', image: '', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } } }] };
      break;
    case 'ready':
    case 'deleting':
      pod.status = { ...running, conditions: [{ type: 'Ready', status: 'True' }], containerStatuses: [{ name: 'app', image: '', imageID: '', ready: true, restartCount: 0, state: { running: {} } }] };
      if (state === 'deleting') pod.metadata!.deletionTimestamp = T0;
      break;
    case 'imagePull':
      pod.status = { phase: 'Pending', containerStatuses: [{ name: 'app', image: '', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'ErrImagePull', message: 'pull access denied' } } }] };
      break;
    case 'crashed':
      pod.status = { phase: 'Running', containerStatuses: [{ name: 'app', image: '', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: 1, reason: 'Error' } } }] };
      break;
  }
  return pod;
}
