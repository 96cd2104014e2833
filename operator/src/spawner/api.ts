// The API operations the Spawner logic needs; implemented over the API server in kube-api.ts and by a
// recording fake in the tests, so the reconcile steps can be checked call by call. Both raise
// common/kube/errors.ts's KubeApiError, classified by its predicates.
import type { V1Pod } from '@kubernetes/client-node';
import type { EventSpec } from '../../../common/spawner/events.ts';
import type { SessionLivedBackend, SessionLivedBackendStatus } from '../../../common/spawner/types.ts';

export interface SpawnerApi {
  // Merge patches carrying metadata.resourceVersion: a stale view fails with 409 instead of overwriting.
  patchFinalizers(slb: SessionLivedBackend, finalizers: string[]): Promise<SessionLivedBackend>;
  patchStatus(slb: SessionLivedBackend, status: SessionLivedBackendStatus): Promise<SessionLivedBackend>;
  createPod(pod: V1Pod): Promise<V1Pod>;
  getPod(namespace: string, name: string): Promise<V1Pod | undefined>;
  // Deletes with a uid precondition, so a same-named replacement is never hit; gone already is fine.
  deletePod(namespace: string, name: string, uid: string): Promise<void>;
  // Only backends created before the operator stopped making per-backend Services still own one.
  deleteService(namespace: string, name: string, uid: string): Promise<void>;
  deleteBackend(slb: SessionLivedBackend): Promise<void>;
  recordEvent(slb: SessionLivedBackend, event: EventSpec): Promise<void>;
}
