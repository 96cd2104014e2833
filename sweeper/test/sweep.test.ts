import { describe, expect, test } from '@jest/globals';
import { createLogger } from '../../common/log.ts';
import { statusError } from '../../common/kube/errors.ts';
import { sweepBackend, type SweepContext } from '../src/sweep.ts';
import { RecordingApi } from './support/recording-api.ts';
import { makeSlb, NODE } from './support/slbs.ts';

const log = createLogger('sweeper-test', 'silent');
const NOW = Date.parse('2025-03-04T05:06:07.890Z');
const ctx = (over: Partial<SweepContext> = {}): SweepContext => ({ nodeName: NODE, now: () => NOW, log, stillDue: () => true, ...over });
const request = { reason: 'Idle' as const, message: 'no connection for 300s (gracePeriodSeconds 300)' };

function setup() {
  const api = new RecordingApi();
  const slb = api.put(makeSlb({ name: 'web-1', namespace: 'team', uid: 'uid-1' }));
  return { api, slb };
}

describe('sweepBackend: the API actions of a sweep', () => {
  test('status patch with the Swept condition, then the Event alongside the delete with a uid precondition', async () => {
    const { api, slb } = setup();
    const outcome = await sweepBackend(api, slb, request, ctx());
    expect(outcome).toBe('deleted');
    expect(api.calls.map((c) => c.call)).toEqual(['patchSlbStatus', 'createEvent', 'deleteSlb']);

    const [patch] = api.callsOf('patchSlbStatus');
    expect(patch).toMatchObject({ namespace: 'team', name: 'web-1' });
    expect(patch!.patch[0]).toEqual({ op: 'test', path: '/metadata/resourceVersion', value: slb.metadata.resourceVersion });
    expect(patch!.patch[1]).toEqual({
      op: 'add',
      path: '/status/conditions',
      value: [
        ...slb.status!.conditions!, // the operator's conditions are kept as they were
        {
          type: 'Swept',
          status: 'True',
          reason: 'Idle',
          message: 'no connection for 300s (gracePeriodSeconds 300)',
          lastTransitionTime: '2025-03-04T05:06:07Z',
          observedGeneration: 1,
        },
      ],
    });

    const [event] = api.callsOf('createEvent');
    expect(event!.namespace).toBe('team');
    expect(event!.event).toEqual({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { generateName: 'web-1.', namespace: 'team' },
      involvedObject: {
        apiVersion: 'spawner.dev/v1',
        kind: 'SessionLivedBackend',
        name: 'web-1',
        namespace: 'team',
        uid: 'uid-1',
        resourceVersion: slb.metadata.resourceVersion,
      },
      reason: 'Idle',
      message: 'no connection for 300s (gracePeriodSeconds 300)',
      type: 'Normal',
      source: { component: 'spawner-sweeper', host: NODE },
      reportingComponent: 'spawner-sweeper',
      reportingInstance: NODE,
      firstTimestamp: '2025-03-04T05:06:07Z',
      lastTimestamp: '2025-03-04T05:06:07Z',
      count: 1,
    });

    expect(api.callsOf('deleteSlb')).toEqual([expect.objectContaining({ namespace: 'team', name: 'web-1', uid: 'uid-1' })]);
    expect(api.store.size).toBe(0);
  });

  test('an existing Swept condition is replaced in place, not duplicated', async () => {
    const api = new RecordingApi();
    const base = makeSlb({ name: 'web-1', namespace: 'team', uid: 'uid-1' });
    base.status!.conditions!.splice(1, 0, { type: 'Swept', status: 'False', reason: 'Active', message: '', lastTransitionTime: '2025-01-01T00:00:00Z' });
    const slb = api.put(base);
    await sweepBackend(api, slb, { reason: 'MaxLifetime', message: 'lived 60s' }, ctx());
    const conditions = api.callsOf('patchSlbStatus')[0]!.patch[1]!.value as { type: string; reason: string }[];
    expect(conditions.map((c) => `${c.type}:${c.reason}`)).toEqual(['Scheduled:Scheduled', 'Swept:MaxLifetime', 'Ready:PodReady']);
  });

  test('the operator wrote in between: the patch test fails (422), a fresh read is patched instead', async () => {
    const { api, slb } = setup();
    const newer = structuredClone(api.store.get('team/web-1')!);
    newer.status!.conditions!.push({ type: 'Extra', status: 'True', reason: 'Operator', message: '', lastTransitionTime: '2025-01-01T00:00:00Z' });
    const stored = api.put(newer); // bumps the resourceVersion behind the sweeper's back
    const outcome = await sweepBackend(api, slb, request, ctx());
    expect(outcome).toBe('deleted');
    expect(api.calls.map((c) => c.call)).toEqual(['patchSlbStatus', 'getSlb', 'patchSlbStatus', 'createEvent', 'deleteSlb']);
    const retried = api.callsOf('patchSlbStatus')[1]!.patch;
    expect(retried[0]).toEqual({ op: 'test', path: '/metadata/resourceVersion', value: stored.metadata.resourceVersion });
    expect((retried[1]!.value as { type: string }[]).map((c) => c.type)).toEqual(['Scheduled', 'Ready', 'Extra', 'Swept']);
  });

  test('409 on the patch is retried the same way', async () => {
    const { api, slb } = setup();
    let conflicts = 1;
    api.faults.push((c) => (c.call === 'patchSlbStatus' && conflicts-- > 0 ? statusError(409, 'Conflict', 'the object has been modified') : undefined));
    expect(await sweepBackend(api, slb, request, ctx())).toBe('deleted');
    expect(api.calls.map((c) => c.call)).toEqual(['patchSlbStatus', 'getSlb', 'patchSlbStatus', 'createEvent', 'deleteSlb']);
  });

  test('endless conflicts give up with an error and delete nothing', async () => {
    const { api, slb } = setup();
    api.faults.push((c) => (c.call === 'patchSlbStatus' ? statusError(409, 'Conflict', 'the object has been modified') : undefined));
    await expect(sweepBackend(api, slb, request, ctx())).rejects.toThrow('the object has been modified');
    expect(api.callsOf('deleteSlb')).toEqual([]);
    expect(api.callsOf('patchSlbStatus')).toHaveLength(5);
  });

  test('gone before the patch (404): nothing else is done', async () => {
    const { api, slb } = setup();
    api.store.clear();
    expect(await sweepBackend(api, slb, request, ctx())).toBe('gone');
    expect(api.calls.map((c) => c.call)).toEqual(['patchSlbStatus']);
  });

  test('re-created under the same name (new uid): never patched further, never deleted', async () => {
    const { api, slb } = setup();
    api.put(makeSlb({ name: 'web-1', namespace: 'team', uid: 'uid-2' }));
    expect(await sweepBackend(api, slb, request, ctx())).toBe('replaced');
    expect(api.calls.map((c) => c.call)).toEqual(['patchSlbStatus', 'getSlb']);
  });

  test('moved to another node meanwhile: left alone', async () => {
    const { api, slb } = setup();
    api.put(makeSlb({ name: 'web-1', namespace: 'team', uid: 'uid-1', nodeName: 'node-b' }));
    expect(await sweepBackend(api, slb, request, ctx())).toBe('moved');
    expect(api.callsOf('deleteSlb')).toEqual([]);
  });

  test('an SLB from another node is never touched at all', async () => {
    const api = new RecordingApi();
    const slb = api.put(makeSlb({ name: 'web-1', namespace: 'team', uid: 'uid-1', nodeName: 'node-b' }));
    expect(await sweepBackend(api, slb, request, ctx())).toBe('moved');
    expect(api.calls).toEqual([]);
  });

  test('an SLB without a uid is never touched (no safe delete)', async () => {
    const api = new RecordingApi();
    const slb = api.put(makeSlb({ name: 'web-1', namespace: 'team', uid: '' }));
    expect(await sweepBackend(api, slb, request, ctx())).toBe('replaced');
    expect(api.calls).toEqual([]);
  });

  test('the Event failing does not keep the backend alive', async () => {
    const { api, slb } = setup();
    api.faults.push((c) => (c.call === 'createEvent' ? statusError(403, 'Forbidden', 'events is forbidden') : undefined));
    expect(await sweepBackend(api, slb, request, ctx())).toBe('deleted');
    expect(api.calls.map((c) => c.call)).toEqual(['patchSlbStatus', 'createEvent', 'deleteSlb']);
  });

  test('delete precondition fails (409): replaced; delete 404: gone', async () => {
    const a = setup();
    a.api.faults.push((c) => (c.call === 'deleteSlb' ? statusError(409, 'Conflict', 'Precondition failed: UID in precondition') : undefined));
    expect(await sweepBackend(a.api, a.slb, request, ctx())).toBe('replaced');
    const b = setup();
    b.api.faults.push((c) => (c.call === 'deleteSlb' ? statusError(404, 'NotFound', 'not found') : undefined));
    expect(await sweepBackend(b.api, b.slb, request, ctx())).toBe('gone');
  });

  test('a delete failing otherwise is an error for the caller to retry', async () => {
    const { api, slb } = setup();
    api.faults.push((c) => (c.call === 'deleteSlb' ? statusError(503, 'ServiceUnavailable', 'unavailable') : undefined));
    await expect(sweepBackend(api, slb, request, ctx())).rejects.toThrow('unavailable');
  });

  test('activity resumed before the delete: the condition is withdrawn and nothing is deleted', async () => {
    const { api, slb } = setup();
    expect(await sweepBackend(api, slb, request, ctx({ stillDue: () => false }))).toBe('cancelled');
    // No Event either: nothing was swept.
    expect(api.calls.map((c) => c.call)).toEqual(['patchSlbStatus', 'patchSlbStatus']);
    const swept = api.store.get('team/web-1')!.status!.conditions!.find((c) => c.type === 'Swept');
    expect(swept).toMatchObject({ status: 'False', reason: 'Active' });
    expect(api.callsOf('deleteSlb')).toEqual([]);
  });
});
