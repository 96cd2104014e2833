import type { KubernetesObject, V1OwnerReference } from '@kubernetes/client-node';

// `namespace/name` for namespaced objects, `name` for cluster-scoped ones (as client-go's MetaNamespaceKeyFunc).
export function objectKey(obj: KubernetesObject): string {
  return joinKey(obj.metadata?.namespace, obj.metadata?.name ?? '');
}

// The key of `name` in `namespace` ('' for cluster-scoped), the inverse of splitKey.
export function joinKey(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

export function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { namespace: '', name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

// The ownerReference with controller=true, if any. Kubernetes allows at most one.
export function controllerRef<R extends { controller?: boolean } = V1OwnerReference>(obj: { metadata?: { ownerReferences?: R[] } }): R | undefined {
  return obj.metadata?.ownerReferences?.find((r) => r.controller === true);
}

// Maps an owned object (Pod, Service) to its controller owner's key, when that owner is of the given kind.
// Owner references never cross namespaces, so the owner lives in the object's own namespace. The API
// group must match; the version need not (an owner written as v1beta1 is the same object as v1).
export function controllerOwnerKey(
  obj: KubernetesObject,
  ownerKind: string,
  ownerApiVersion: string,
): string | undefined {
  const ref = controllerRef(obj);
  if (!ref || ref.kind !== ownerKind || !ref.name) return undefined;
  if (apiGroup(ref.apiVersion) !== apiGroup(ownerApiVersion)) return undefined;
  return joinKey(obj.metadata?.namespace, ref.name);
}

// Whether `obj` is controlled by exactly this owner (by UID, so a re-created owner of the same name does
// not inherit the previous one's children).
export function isControlledBy(obj: KubernetesObject, owner: KubernetesObject): boolean {
  const ref = controllerRef(obj);
  return ref !== undefined && ref.uid !== undefined && ref.uid === owner.metadata?.uid;
}

function apiGroup(apiVersion: string): string {
  const i = apiVersion.indexOf('/');
  return i < 0 ? '' : apiVersion.slice(0, i);
}
