// WarmPools and their members as the integration suite reads and writes them (admin client).
import type { CoreV1Api, CustomObjectsApi, V1Pod } from '@kubernetes/client-node';
import { GROUP, LABEL_POOL, POOL_PLURAL, VERSION } from '../../../common/contract.ts';
import { statusOf } from '../../../e2e/harness/kube.ts';
import type { WarmPool } from '../../../schema/generated/types.ts';

export type Pool = WarmPool;

export function poolManifest(namespace: string, name: string, spec: Partial<Pool['spec']> = {}): Pool {
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'WarmPool',
    metadata: { name, namespace },
    spec: { template: { containers: [{ name: 'app', image: 'example.invalid/app:1' }] }, ...spec },
  };
}

const coords = (namespace: string) => ({ group: GROUP, version: VERSION, namespace, plural: POOL_PLURAL });

export async function createPool(custom: CustomObjectsApi, pool: Pool): Promise<Pool> {
  return (await custom.createNamespacedCustomObject({ ...coords(pool.metadata.namespace!), body: pool })) as Pool;
}

export async function getPool(custom: CustomObjectsApi, namespace: string, name: string): Promise<Pool | undefined> {
  try {
    return (await custom.getNamespacedCustomObject({ ...coords(namespace), name })) as Pool;
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw err;
  }
}

/** A JSON merge patch of the pool (spec changes, say). */
export async function patchPool(custom: CustomObjectsApi, namespace: string, name: string, patch: object): Promise<Pool> {
  const { setHeaderOptions, PatchStrategy } = await import('@kubernetes/client-node');
  return (await custom.patchNamespacedCustomObject({ ...coords(namespace), name, body: patch }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch))) as Pool;
}

/** The pool's unclaimed members: Pods still labelled with it. */
export async function listMembers(core: CoreV1Api, namespace: string, pool: string): Promise<V1Pod[]> {
  return (await core.listNamespacedPod({ namespace, labelSelector: `${LABEL_POOL}=${pool}` })).items;
}
