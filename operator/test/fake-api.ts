// A recording fake of SpawnerApi: it keeps the objects it was given and lists every call, so a test
// states the exact API actions a reconcile takes (as kubernetes/sample-controller's tests do).
import type { V1Pod } from '@kubernetes/client-node';
import { statusError } from '../../common/kube/errors.ts';
import type { EventSpec } from '../../common/spawner/events.ts';
import type { SessionLivedBackend, SessionLivedBackendStatus } from '../../common/spawner/types.ts';
import type { SpawnerApi } from '../src/spawner/api.ts';

export class RecordingApi implements SpawnerApi {
  readonly actions: string[] = [];
  readonly pods = new Map<string, V1Pod>();
  readonly events: { type: string; reason: string; message: string }[] = [];
  backend: SessionLivedBackend | undefined;
  // What the API server answers a create of this kind instead of creating it (statusError(...)).
  readonly refuse = new Map<'pod', unknown>();
  private rv = 100;
  private uids = 0;

  private record(action: string): void {
    this.actions.push(action);
  }

  private nextVersion(slb: SessionLivedBackend): SessionLivedBackend {
    if (this.backend && slb.metadata.resourceVersion !== this.backend.metadata.resourceVersion) {
      throw statusError(409, 'Conflict', 'the object has been modified; please apply your changes to the latest version');
    }
    return { ...slb, metadata: { ...slb.metadata, resourceVersion: String(++this.rv) } };
  }

  async patchFinalizers(slb: SessionLivedBackend, finalizers: string[]) {
    this.record(`patch finalizers [${finalizers.join(',')}]`);
    this.backend = this.nextVersion({ ...slb, metadata: { ...slb.metadata, finalizers } });
    return this.backend;
  }
  async patchStatus(slb: SessionLivedBackend, status: SessionLivedBackendStatus) {
    this.record(`patch status ${status.phase}`);
    this.backend = this.nextVersion({ ...slb, status });
    return this.backend;
  }
  async createPod(pod: V1Pod) {
    this.record(`create pod ${pod.metadata!.name}`);
    if (this.refuse.has('pod')) throw this.refuse.get('pod');
    const key = `${pod.metadata!.namespace}/${pod.metadata!.name}`;
    if (this.pods.has(key)) throw statusError(409, 'AlreadyExists', `pods "${pod.metadata!.name}" already exists`);
    const created = { ...pod, metadata: { ...pod.metadata, uid: `pod-${++this.uids}`, resourceVersion: String(++this.rv) } };
    this.pods.set(key, created);
    return created;
  }
  async getPod(namespace: string, name: string) {
    this.record(`get pod ${name}`);
    return this.pods.get(`${namespace}/${name}`);
  }
  async deletePod(namespace: string, name: string, uid: string) {
    this.record(`delete pod ${name} uid=${uid}`);
  }
  async deleteService(namespace: string, name: string, uid: string) {
    this.record(`delete service ${name} uid=${uid}`);
  }
  async deleteBackend(slb: SessionLivedBackend) {
    this.record(`delete backend ${slb.metadata.name}`);
  }
  async recordEvent(_slb: SessionLivedBackend, event: EventSpec) {
    this.record(`event ${event.type} ${event.reason}`);
    this.events.push(event);
  }
}
