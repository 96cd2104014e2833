// Builders of the objects the tests feed to the pure functions: a backend, and its Pod in each state.
import type { V1Pod, V1Service, V1ContainerStatus } from '@kubernetes/client-node';
import type { SessionLivedBackend } from '../../common/spawner/types.ts';
import { parseAccessKey } from '../../common/spawner/access.ts';
import { desiredPod, ownerReference } from '../src/spawner/desired.ts';
import type { SpawnerConfig } from '../src/spawner/types.ts';

// The access key the tests' backends' tokens are minted with.
export const testAccessKey = parseAccessKey(Buffer.from('test-access-key-'.repeat(4)));
// The backends of these fixtures (namespace `sessions`) are in the namespace the router serves.
export const config: SpawnerConfig = { sidecarImage: 'localhost/spawner/sidecar:0.1.0', publicUrl: 'http://spawner.test', accessKey: testAccessKey, routedNamespace: 'sessions' };
export const T0 = new Date('2026-01-01T00:00:00Z');
export const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

export function slb(overrides: { spec?: Partial<SessionLivedBackend['spec']>; status?: SessionLivedBackend['status']; metadata?: Partial<SessionLivedBackend['metadata']> } = {}): SessionLivedBackend {
  return {
    apiVersion: 'spawner.dev/v1',
    kind: 'SessionLivedBackend',
    metadata: {
      name: 'game', namespace: 'sessions', uid: 'uid-slb', generation: 1, resourceVersion: '10',
      creationTimestamp: T0.toISOString() as unknown as Date,
      ...overrides.metadata,
    },
    spec: { template: { containers: [{ name: 'app', image: 'localhost/demo:1' }] }, ...overrides.spec },
    ...(overrides.status ? { status: overrides.status } : {}),
  };
}

export type PodState = 'unscheduled' | 'creating' | 'running' | 'ready' | 'imagePull' | 'crashed' | 'evicted' | 'succeeded' | 'deleting';

export function pod(backend: SessionLivedBackend, state: PodState, uid = 'uid-pod'): V1Pod {
  const p = desiredPod(backend, config);
  p.metadata = { ...p.metadata, uid, resourceVersion: '20' };
  const app = (extra: Partial<V1ContainerStatus>): V1ContainerStatus =>
    ({ name: 'app', image: 'localhost/demo:1', imageID: '', ready: false, restartCount: 0, ...extra }) as V1ContainerStatus;
  if (state === 'unscheduled') {
    p.status = { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes are available' }] };
    return p;
  }
  p.spec!.nodeName = 'node-1';
  switch (state) {
    case 'creating':
      p.status = { phase: 'Pending', containerStatuses: [app({ state: { waiting: { reason: 'ContainerCreating' } } })] };
      break;
    case 'running':
      p.status = { phase: 'Running', podIP: '10.0.0.7', conditions: [{ type: 'Ready', status: 'False' }], containerStatuses: [app({ state: { running: {} } })] };
      break;
    case 'ready':
    case 'deleting':
      p.status = { phase: 'Running', podIP: '10.0.0.7', conditions: [{ type: 'Ready', status: 'True' }], containerStatuses: [app({ ready: true, state: { running: {} } })] };
      if (state === 'deleting') p.metadata.deletionTimestamp = T0;
      break;
    case 'imagePull':
      p.status = { phase: 'Pending', containerStatuses: [app({ state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "nope"' } } })] };
      break;
    case 'crashed':
      p.status = { phase: 'Running', containerStatuses: [app({ state: { terminated: { exitCode: 3, reason: 'Error' } } })] };
      break;
    case 'evicted':
      p.status = { phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: memory.' };
      break;
    case 'succeeded':
      p.status = { phase: 'Succeeded' };
      break;
  }
  return p;
}

// The per-backend Service the operator made before decision B; backends of then still own one.
export function oldService(backend: SessionLivedBackend, uid = 'uid-svc'): V1Service {
  const { namespace, name } = backend.metadata;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { namespace, name, uid, resourceVersion: '21', labels: { 'app.kubernetes.io/managed-by': 'spawner', 'spawner.dev/backend': name! }, ownerReferences: [ownerReference(backend)] },
    spec: { type: 'ClusterIP', selector: { 'spawner.dev/backend': name! }, ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 9090 }] },
  };
}
