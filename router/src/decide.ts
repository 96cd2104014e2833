// The route service's decisions, as pure functions of what it knows: the backend as last seen (the
// informer's cache, or a fresh read from the API server) and what the token says.
import { SIDECAR_PROXY_PORT } from '../../common/contract.ts';
import { SPEC_DEFAULTS } from '../../common/spawner/spec.ts';
import type { Phase } from '../../common/spawner/types.ts';
import { uidKey, type TokenCheck } from '../../common/spawner/access.ts';
import { routableWhenListeningPort } from '../../common/spawner/activity.ts';
import { controllerRef } from '../../common/kube/owners.ts';

// What the route service keeps of a SessionLivedBackend: only what routing reads.
export interface RouteEntry {
  name: string;
  uid: string;
  phase: Phase;
  deleting: boolean; // metadata.deletionTimestamp is set
  podIP: string | undefined;
  port: number; // where traffic goes on the Pod: the sidecar's proxy port, or the app's own
  public: boolean; // spec.access: Public
  podName?: string; // status.podName: a claimed backend's Pod keeps its pool member's name
  // The backend certainly has the sidecar (its status records it, or its spec asks for it): its Pod is
  // never marked routable when listening, so there is no Pod to read while it starts.
  sidecarCertain?: boolean;
}

export interface SlbLike {
  metadata?: { name?: string; uid?: string; deletionTimestamp?: unknown };
  spec?: { httpPort?: number; access?: string; sidecar?: { enabled?: boolean } };
  status?: { phase?: string; podIP?: string; podPort?: number; activitySource?: string; podName?: string };
}

export interface EntryOptions {
  // For backends whose status names neither the port nor the activity source (written before those
  // fields existed): whether one that leaves spec.sidecar.enabled unset has the sidecar, as the
  // operator's default says.
  sidecarByDefault: boolean;
}

const PHASES: ReadonlySet<string> = new Set(['Pending', 'Ready', 'Terminating', 'Failed']);

// The port comes from status.podPort, which the operator writes with the address (it alone knows
// whether it injected the sidecar, and a claimed backend's spec does not say: its pool's does).
export function routeEntryOf(slb: SlbLike, o: EntryOptions): RouteEntry {
  // Without podPort: the activity source the status records, else what the spec and the default say.
  const recorded = slb.status?.activitySource;
  const sidecar = recorded ? recorded === 'Sidecar' : (slb.spec?.sidecar?.enabled ?? o.sidecarByDefault);
  const specPort = sidecar ? SIDECAR_PROXY_PORT : (slb.spec?.httpPort ?? SPEC_DEFAULTS.httpPort);
  const phase = slb.status?.phase && PHASES.has(slb.status.phase) ? (slb.status.phase as Phase) : 'Pending';
  return {
    name: slb.metadata?.name ?? '',
    // As a verified token names it (the uid itself, for every uid the API server gives).
    uid: slb.metadata?.uid ? uidKey(slb.metadata.uid) : '',
    phase,
    deleting: slb.metadata?.deletionTimestamp !== undefined && slb.metadata?.deletionTimestamp !== null,
    podIP: slb.status?.podIP || undefined,
    port: slb.status?.podPort ?? specPort,
    public: slb.spec?.access === 'Public',
    podName: slb.status?.podName || undefined,
    sidecarCertain: recorded ? recorded === 'Sidecar' : slb.spec?.sidecar?.enabled === true,
  };
}

export type Verdict =
  | { kind: 'route'; upstream: string }
  | { kind: 'starting' }
  | { kind: 'ended' };

export const ENDED: Verdict = { kind: 'ended' };
export const STARTING: Verdict = { kind: 'starting' };

// IPv6 Pod addresses go in brackets in nginx's proxy_pass.
function upstreamAt(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

function upstreamOf(e: RouteEntry): string {
  return upstreamAt(e.podIP!, e.port);
}

// What an entry alone says, whoever asks.
export function verdictOf(e: RouteEntry): Verdict {
  if (e.deleting || e.phase === 'Failed' || e.phase === 'Terminating') return ENDED;
  if (e.phase === 'Ready' && e.podIP) return { kind: 'route', upstream: upstreamOf(e) };
  return STARTING;
}

// From the cache. 'lookup' means: the token is valid but the cache cannot confirm the backend is
// routable — read it from the API server before answering, so that a client that has seen Ready is
// never turned away by a cache that has not seen it yet. A request without a valid token never causes
// a lookup (no API traffic for guesses) and is answered as an unknown name unless the backend is public.
export function decideFromCache(entry: RouteEntry | undefined, token: TokenCheck, deadUid: (uid: string) => boolean): Verdict | 'lookup' {
  if (!token.valid) return entry?.public ? verdictOf(entry) : ENDED;
  if (entry && entry.uid === token.uid) {
    const v = verdictOf(entry);
    return v.kind === 'starting' ? 'lookup' : v;
  }
  // A uid known to be gone (deleted, or replaced by a re-created name) never comes back.
  if (deadUid(token.uid)) return ENDED;
  return 'lookup';
}

// From a fresh read (undefined: no such backend). A different uid is a re-created name: the token's
// backend has ended.
export function decideFromFresh(entry: RouteEntry | undefined, token: TokenCheck): Verdict {
  if (!entry || entry.uid !== token.uid) return ENDED;
  return verdictOf(entry);
}

// Listening is routable before Ready — for a backend whose Pod says so. The operator marks a Pod
// (ROUTABLE_WHEN_LISTENING_ANNOTATION, common/spawner/activity.ts) when its Ready waits for nothing but
// the operator's own TCP probe of the app's port; the kubelet then says Ready up to a probe period
// (1 s) after the port first accepts a connection. For such a Pod the route service connects to the port
// itself when a request with a valid token finds the backend Pending, and routes at once if it answers.
// Sidecar Pods (the sidecar listens before the app) and Pods whose user brought a probe (it defines
// readiness) carry no mark and wait for Ready. The backend's status does not change: Ready still comes
// from the Pod's Ready.

// The Pod to look at for a backend that is still starting (after a fresh read), or undefined. A cold
// start's Pod is named after its backend; status.podName, once written, names it (a claimed pool member
// keeps its own name).
export function podToCheck(e: RouteEntry): string | undefined {
  if (e.deleting || e.phase !== 'Pending' || !e.name || e.sidecarCertain) return undefined;
  return e.podName ?? e.name;
}

// What the route service reads of a Pod.
export interface PodLike {
  metadata?: {
    name?: string;
    deletionTimestamp?: unknown;
    annotations?: Record<string, string>;
    ownerReferences?: { uid?: string; controller?: boolean }[];
  };
  status?: { phase?: string; podIP?: string };
}

// Why a Pod is not connected to (each is a metric outcome), or where to connect.
export type ListeningTarget =
  | { kind: 'connect'; host: string; port: number }
  | { kind: 'skip'; why: 'no-pod' | 'not-controlled' | 'not-marked' | 'no-address' | 'deleting' | 'finished' };

// Whether `pod` is the backend's Pod and marked routable when listening, and where it would listen. The
// Pod must be controlled by this very backend (its controller ownerReference names the backend's uid: a
// pool's unclaimed member, another backend's Pod or one left from a re-created name never qualifies).
export function listeningTargetOf(pod: PodLike | undefined, e: RouteEntry): ListeningTarget {
  if (!pod) return { kind: 'skip', why: 'no-pod' };
  const controller = controllerRef(pod);
  if (!controller?.uid || uidKey(controller.uid) !== e.uid) return { kind: 'skip', why: 'not-controlled' };
  if (pod.metadata?.deletionTimestamp !== undefined && pod.metadata?.deletionTimestamp !== null) return { kind: 'skip', why: 'deleting' };
  if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return { kind: 'skip', why: 'finished' };
  const port = routableWhenListeningPort(pod);
  if (port === undefined) return { kind: 'skip', why: 'not-marked' };
  if (!pod.status?.podIP) return { kind: 'skip', why: 'no-address' };
  return { kind: 'connect', host: pod.status.podIP, port };
}

// The answer once the port was tried: the address the kubelet's probe would have found listening is
// where traffic goes (in these Pods, the app's own port).
export function listeningVerdict(target: { host: string; port: number }, connected: boolean): Verdict {
  return connected ? { kind: 'route', upstream: upstreamAt(target.host, target.port) } : STARTING;
}
