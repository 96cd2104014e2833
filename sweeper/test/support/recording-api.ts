// A SweepApi that records every call and keeps a tiny store, so tests can assert the exact API actions
// of a sweep and make the API answer as the real one would: 422 when a JSON patch's `test` fails, 404
// for a missing object, 409 when a delete's uid precondition does not match.

import { statusError } from '../../../common/kube/errors.ts';
import type { CoreEvent } from '../../../common/spawner/events.ts';
import type { SessionLivedBackend } from '../../../common/spawner/types.ts';
import type { JsonPatchOp, SweepApi } from '../../src/sweep.ts';

export type RecordedCall =
  | { call: 'getSlb'; namespace: string; name: string; at: number }
  | { call: 'patchSlbStatus'; namespace: string; name: string; patch: JsonPatchOp[]; at: number }
  | { call: 'createEvent'; namespace: string; event: CoreEvent; at: number }
  | { call: 'deleteSlb'; namespace: string; name: string; uid: string; at: number };

type Fault = (call: RecordedCall) => Error | undefined;

export class RecordingApi implements SweepApi {
  calls: RecordedCall[] = [];
  store = new Map<string, SessionLivedBackend>();
  faults: Fault[] = [];
  #rv = 1000;
  onDelete?: (slb: SessionLivedBackend, at: number) => void;

  put(slb: SessionLivedBackend): SessionLivedBackend {
    const copy = structuredClone(slb);
    copy.metadata.resourceVersion = String(++this.#rv);
    this.store.set(`${copy.metadata.namespace}/${copy.metadata.name}`, copy);
    return copy;
  }

  callsOf<K extends RecordedCall['call']>(kind: K): Extract<RecordedCall, { call: K }>[] {
    return this.calls.filter((c): c is Extract<RecordedCall, { call: K }> => c.call === kind);
  }

  deleted(namespace: string, name: string): boolean {
    return this.callsOf('deleteSlb').some((c) => c.namespace === namespace && c.name === name);
  }

  #record(call: RecordedCall): void {
    this.calls.push(call);
    for (const fault of this.faults) {
      const err = fault(call);
      if (err) throw err;
    }
  }

  async getSlb(namespace: string, name: string): Promise<SessionLivedBackend | undefined> {
    this.#record({ call: 'getSlb', namespace, name, at: Date.now() });
    const slb = this.store.get(`${namespace}/${name}`);
    return slb && structuredClone(slb);
  }

  async patchSlbStatus(namespace: string, name: string, patch: JsonPatchOp[]): Promise<SessionLivedBackend> {
    this.#record({ call: 'patchSlbStatus', namespace, name, patch: structuredClone(patch), at: Date.now() });
    const slb = this.store.get(`${namespace}/${name}`);
    if (!slb) throw statusError(404, 'NotFound', 'not found');
    const next = structuredClone(slb) as unknown as Record<string, unknown>;
    for (const op of patch) {
      const segments = op.path.split('/').slice(1);
      const last = segments.pop()!;
      let parent: Record<string, unknown> = next;
      for (const s of segments) {
        const child = parent[s];
        if (typeof child !== 'object' || child === null) throw statusError(422, 'Invalid', `path ${op.path} does not exist`);
        parent = child as Record<string, unknown>;
      }
      if (op.op === 'test') {
        if (JSON.stringify(parent[last]) !== JSON.stringify(op.value)) throw statusError(422, 'Invalid', `test of ${op.path} failed`);
      } else {
        parent[last] = structuredClone(op.value);
      }
    }
    return this.put(next as unknown as SessionLivedBackend);
  }

  async createEvent(namespace: string, event: CoreEvent): Promise<void> {
    this.#record({ call: 'createEvent', namespace, event: structuredClone(event), at: Date.now() });
  }

  async deleteSlb(namespace: string, name: string, uid: string): Promise<void> {
    const at = Date.now();
    this.#record({ call: 'deleteSlb', namespace, name, uid, at });
    const slb = this.store.get(`${namespace}/${name}`);
    if (!slb) throw statusError(404, 'NotFound', 'not found');
    if (slb.metadata.uid !== uid) throw statusError(409, 'Conflict', 'Precondition failed: UID in precondition does not match');
    this.store.delete(`${namespace}/${name}`);
    this.onDelete?.(slb, at);
  }
}
