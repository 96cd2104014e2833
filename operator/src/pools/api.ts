// The API operations of pools and claims: implemented over the API server here and by a recording fake
// in the tests, so every write of a claim can be counted.
import type { V1Pod } from '@kubernetes/client-node';
import { GROUP, POOL_PLURAL, VERSION } from '../../../common/contract.ts';
import type { KubeAccess } from '../../../common/kube/kubeconfig.ts';
import { finalizersMergePatch } from '../../../common/kube/controller.ts';
import { isConflict, isNotFound } from '../../../common/kube/errors.ts';
import { requestJson } from '../../../common/kube/rest.ts';
import { objectEvent, type EventReporter, type EventSpec } from '../../../common/spawner/events.ts';
import type { WarmPoolStatus } from '../../../schema/generated/types.ts';
import { nullMissing, REPORTING_COMPONENT } from '../spawner/kube-api.ts';
import type { WarmPool } from './members.ts';

export type DeleteResult = 'deleted' | 'gone' | 'changed';

export interface PoolApi {
  createMember(pod: V1Pod): Promise<V1Pod>;
  // Conditional on the member's uid and resourceVersion: 'changed' when it moved on meanwhile (claimed,
  // relabelled), so a claimed member is never removed by the pool.
  deleteMember(pod: V1Pod): Promise<DeleteResult>;
  // The hand-over of a member (claim.ts claimPatch); a stale resourceVersion answers 409.
  claimMember(pod: V1Pod, patch: object): Promise<V1Pod>;
  patchPoolStatus(pool: WarmPool, status: WarmPoolStatus): Promise<WarmPool>;
  patchPoolFinalizers(pool: WarmPool, finalizers: string[]): Promise<WarmPool>;
  recordPoolEvent(pool: WarmPool, event: EventSpec): Promise<void>;
}

const MERGE_PATCH = 'application/merge-patch+json';

function poolPath(pool: WarmPool, sub = ''): string {
  return `/apis/${GROUP}/${VERSION}/namespaces/${pool.metadata.namespace}/${POOL_PLURAL}/${pool.metadata.name}${sub}`;
}

function podPath(pod: V1Pod): string {
  return `/api/v1/namespaces/${pod.metadata!.namespace}/pods/${pod.metadata!.name}`;
}

export function createKubePoolApi(kc: KubeAccess, identity: string, timeoutMs = 30_000): PoolApi {
  const reporter: EventReporter = { component: REPORTING_COMPONENT, instance: identity };
  const req = <T>(opts: Parameters<typeof requestJson>[1]) => requestJson<T>(kc, { timeoutMs, ...opts });
  return {
    createMember: (pod) => req<V1Pod>({ method: 'POST', path: `/api/v1/namespaces/${pod.metadata!.namespace}/pods`, body: pod }),
    deleteMember: async (pod) => {
      const preconditions = { uid: pod.metadata!.uid, resourceVersion: pod.metadata!.resourceVersion };
      try {
        await req({ method: 'DELETE', path: podPath(pod), body: { kind: 'DeleteOptions', apiVersion: 'v1', preconditions, propagationPolicy: 'Background' } });
        return 'deleted';
      } catch (err) {
        if (isNotFound(err)) return 'gone';
        if (isConflict(err)) return 'changed';
        throw err;
      }
    },
    claimMember: (pod, patch) => req<V1Pod>({ method: 'PATCH', path: podPath(pod), contentType: MERGE_PATCH, body: patch }),
    patchPoolStatus: (pool, status) =>
      req({ method: 'PATCH', path: poolPath(pool, '/status'), contentType: MERGE_PATCH, body: { metadata: { resourceVersion: pool.metadata.resourceVersion }, status: nullMissing(pool.status, status) } }),
    patchPoolFinalizers: (pool, finalizers) =>
      req({ method: 'PATCH', path: poolPath(pool), contentType: MERGE_PATCH, body: finalizersMergePatch(pool, finalizers) }),
    recordPoolEvent: async (pool, event) => {
      await req({ method: 'POST', path: `/api/v1/namespaces/${pool.metadata.namespace}/events`, body: objectEvent(pool, event, reporter, new Date()) });
    },
  };
}
