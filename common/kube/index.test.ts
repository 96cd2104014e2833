import { describe, expect, test } from '@jest/globals';
import type { KubernetesObject } from '@kubernetes/client-node';
import { controllerUid, InformerIndex, labelValue } from './index.ts';
import type { InformerHandler } from './informer.ts';

// An informer reduced to what the index listens to: the events.
function events() {
  let handler: InformerHandler<KubernetesObject> | undefined;
  return {
    informer: { onEvent: (h: InformerHandler<KubernetesObject>) => { handler = h; return () => undefined; } },
    send: (type: 'add' | 'update' | 'delete' | 'resync', obj: KubernetesObject) => handler!({ type, obj }),
  };
}

const pod = (name: string, labels: Record<string, string>, owner?: string): KubernetesObject => ({
  metadata: { name, namespace: 'ns', labels, ...(owner ? { ownerReferences: [{ apiVersion: 'v1', kind: 'X', name: 'o', uid: owner, controller: true }] } : {}) },
});
const names = (objs: KubernetesObject[]) => objs.map((o) => o.metadata!.name).sort();

describe('InformerIndex', () => {
  test('files objects under their values and follows updates and deletes', () => {
    const e = events();
    const index = new InformerIndex(e.informer, labelValue('pool'));
    e.send('add', pod('a', { pool: 'games' }));
    e.send('add', pod('b', { pool: 'games' }));
    e.send('add', pod('c', {}));
    expect(names(index.get('ns/games'))).toEqual(['a', 'b']);
    e.send('update', pod('a', { pool: 'chess' })); // moved
    e.send('update', pod('b', {})); // label removed (a claim)
    expect(names(index.get('ns/games'))).toEqual([]);
    expect(names(index.get('ns/chess'))).toEqual(['a']);
    e.send('delete', pod('a', {})); // the last state no longer carries the label: removed by key
    expect(index.get('ns/chess')).toEqual([]);
  });

  test('the latest object is returned, and a resync files it again', () => {
    const e = events();
    const index = new InformerIndex(e.informer, controllerUid);
    e.send('add', pod('a', { v: '1' }, 'u1'));
    e.send('resync', pod('a', { v: '2' }, 'u1'));
    expect(index.get('u1').map((o) => o.metadata!.labels!.v)).toEqual(['2']);
    expect(index.get('u2')).toEqual([]);
  });
});
