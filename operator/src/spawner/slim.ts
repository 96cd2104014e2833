// What the operator keeps of each backend, Pod and (old backends') Service it watches: only the fields its decisions read
// (status.ts, reconcile.ts, events), built afresh. A full kwok or kubelet Pod is several kilobytes of JSON
// and many times that as objects; the operator holds one backend and one Pod per backend, so at thousands
// of backends this is most of its memory (bench/operator --heap-snapshot shows where it goes).
//
// Values that repeat from object to object (kinds, condition types and reasons, node and container names,
// images) are interned: JSON.parse gives each occurrence its own string.
import type { V1ContainerState, V1ContainerStatus, V1ObjectMeta, V1OwnerReference, V1Pod, V1PodCondition, V1Service } from '@kubernetes/client-node';
import { StringPool } from '../../../common/kube/intern.ts';
import { ACTIVITY_SOURCE_ANNOTATION } from '../../../common/spawner/activity.ts';
import type { Condition, SessionLivedBackend, SessionLivedBackendStatus } from '../../../common/spawner/types.ts';

const pool = new StringPool();
const i = <S extends string | undefined>(s: S): S => pool.intern(s);

function slimLabels(labels: Record<string, string> | undefined): Record<string, string> | undefined {
  if (!labels) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) out[i(k)] = i(v);
  return out;
}

function slimOwnerReference(r: V1OwnerReference): V1OwnerReference {
  const out: V1OwnerReference = { apiVersion: i(r.apiVersion), kind: i(r.kind), name: r.name, uid: r.uid };
  if (r.controller !== undefined) out.controller = r.controller;
  return out;
}

function slimMeta(m: V1ObjectMeta | undefined): V1ObjectMeta {
  const out: V1ObjectMeta = { name: m?.name, namespace: i(m?.namespace), uid: m?.uid, resourceVersion: m?.resourceVersion };
  if (m?.labels) out.labels = slimLabels(m.labels);
  // Of the annotations, only the Pod's record of its activity source is read (common/spawner/activity.ts).
  const source = m?.annotations?.[ACTIVITY_SOURCE_ANNOTATION];
  if (source !== undefined) out.annotations = { [ACTIVITY_SOURCE_ANNOTATION]: i(source) };
  if (m?.ownerReferences) out.ownerReferences = m.ownerReferences.map(slimOwnerReference);
  if (m?.deletionTimestamp) out.deletionTimestamp = m.deletionTimestamp;
  // When the Pod was created: a slow start's progress is reported from then (status.ts); a pool member's
  // age (its startup timeout, and which members a claim or a scale-down takes first).
  if (m?.creationTimestamp) out.creationTimestamp = m.creationTimestamp;
  return out;
}

// Whether a container runs, waits (and why) or ended (and how): not since when.
function slimState(s: V1ContainerState | undefined): V1ContainerState | undefined {
  if (!s) return undefined;
  if (s.terminated) return { terminated: { exitCode: s.terminated.exitCode, reason: i(s.terminated.reason), message: s.terminated.message } };
  if (s.waiting) return { waiting: { reason: i(s.waiting.reason), message: s.waiting.message } };
  if (s.running) return { running: {} };
  return {};
}

function slimContainerStatus(cs: V1ContainerStatus): V1ContainerStatus {
  const out = { name: i(cs.name), ready: cs.ready, restartCount: cs.restartCount } as V1ContainerStatus;
  if (cs.state) out.state = slimState(cs.state);
  if (cs.lastState?.terminated) out.lastState = slimState({ terminated: cs.lastState.terminated });
  return out;
}

// Of a Pod's conditions the operator reads Ready (is it?) and PodScheduled (why not yet?).
const POD_CONDITIONS_READ = new Set(['Ready', 'PodScheduled']);

function slimPodCondition(c: V1PodCondition): V1PodCondition {
  const out: V1PodCondition = { type: i(c.type), status: i(c.status) };
  if (c.reason) out.reason = i(c.reason);
  if (c.message) out.message = i(c.message);
  return out;
}

export function slimPod(pod: V1Pod): V1Pod {
  const spec = pod.spec;
  const status = pod.status;
  const out: V1Pod = {
    metadata: slimMeta(pod.metadata),
    // The first container is the app: its name tells the app's exit from the sidecar's.
    spec: { containers: (spec?.containers ?? []).map((c) => ({ name: i(c.name) })), ...(spec?.nodeName ? { nodeName: i(spec.nodeName) } : {}) },
  };
  if (status) {
    out.status = {};
    if (status.phase) out.status.phase = i(status.phase);
    if (status.reason) out.status.reason = i(status.reason);
    if (status.message) out.status.message = status.message;
    if (status.podIP) out.status.podIP = status.podIP;
    if (status.conditions) out.status.conditions = status.conditions.filter((c) => POD_CONDITIONS_READ.has(c.type)).map(slimPodCondition);
    if (status.containerStatuses) out.status.containerStatuses = status.containerStatuses.map(slimContainerStatus);
  }
  return out;
}

export function slimService(service: V1Service): V1Service {
  return { metadata: slimMeta(service.metadata) };
}

function slimBackendCondition(c: Condition): Condition {
  const out: Condition = { type: i(c.type), status: i(c.status), reason: i(c.reason), message: i(c.message), lastTransitionTime: c.lastTransitionTime };
  if (c.observedGeneration !== undefined) out.observedGeneration = c.observedGeneration;
  return out;
}

function slimBackendStatus(s: SessionLivedBackendStatus): SessionLivedBackendStatus {
  // Every field is the operator's to state again (computeStatus carries the others' conditions over), so
  // all are kept; the repeating ones are interned.
  const out: SessionLivedBackendStatus = { ...s };
  if (s.phase) out.phase = i(s.phase);
  if (s.nodeName) out.nodeName = i(s.nodeName);
  if (s.reason) out.reason = i(s.reason);
  if (s.message) out.message = i(s.message);
  if (s.conditions) out.conditions = s.conditions.map(slimBackendCondition);
  return out;
}

// The backend as the operator reads it: what names and orders it (apiVersion and kind for Events), its
// finalizers and deletion, its whole spec (the Pod is built from it) and status; not its labels,
// annotations (a `kubectl apply` keeps the whole object there once more) or managedFields.
export function slimBackend(slb: SessionLivedBackend): SessionLivedBackend {
  const m = slb.metadata;
  const metadata: SessionLivedBackend['metadata'] = { name: m.name, namespace: i(m.namespace), uid: m.uid, resourceVersion: m.resourceVersion };
  if (m.generation !== undefined) metadata.generation = m.generation;
  if (m.creationTimestamp) metadata.creationTimestamp = m.creationTimestamp;
  if (m.deletionTimestamp) metadata.deletionTimestamp = m.deletionTimestamp;
  if (m.finalizers) metadata.finalizers = m.finalizers.map(i);
  const out: SessionLivedBackend = { apiVersion: i(slb.apiVersion), kind: i(slb.kind), metadata, spec: slb.spec };
  for (const c of slb.spec?.template?.containers ?? []) {
    c.name = i(c.name);
    c.image = i(c.image);
  }
  if (slb.status) out.status = slimBackendStatus(slb.status);
  return out;
}
