// How a backend's connections are counted, and so where its traffic goes on its Pod: the one place
// that decides it (the operator, when it makes the Pod) and reads it back (the sweeper, the route
// service, tools). The decision is fixed per backend: recorded on the Pod (annotation) and in the
// backend's status.activitySource, so a later change of the operator's default never changes how a
// running backend is observed or routed.
//
//   Node     no sidecar; the sweeper reads the Pod's TCP state from the node; traffic to httpPort
//   Sidecar  the injected sidecar counts; traffic to its proxy port 9090
//   App      the app serves the status JSON at /status on statusPort; traffic to httpPort

import type { V1Pod } from '@kubernetes/client-node';
import { SIDECAR_ADMIN_PORT, SIDECAR_CONTAINER, SIDECAR_PROXY_PORT } from '../contract.ts';
import { effectiveSpec } from './spec.ts';
import type { SessionLivedBackend } from './types.ts';

export type ActivitySource = 'Node' | 'Sidecar' | 'App';
// The operator's --activity-source: what an unset spec.sidecar.enabled means.
export type DefaultActivitySource = 'node' | 'sidecar';
export const DEFAULT_ACTIVITY_SOURCES: readonly DefaultActivitySource[] = ['node', 'sidecar'];
// Without --activity-source: the sidecar, the one source that needs nothing of the node. Node mode needs
// the sweeper to run with hostPID, which some clusters forbid; the manifests that grant it (the shipped
// overlays) also choose node. An operator defaulting to node beside a sweeper that cannot see the
// node's processes would leave its backends unobserved.
export const BUILT_IN_ACTIVITY_SOURCE: DefaultActivitySource = 'sidecar';

// On the Pod, set when the operator makes it.
export const ACTIVITY_SOURCE_ANNOTATION = 'spawner.dev/activity-source';

// On the Pod, set when the operator makes it, only when the Pod's readiness is the operator's own TCP
// check of the app's port (no sidecar, and no readiness or startup probe in the template): that port.
// Ready would then wait for nothing but a kubelet probe tick after the port accepts a connection, so the
// route service may route a starting backend as soon as podIP:port accepts one (router/README.md,
// "Listening is routable before Ready"). Without it, listening says nothing: the sidecar listens before
// the app does, and a user's probe defines readiness.
export const ROUTABLE_WHEN_LISTENING_ANNOTATION = 'spawner.dev/routable-when-listening';

// The port a Pod's annotation names, or undefined (absent or not a port number).
export function routableWhenListeningPort(pod: { metadata?: { annotations?: Record<string, string> } }): number | undefined {
  const raw = pod.metadata?.annotations?.[ROUTABLE_WHEN_LISTENING_ANNOTATION];
  if (raw === undefined || !/^[1-9][0-9]{0,4}$/.test(raw)) return undefined;
  const port = Number(raw);
  return port <= 65535 ? port : undefined;
}

const SOURCES: readonly string[] = ['Node', 'Sidecar', 'App'];
const isSource = (v: unknown): v is ActivitySource => typeof v === 'string' && SOURCES.includes(v);

type Backend = Pick<SessionLivedBackend, 'spec'> & { status?: SessionLivedBackend['status'] };

// For a Pod about to be made: spec.sidecar.enabled if set, else the operator's default.
export function chooseActivitySource(slb: Pick<SessionLivedBackend, 'spec'>, operatorDefault: DefaultActivitySource): ActivitySource {
  const enabled = slb.spec?.sidecar?.enabled;
  if (enabled === true) return 'Sidecar';
  if (enabled === false) return 'App';
  return operatorDefault === 'node' ? 'Node' : 'Sidecar';
}

// Why a backend cannot get the Pod `source` asks for, or undefined. The schema refuses an explicit
// `enabled: true` on the sidecar's ports; an unset one that the operator's default turns into a sidecar
// is only known here.
export function sidecarPortConflict(slb: Pick<SessionLivedBackend, 'spec'>, source: ActivitySource): string | undefined {
  const { httpPort } = effectiveSpec(slb);
  if (source !== 'Sidecar' || (httpPort !== SIDECAR_PROXY_PORT && httpPort !== SIDECAR_ADMIN_PORT)) return undefined;
  return `spec.httpPort ${httpPort} is a port of the sidecar this operator injects by default (--activity-source=sidecar): choose another port, or set spec.sidecar.enabled: false and serve /status`;
}

// What a Pod was made with: its annotation, or for a Pod made before the annotation existed, whether it
// carries the sidecar container.
export function activitySourceOfPod(pod: V1Pod, slb: Pick<SessionLivedBackend, 'spec'>): ActivitySource {
  const recorded = pod.metadata?.annotations?.[ACTIVITY_SOURCE_ANNOTATION];
  if (isSource(recorded)) return recorded;
  if ((pod.spec?.containers ?? []).some((c) => c.name === SIDECAR_CONTAINER)) return 'Sidecar';
  return slb.spec?.sidecar?.enabled === false ? 'App' : 'Node';
}

// What a running backend uses, for readers that see only the backend: status.activitySource, written by
// the operator from its Pod. A backend written before that field existed was made when an unset
// spec.sidecar.enabled meant true: the sidecar, unless it said false.
export function activitySourceOf(slb: Backend): ActivitySource {
  const recorded = slb.status?.activitySource;
  if (isSource(recorded)) return recorded;
  return slb.spec?.sidecar?.enabled === false ? 'App' : 'Sidecar';
}

// Where traffic for the backend goes on its Pod (the route service sends nginx to podIP:this).
export function upstreamPort(slb: Backend): number {
  return activitySourceOf(slb) === 'Sidecar' ? SIDECAR_PROXY_PORT : effectiveSpec(slb).httpPort;
}
