// The sweeper's few API calls over the shared REST layer (raw JSON, so timestamps and field names are
// exactly what the API server sends, and every error keeps its HTTP status).

import { GROUP, PLURAL, VERSION } from '../../common/contract.ts';
import { isNotFound } from '../../common/kube/errors.ts';
import type { KubeAccess } from '../../common/kube/kubeconfig.ts';
import { requestJson } from '../../common/kube/rest.ts';
import type { CoreEvent } from '../../common/spawner/events.ts';
import type { SessionLivedBackend } from '../../common/spawner/types.ts';
import type { JsonPatchOp, SweepApi } from './sweep.ts';

const enc = encodeURIComponent;

export function slbPath(namespace: string, name: string): string {
  return `/apis/${GROUP}/${VERSION}/namespaces/${enc(namespace)}/${PLURAL}/${enc(name)}`;
}

// The collection the informer follows: every namespace, or just one.
export function slbCollectionPath(namespace: string): string {
  return namespace ? `/apis/${GROUP}/${VERSION}/namespaces/${enc(namespace)}/${PLURAL}` : `/apis/${GROUP}/${VERSION}/${PLURAL}`;
}

export function kubeSweepApi(kc: KubeAccess, timeoutMs = 10_000): SweepApi {
  return {
    async getSlb(namespace, name) {
      try {
        return await requestJson<SessionLivedBackend>(kc, { path: slbPath(namespace, name), timeoutMs });
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    patchSlbStatus(namespace, name, patch: JsonPatchOp[]) {
      return requestJson<SessionLivedBackend>(kc, {
        method: 'PATCH',
        path: `${slbPath(namespace, name)}/status`,
        body: patch,
        contentType: 'application/json-patch+json',
        timeoutMs,
      });
    },
    async createEvent(namespace, event: CoreEvent) {
      await requestJson(kc, { method: 'POST', path: `/api/v1/namespaces/${enc(namespace)}/events`, body: event, timeoutMs });
    },
    async deleteSlb(namespace, name, uid) {
      await requestJson(kc, {
        method: 'DELETE',
        path: slbPath(namespace, name),
        body: { kind: 'DeleteOptions', apiVersion: 'v1', preconditions: { uid } },
        timeoutMs,
      });
    },
  };
}
