import { describe, expect, test } from '@jest/globals';
import type { KubernetesObject, V1OwnerReference } from '@kubernetes/client-node';
import { controllerOwnerKey, isControlledBy, objectKey, splitKey } from './owners.ts';

const SLB = { kind: 'SessionLivedBackend', apiVersion: 'spawner.dev/v1' };

function pod(namespace: string | undefined, refs: Array<Partial<V1OwnerReference>> | undefined): KubernetesObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace, ownerReferences: refs as V1OwnerReference[] | undefined },
  };
}

const ref = (o: Partial<V1OwnerReference>): Partial<V1OwnerReference> => ({
  apiVersion: 'spawner.dev/v1',
  kind: 'SessionLivedBackend',
  name: 'web-1',
  uid: 'u1',
  controller: true,
  ...o,
});

describe('controllerOwnerKey', () => {
  test.each<[string, KubernetesObject, string | undefined]>([
    ['controller ref of the kind', pod('team-a', [ref({})]), 'team-a/web-1'],
    ['no owner references', pod('team-a', undefined), undefined],
    ['empty owner references', pod('team-a', []), undefined],
    ['owner but not controller', pod('team-a', [ref({ controller: false })]), undefined],
    ['controller flag missing', pod('team-a', [ref({ controller: undefined })]), undefined],
    ['controller of another kind', pod('team-a', [ref({ kind: 'ReplicaSet', apiVersion: 'apps/v1' })]), undefined],
    ['same kind name, other group', pod('team-a', [ref({ apiVersion: 'other.io/v1' })]), undefined],
    ['same group, other version', pod('team-a', [ref({ apiVersion: 'spawner.dev/v1beta1' })]), 'team-a/web-1'],
    [
      'non-controller ref first, controller second',
      pod('team-a', [ref({ controller: false, name: 'x' }), ref({ name: 'y' })]),
      'team-a/y',
    ],
    ['cluster-scoped object', pod(undefined, [ref({})]), 'web-1'],
    ['ref without name', pod('team-a', [ref({ name: '' })]), undefined],
  ])('%s', (_what, obj, want) => {
    expect(controllerOwnerKey(obj, SLB.kind, SLB.apiVersion)).toBe(want);
  });

  test('core-group owner matches only a core-group ref', () => {
    const svcOwned = pod('ns', [{ apiVersion: 'v1', kind: 'Service', name: 's', uid: 'u', controller: true }]);
    expect(controllerOwnerKey(svcOwned, 'Service', 'v1')).toBe('ns/s');
    expect(controllerOwnerKey(svcOwned, 'Service', 'example.com/v1')).toBeUndefined();
  });
});

describe('isControlledBy', () => {
  const owner = { metadata: { name: 'web-1', namespace: 'team-a', uid: 'u1' } };
  test.each<[string, KubernetesObject, boolean]>([
    ['same uid', pod('team-a', [ref({})]), true],
    ['owner re-created with a new uid', pod('team-a', [ref({ uid: 'u0' })]), false],
    ['not a controller ref', pod('team-a', [ref({ controller: false })]), false],
    ['no refs', pod('team-a', undefined), false],
  ])('%s', (_what, obj, want) => {
    expect(isControlledBy(obj, owner)).toBe(want);
  });
});

describe('keys', () => {
  test.each<[KubernetesObject, string]>([
    [{ metadata: { namespace: 'a', name: 'b' } }, 'a/b'],
    [{ metadata: { name: 'node-1' } }, 'node-1'],
  ])('objectKey %j', (obj, want) => {
    expect(objectKey(obj)).toBe(want);
  });
  test.each([
    ['a/b', { namespace: 'a', name: 'b' }],
    ['node-1', { namespace: '', name: 'node-1' }],
  ])('splitKey %s', (key, want) => {
    expect(splitKey(key)).toEqual(want);
  });
});
