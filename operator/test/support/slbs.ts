// SessionLivedBackends, Pods and Services as the integration suite reads and writes them (admin client).
import type { CoreV1Api, CustomObjectsApi, V1Pod, V1Service } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from '../../../common/contract.ts';
import { statusOf } from '../../../e2e/harness/kube.ts';
import type { SessionLivedBackend } from '../../../common/spawner/types.ts';

export type Slb = SessionLivedBackend;

export interface SlbOptions {
  spec?: Partial<Slb['spec']>;
  /** Keeps the Pod from ever being scheduled (no node has this label), so the SLB stays Pending. */
  unschedulable?: boolean;
}

export function slbManifest(namespace: string, name: string, o: SlbOptions = {}): Slb {
  const template: Slb['spec']['template'] = { containers: [{ name: 'app', image: 'example.invalid/app:1' }] };
  if (o.unschedulable) template.nodeSelector = { 'spawner.test/no-such-node': 'true' };
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: 'SessionLivedBackend',
    metadata: { name, namespace },
    spec: { template, ...o.spec },
  };
}

const coords = (namespace: string) => ({ group: GROUP, version: VERSION, namespace, plural: PLURAL });

export async function createSlb(custom: CustomObjectsApi, slb: Slb): Promise<Slb> {
  return (await custom.createNamespacedCustomObject({ ...coords(slb.metadata.namespace!), body: slb })) as Slb;
}

export async function getSlb(custom: CustomObjectsApi, namespace: string, name: string): Promise<Slb | undefined> {
  try {
    return (await custom.getNamespacedCustomObject({ ...coords(namespace), name })) as Slb;
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw err;
  }
}

export async function listSlbs(custom: CustomObjectsApi, namespace: string): Promise<Slb[]> {
  return ((await custom.listNamespacedCustomObject({ ...coords(namespace) })) as { items: Slb[] }).items;
}

export async function deleteSlb(custom: CustomObjectsApi, namespace: string, name: string): Promise<void> {
  try {
    await custom.deleteNamespacedCustomObject({ ...coords(namespace), name });
  } catch (err) {
    if (statusOf(err) !== 404) throw err;
  }
}

export async function getPod(core: CoreV1Api, namespace: string, name: string): Promise<V1Pod | undefined> {
  try {
    return await core.readNamespacedPod({ namespace, name });
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw err;
  }
}

export async function getService(core: CoreV1Api, namespace: string, name: string): Promise<V1Service | undefined> {
  try {
    return await core.readNamespacedService({ namespace, name });
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw err;
  }
}

/** A compact description of an SLB for wait messages. */
export function describeSlb(slb: Slb | undefined): string {
  if (!slb) return 'absent';
  const s = slb.status;
  return `phase=${s?.phase ?? '-'} reason=${s?.reason ?? '-'} deleting=${!!slb.metadata.deletionTimestamp} finalizers=${JSON.stringify(slb.metadata.finalizers ?? [])}`;
}
