// A recording fake of PoolApi: it keeps the Pods and the pool it was given, enforces the preconditions
// the API server would (resourceVersion on claims, deletes and pool patches), and lists every call.
import type { V1Pod } from '@kubernetes/client-node';
import type { WarmPoolStatus } from '../../../schema/generated/types.ts';
import type { DeleteResult, PoolApi } from '../../src/pools/api.ts';
import type { WarmPool } from '../../src/pools/members.ts';
import { statusError } from '../../../common/kube/errors.ts';
import type { EventSpec } from '../../../common/spawner/events.ts';

export class RecordingPoolApi implements PoolApi {
  readonly actions: string[] = [];
  readonly pods = new Map<string, V1Pod>(); // by name
  readonly events: Array<{ type: string; reason: string; message: string }> = [];
  pool: WarmPool | undefined;
  refuseCreates: { code: number; message: string } | undefined;
  private rv = 1000;
  private n = 0;

  async createMember(pod: V1Pod): Promise<V1Pod> {
    if (this.refuseCreates) {
      this.actions.push('create member (refused)');
      throw statusError(this.refuseCreates.code, 'Forbidden', this.refuseCreates.message);
    }
    const name = `${pod.metadata!.generateName}${(++this.n).toString(36).padStart(5, '0')}`;
    const created: V1Pod = { ...pod, metadata: { ...pod.metadata, name, generateName: undefined, uid: `uid-${name}`, resourceVersion: String(++this.rv), creationTimestamp: new Date() } };
    this.pods.set(name, created);
    this.actions.push(`create member ${name}`);
    return created;
  }

  async deleteMember(pod: V1Pod): Promise<DeleteResult> {
    const name = pod.metadata!.name!;
    const stored = this.pods.get(name);
    let result: DeleteResult;
    if (!stored || stored.metadata!.uid !== pod.metadata!.uid) result = 'gone';
    else if (stored.metadata!.resourceVersion !== pod.metadata!.resourceVersion) result = 'changed';
    else {
      this.pods.delete(name);
      result = 'deleted';
    }
    this.actions.push(`delete member ${name} (rv ${pod.metadata!.resourceVersion}): ${result}`);
    return result;
  }

  async claimMember(pod: V1Pod, patch: object): Promise<V1Pod> {
    const name = pod.metadata!.name!;
    const stored = this.pods.get(name);
    const meta = (patch as { metadata: { resourceVersion?: string; ownerReferences: V1Pod['metadata'] extends infer M ? any : never; labels: Record<string, string | null> } }).metadata;
    if (!stored) {
      this.actions.push(`claim ${name}: 404`);
      throw statusError(404, 'NotFound', `pods "${name}" not found`);
    }
    if (meta.resourceVersion !== stored.metadata!.resourceVersion) {
      this.actions.push(`claim ${name}: 409`);
      throw statusError(409, 'Conflict', 'Operation cannot be fulfilled on pods: the object has been modified');
    }
    const labels: Record<string, string> = { ...stored.metadata!.labels };
    for (const [k, v] of Object.entries(meta.labels)) {
      if (v === null) delete labels[k];
      else labels[k] = v;
    }
    const claimed: V1Pod = { ...stored, metadata: { ...stored.metadata, labels, ownerReferences: meta.ownerReferences, resourceVersion: String(++this.rv) } };
    this.pods.set(name, claimed);
    this.actions.push(`claim ${name}`);
    return claimed;
  }

  private nextPool(pool: WarmPool, change: Partial<WarmPool>): WarmPool {
    if (this.pool && this.pool.metadata.resourceVersion !== pool.metadata.resourceVersion) throw statusError(409, 'Conflict', 'the object has been modified');
    this.pool = { ...pool, ...change, metadata: { ...pool.metadata, ...change.metadata, resourceVersion: String(++this.rv) } };
    return this.pool;
  }

  async patchPoolStatus(pool: WarmPool, status: WarmPoolStatus): Promise<WarmPool> {
    this.actions.push(`patch pool status ready=${status.readyReplicas} starting=${status.startingReplicas} ${status.conditions?.find((c) => c.type === 'Ready')?.reason}`);
    return this.nextPool(pool, { status });
  }

  async patchPoolFinalizers(pool: WarmPool, finalizers: string[]): Promise<WarmPool> {
    this.actions.push(`patch pool finalizers [${finalizers.join(',')}]`);
    return this.nextPool(pool, { metadata: { ...pool.metadata, finalizers } });
  }

  async recordPoolEvent(_pool: WarmPool, event: EventSpec): Promise<void> {
    this.actions.push(`event ${event.type} ${event.reason}`);
    this.events.push(event);
  }
}
