import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { createLogger } from '../../common/log.ts';
import { FakeApiServer } from '../../common/kube/testing/fake-apiserver.ts';
import { eventually } from '../../common/kube/testing/eventually.ts';
import type { RouteEntry } from '../src/decide.ts';
import { apiFreshReader, coalescing, DeadUids, informerRouteTable, type InformerRouteTable } from '../src/table.ts';

const log = createLogger('router-test', 'silent');

test('DeadUids remembers the newest uids up to its bound', () => {
  const dead = new DeadUids(3);
  for (const uid of ['a', 'b', 'c', 'd']) dead.add(uid);
  expect(['a', 'b', 'c', 'd'].map((u) => dead.has(u))).toEqual([false, true, true, true]);
  dead.add('');
  expect(dead.size).toBe(3);
});

describe('coalescing', () => {
  // A read that finishes when the test says, so the test controls what overlaps.
  function controlledReads() {
    const started: Array<{ name: string; finish: (e: RouteEntry | undefined) => void; fail: (err: Error) => void }> = [];
    const read = (name: string) =>
      new Promise<RouteEntry | undefined>((resolve, reject) => started.push({ name, finish: resolve, fail: reject }));
    return { started, read };
  }
  const ready = (name: string): RouteEntry => ({ name, uid: 'u', phase: 'Ready', deleting: false, podIP: '10.0.0.1', port: 80, public: false });
  const tick = () => new Promise((resolve) => setImmediate(resolve));

  test('requests that arrive during a read share the next read, never the one in flight', async () => {
    const { started, read } = controlledReads();
    const fresh = coalescing(read);
    const a = fresh('room');
    expect(started).toHaveLength(1);
    const b = fresh('room');
    const c = fresh('room');
    expect(started).toHaveLength(1); // b and c wait for a read that starts after they arrived
    started[0]!.finish(undefined);
    expect(await a).toBeUndefined();
    await tick();
    expect(started).toHaveLength(2);
    const d = fresh('room'); // arrives during the second read: gets a third
    started[1]!.finish(ready('room'));
    expect(await b).toEqual(ready('room'));
    expect(await c).toEqual(ready('room'));
    await tick();
    expect(started).toHaveLength(3);
    started[2]!.fail(new Error('API server unreachable'));
    await expect(d).rejects.toThrow('API server unreachable');
    await tick();
    // Nothing left in flight: the next request starts a read of its own at once.
    void fresh('room').catch(() => undefined);
    expect(started).toHaveLength(4);
  });

  test('different names do not wait for each other', () => {
    const { started, read } = controlledReads();
    const fresh = coalescing(read);
    void fresh('a');
    void fresh('b');
    expect(started.map((s) => s.name)).toEqual(['a', 'b']);
  });
});

describe('against a (fake) API server', () => {
  const resource = { prefix: '/apis/spawner.dev/v1', plural: 'sessionlivedbackends' };
  const NS = 'spawner-backends';
  let api: FakeApiServer;
  let table: InformerRouteTable;

  // The fake numbers uids; the real API server gives UUIDs, which tokens carry.
  function put(name: string, status: Record<string, unknown>, uid = randomUUID(), spec: Record<string, unknown> = { httpPort: 3000 }) {
    const obj = { apiVersion: 'spawner.dev/v1', kind: 'SessionLivedBackend', metadata: { name, namespace: NS }, spec, status };
    if (!api.getObject(resource, NS, name)) api.create(resource, obj);
    api.update(resource, { ...obj, metadata: { ...obj.metadata, uid } });
    return uid;
  }

  beforeEach(async () => {
    api = new FakeApiServer([resource]);
    await api.start();
    table = informerRouteTable({ kubeAccess: api.kubeConfig(), namespace: NS, sidecarByDefault: false, log });
  });
  afterEach(async () => {
    table.stop();
    await api.close();
  });

  test('the table follows the namespace: entries, phases, and the uids of deleted or re-created backends', async () => {
    const first = put('room', { phase: 'Pending' });
    await table.start();
    expect(table.synced()).toBe(true);
    expect(table.get('room')).toMatchObject({ uid: first, phase: 'Pending', port: 3000 });

    put('room', { phase: 'Ready', podIP: '10.0.0.9' }, first);
    await eventually(() => table.get('room')?.phase === 'Ready', 'room to be Ready in the table');
    expect(table.get('room')).toMatchObject({ phase: 'Ready', podIP: '10.0.0.9' });

    api.remove(resource, NS, 'room');
    await eventually(() => table.get('room') === undefined, 'room to leave the table');
    expect(table.isDead(first)).toBe(true);

    const second = put('room', { phase: 'Ready', podIP: '10.0.0.10' });
    await eventually(() => table.get('room')?.uid === second, 'the re-created room in the table');
    expect(table.isDead(second)).toBe(false);
  });

  test('backends of other namespaces are not seen', async () => {
    api.create(resource, { apiVersion: 'spawner.dev/v1', kind: 'SessionLivedBackend', metadata: { name: 'elsewhere', namespace: 'default' } } as never);
    await table.start();
    expect(table.get('elsewhere')).toBeUndefined();
  });

  test('a fresh read: the backend as it is now, undefined when it does not exist, an error when the API server cannot say', async () => {
    const fresh = apiFreshReader({ kubeAccess: api.kubeConfig(), namespace: NS, sidecarByDefault: true, timeoutMs: 2000 });
    const uid = put('room', { phase: 'Ready', podIP: '10.0.0.9' }, undefined, {});
    expect(await fresh('room')).toMatchObject({ uid, phase: 'Ready', podIP: '10.0.0.9', port: 9090 });
    expect(await fresh('nobody')).toBeUndefined();
    api.faults.push(() => ({ status: 500, body: { kind: 'Status', message: 'etcd is sad' } }));
    await expect(fresh('room')).rejects.toThrow(/500/);
  });
});
