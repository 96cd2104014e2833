// What the Pod of a backend should look like: a pure function of the SLB and the operator's config. A
// backend has no Service (decision B): the route service sends its traffic to status.podIP:podPort.
import type { V1Container, V1EnvVar, V1ObjectMeta, V1OwnerReference, V1Pod, V1PodSpec } from '@kubernetes/client-node';
import {
  API_VERSION, KIND, LABEL_BACKEND, LABEL_MANAGED_BY, MANAGED_BY,
  SIDECAR_ADMIN_PORT, SIDECAR_CONTAINER, SIDECAR_PROXY_PORT,
} from '../../../common/contract.ts';
import {
  ACTIVITY_SOURCE_ANNOTATION, BUILT_IN_ACTIVITY_SOURCE, chooseActivitySource, ROUTABLE_WHEN_LISTENING_ANNOTATION, type ActivitySource,
} from '../../../common/spawner/activity.ts';
import { effectiveSpec } from '../../../common/spawner/spec.ts';
import type { SessionLivedBackend } from '../../../common/spawner/types.ts';
import type { SpawnerConfig } from './types.ts';

export function ownerReference(slb: SessionLivedBackend): V1OwnerReference {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: slb.metadata.name!,
    uid: slb.metadata.uid!,
    controller: true,
    blockOwnerDeletion: true,
  };
}

export function childLabels(slb: SessionLivedBackend): Record<string, string> {
  return { [LABEL_BACKEND]: slb.metadata.name!, [LABEL_MANAGED_BY]: MANAGED_BY };
}

// Every child is named after its backend, labelled for the informers and the sweeper, and controlled by it.
function childMetadata(slb: SessionLivedBackend): V1ObjectMeta {
  return { name: slb.metadata.name!, namespace: slb.metadata.namespace!, labels: childLabels(slb), ownerReferences: [ownerReference(slb)] };
}

function withEnv(env: V1EnvVar[] | undefined, extra: V1EnvVar[]): V1EnvVar[] {
  const names = new Set(extra.map((e) => e.name));
  return [...(env ?? []).filter((e) => !names.has(e.name)), ...extra];
}

// Backends run under Pod Security `restricted` (the backends' namespace enforces it): what that profile
// requires and the template leaves unset is filled in, so a plain template (an image and a port) is
// admitted. Values the template sets are kept; a template that breaks the profile is refused by the API
// server with a message naming the field, which the backend's status then carries.
function restrictedDefaults(c: V1Container): V1Container {
  const sc = { ...c.securityContext };
  sc.allowPrivilegeEscalation ??= false;
  sc.capabilities ??= { drop: ['ALL'] };
  return { ...c, securityContext: sc };
}

function restrictedPodDefaults(spec: V1PodSpec): V1PodSpec {
  const sc = { ...spec.securityContext };
  sc.runAsNonRoot ??= true;
  sc.seccompProfile ??= { type: 'RuntimeDefault' };
  return {
    ...spec,
    securityContext: sc,
    containers: spec.containers.map(restrictedDefaults),
    ...(spec.initContainers ? { initContainers: spec.initContainers.map(restrictedDefaults) } : {}),
  };
}

function sidecarContainer(slb: SessionLivedBackend, config: Pick<SpawnerConfig, 'sidecarImage'>, httpPort: number): V1Container {
  return {
    name: SIDECAR_CONTAINER,
    image: config.sidecarImage,
    imagePullPolicy: 'IfNotPresent',
    args: [`--upstream-port=${httpPort}`, `--proxy-port=${SIDECAR_PROXY_PORT}`, `--admin-port=${SIDECAR_ADMIN_PORT}`],
    env: [
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      { name: 'BACKEND_NAME', value: slb.metadata.name! },
    ],
    ports: [
      { name: 'proxy', containerPort: SIDECAR_PROXY_PORT, protocol: 'TCP' },
      { name: 'admin', containerPort: SIDECAR_ADMIN_PORT, protocol: 'TCP' },
    ],
    // Probed every second: a session waits on this, and the check is one local TCP connect.
    readinessProbe: { httpGet: { path: '/readyz', port: SIDECAR_ADMIN_PORT }, periodSeconds: 1, failureThreshold: 1, timeoutSeconds: 1 },
    livenessProbe: { httpGet: { path: '/healthz', port: SIDECAR_ADMIN_PORT }, periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 2 },
    resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '256Mi' } },
    securityContext: {
      runAsNonRoot: true,
      runAsUser: 65532,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    },
  };
}

// Without a sidecar nothing else tells Kubernetes the app listens. A startup probe every second makes a
// new backend Ready within about a second of listening (when it succeeds the kubelet runs the readiness
// probe at once); after that a readiness probe every 10 s is enough, and each probe is a connection the
// node observer has to tell apart from a user's (sweeper/README.md), so they are kept rare.
export const STARTUP_PROBE_PERIOD_SECONDS = 1;
export const READINESS_PROBE_PERIOD_SECONDS = 10;

function withListeningProbes(app: V1Container, httpPort: number, startupTimeoutSeconds: number): V1Container {
  if (app.readinessProbe) return app; // the user's probe decides
  return {
    ...app,
    // Fails for good only after the start-up timeout, which the operator reports first (StartupTimeout).
    startupProbe: app.startupProbe ?? { tcpSocket: { port: httpPort }, periodSeconds: STARTUP_PROBE_PERIOD_SECONDS, failureThreshold: startupTimeoutSeconds + 10 },
    readinessProbe: { tcpSocket: { port: httpPort }, periodSeconds: READINESS_PROBE_PERIOD_SECONDS, failureThreshold: 1 },
  };
}

// Whether the Pod's Ready waits for nothing but the operator's own TCP probes of the app's port: no
// sidecar (it listens before the app does), and no container of the template brings a readiness or
// startup probe (the user's probe defines readiness). Then the route service may route the backend once
// that port accepts a connection, a probe tick before the kubelet would say Ready.
export function readyWhenListening(source: ActivitySource, templateContainers: readonly V1Container[]): boolean {
  return source !== 'Sidecar' && templateContainers.every((c) => !c.readinessProbe && !c.startupProbe);
}

export function activitySourceFor(slb: SessionLivedBackend, config: Pick<SpawnerConfig, 'activitySource'>): ActivitySource {
  return chooseActivitySource(slb, config.activitySource ?? BUILT_IN_ACTIVITY_SOURCE);
}

export function desiredPod(slb: SessionLivedBackend, config: Pick<SpawnerConfig, 'sidecarImage' | 'activitySource'>): V1Pod {
  const spec = effectiveSpec(slb);
  const template = slb.spec.template;
  // A backend with spec.poolRef has no template of its own: it is built from its pool's (operator/src/pools).
  if (!template) throw new Error(`backend ${slb.metadata.namespace}/${slb.metadata.name} has no spec.template to build a Pod from`);
  const source = activitySourceFor(slb, config);
  const [app, ...others] = template.containers;
  let appContainer: V1Container = {
    ...app!,
    env: withEnv(app!.env, [{ name: 'PORT', value: String(spec.httpPort) }]),
  };
  if (source !== 'Sidecar') appContainer = withListeningProbes(appContainer, spec.httpPort, spec.startupTimeoutSeconds);
  const containers = [appContainer, ...others];
  if (source === 'Sidecar') containers.push(sidecarContainer(slb, config, spec.httpPort));
  const metadata = childMetadata(slb);
  // How its connections are counted, fixed now: the operator copies it to status.activitySource.
  metadata.annotations = { [ACTIVITY_SOURCE_ANNOTATION]: source };
  if (readyWhenListening(source, template.containers)) metadata.annotations[ROUTABLE_WHEN_LISTENING_ANNOTATION] = String(spec.httpPort);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata,
    spec: restrictedPodDefaults({
      // A session's state lives in memory: a restarted container would be a different session.
      restartPolicy: 'Never',
      // Backends talk to their users, not to the API server, and thousands of Services must not
      // turn into thousands of environment variables.
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      ...template,
      containers,
    }),
  };
}
