// The API operations the Spawner logic needs; implemented over client-node in kube-api.ts and by a
// recording fake in the tests, so the reconcile steps can be checked call by call.
import type { V1Pod, V1Service } from '@kubernetes/client-node';
import type { SessionLivedBackend, SessionLivedBackendStatus } from './types.ts';

export interface SpawnerApi {
  // Merge patches carrying metadata.resourceVersion: a stale view fails with 409 instead of overwriting.
  patchFinalizers(slb: SessionLivedBackend, finalizers: string[]): Promise<SessionLivedBackend>;
  patchStatus(slb: SessionLivedBackend, status: SessionLivedBackendStatus): Promise<SessionLivedBackend>;
  createPod(pod: V1Pod): Promise<V1Pod>;
  createService(service: V1Service): Promise<V1Service>;
  getPod(namespace: string, name: string): Promise<V1Pod | undefined>;
  getService(namespace: string, name: string): Promise<V1Service | undefined>;
  // Deletes with a uid precondition, so a same-named replacement is never hit; gone already is fine.
  deletePod(namespace: string, name: string, uid: string): Promise<void>;
  deleteService(namespace: string, name: string, uid: string): Promise<void>;
  deleteBackend(slb: SessionLivedBackend): Promise<void>;
  recordEvent(slb: SessionLivedBackend, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void>;
}

export class ApiError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

// Both this module's ApiError (`code`) and common/kube/rest.ts's KubeApiError (`statusCode`) count.
function httpCode(err: unknown): number | undefined {
  const e = err as { code?: unknown; statusCode?: unknown } | undefined;
  if (typeof e?.statusCode === 'number') return e.statusCode;
  return typeof e?.code === 'number' ? e.code : undefined;
}

export function isAlreadyExists(err: unknown): boolean {
  const reason = (err as { status?: { reason?: string } })?.status?.reason;
  return httpCode(err) === 409 && (reason === 'AlreadyExists' || /already exists/i.test(String((err as Error).message ?? '')));
}

export function isNotFound(err: unknown): boolean {
  return httpCode(err) === 404;
}

export function isConflict(err: unknown): boolean {
  return httpCode(err) === 409 && !isAlreadyExists(err);
}
