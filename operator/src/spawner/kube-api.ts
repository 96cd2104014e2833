// SpawnerApi over the API server (common/kube/rest.ts, the runtime's own HTTP layer).
import type { V1Pod } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from '../../../common/contract.ts';
import { finalizersMergePatch } from '../../../common/kube/controller.ts';
import { isNotFound } from '../../../common/kube/errors.ts';
import type { KubeAccess } from '../../../common/kube/kubeconfig.ts';
import { requestJson } from '../../../common/kube/rest.ts';
import { backendEvent, type EventReporter } from '../../../common/spawner/events.ts';
import type { SessionLivedBackend, SessionLivedBackendStatus } from '../../../common/spawner/types.ts';
import type { SpawnerApi } from './api.ts';

const MERGE_PATCH = 'application/merge-patch+json';
export const REPORTING_COMPONENT = 'spawner-operator';

function backendPath(slb: SessionLivedBackend, sub = ''): string {
  return `/apis/${GROUP}/${VERSION}/namespaces/${slb.metadata.namespace}/${PLURAL}/${slb.metadata.name}${sub}`;
}

export function createKubeSpawnerApi(kc: KubeAccess, identity: string, timeoutMs = 30_000): SpawnerApi {
  const reporter: EventReporter = { component: REPORTING_COMPONENT, instance: identity };
  const req = <T>(opts: Parameters<typeof requestJson>[1]) => requestJson<T>(kc, { timeoutMs, ...opts });
  const getOrUndefined = async <T>(path: string): Promise<T | undefined> => {
    try {
      return await req<T>({ path });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  };
  const deleteByUid = async (path: string, uid: string): Promise<void> => {
    try {
      await req({ method: 'DELETE', path, body: { kind: 'DeleteOptions', apiVersion: 'v1', preconditions: { uid }, propagationPolicy: 'Background' } });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  };
  return {
    patchFinalizers: (slb, finalizers) =>
      req({ method: 'PATCH', path: backendPath(slb), contentType: MERGE_PATCH, body: finalizersMergePatch(slb, finalizers) }),
    // The whole status is ours to state (other writers' conditions are carried over by computeStatus);
    // the resourceVersion makes a concurrent writer's change a 409 and a retry, never a lost update.
    patchStatus: (slb, status: SessionLivedBackendStatus) =>
      req({ method: 'PATCH', path: backendPath(slb, '/status'), contentType: MERGE_PATCH, body: { metadata: { resourceVersion: slb.metadata.resourceVersion }, status: nullMissing(slb.status, status) } }),
    createPod: (pod) => req<V1Pod>({ method: 'POST', path: `/api/v1/namespaces/${pod.metadata!.namespace}/pods`, body: pod }),
    getPod: (ns, name) => getOrUndefined<V1Pod>(`/api/v1/namespaces/${ns}/pods/${name}`),
    deletePod: (ns, name, uid) => deleteByUid(`/api/v1/namespaces/${ns}/pods/${name}`, uid),
    deleteService: (ns, name, uid) => deleteByUid(`/api/v1/namespaces/${ns}/services/${name}`, uid),
    deleteBackend: (slb) => deleteByUid(backendPath(slb), slb.metadata.uid!),
    recordEvent: async (slb, event) => {
      await req({ method: 'POST', path: `/api/v1/namespaces/${slb.metadata.namespace}/events`, body: backendEvent(slb, event, reporter, new Date()) });
    },
  };
}

// A merge patch only sets what it names: fields we dropped (reason once no longer Failed…) must be null.
export function nullMissing(previous: object | undefined, next: object): Record<string, unknown> {
  const out: Record<string, unknown> = { ...next };
  for (const key of Object.keys(previous ?? {})) if (!(key in next)) out[key] = null;
  return out;
}
