// What the operator keeps of each Pod and Service it watches: only the fields its decisions read
// (status.ts, reconcile.ts). A full kwok or kubelet Pod is several kilobytes of JSON and many times that
// as objects; the operator holds one per backend, so at thousands of backends this is most of its memory.
import type { V1ContainerStatus, V1ObjectMeta, V1Pod, V1PodCondition, V1Service } from '@kubernetes/client-node';

function slimMeta(m: V1ObjectMeta | undefined): V1ObjectMeta {
  const out: V1ObjectMeta = { name: m?.name, namespace: m?.namespace, uid: m?.uid, resourceVersion: m?.resourceVersion };
  if (m?.labels) out.labels = m.labels;
  if (m?.ownerReferences) out.ownerReferences = m.ownerReferences;
  if (m?.deletionTimestamp) out.deletionTimestamp = m.deletionTimestamp;
  // When the Pod was created: a slow start's progress is reported from then (status.ts).
  if (m?.creationTimestamp) out.creationTimestamp = m.creationTimestamp;
  return out;
}

function slimContainerStatus(cs: V1ContainerStatus): V1ContainerStatus {
  const out = { name: cs.name, ready: cs.ready, restartCount: cs.restartCount } as V1ContainerStatus;
  if (cs.state) out.state = cs.state;
  if (cs.lastState?.terminated) out.lastState = { terminated: cs.lastState.terminated };
  return out;
}

function slimCondition(c: V1PodCondition): V1PodCondition {
  const out: V1PodCondition = { type: c.type, status: c.status };
  if (c.reason) out.reason = c.reason;
  if (c.message) out.message = c.message;
  return out;
}

export function slimPod(pod: V1Pod): V1Pod {
  const spec = pod.spec;
  const status = pod.status;
  const out: V1Pod = {
    metadata: slimMeta(pod.metadata),
    // The first container is the app: its name tells the app's exit from the sidecar's.
    spec: { containers: (spec?.containers ?? []).map((c) => ({ name: c.name })), ...(spec?.nodeName ? { nodeName: spec.nodeName } : {}) },
  };
  if (status) {
    out.status = {};
    if (status.phase) out.status.phase = status.phase;
    if (status.reason) out.status.reason = status.reason;
    if (status.message) out.status.message = status.message;
    if (status.podIP) out.status.podIP = status.podIP;
    if (status.conditions) out.status.conditions = status.conditions.map(slimCondition);
    if (status.containerStatuses) out.status.containerStatuses = status.containerStatuses.map(slimContainerStatus);
  }
  return out;
}

export function slimService(service: V1Service): V1Service {
  return { metadata: slimMeta(service.metadata) };
}
