// Listening is routable before Ready: the I/O around the pure decisions of decide.ts (podToCheck,
// listeningTargetOf, listeningVerdict). For a valid token whose backend a fresh read still shows Pending,
// the route service reads the backend's Pod (one GET) and, when the Pod is the backend's and marked
// routable when listening, tries to connect to podIP:port (short timeout). A confirmed route is
// remembered per backend uid for a few seconds, so the app's next requests (its assets, its WebSocket)
// do not each repeat the reads and the connect until the informer shows the backend Ready.
import type { KubeAccess } from '../../common/kube/kubeconfig.ts';
import { isNotFound } from '../../common/kube/errors.ts';
import { requestJson } from '../../common/kube/rest.ts';
import { acceptsConnection } from '../../common/tcp-connect.ts';
import { listeningTargetOf, listeningVerdict, podToCheck, STARTING, type ListeningTarget, type PodLike, type RouteEntry, type Verdict } from './decide.ts';
import { coalescing } from './table.ts';

// The backend's Pod by name (undefined: no such Pod). Throws when the API server cannot say.
export type PodReader = (name: string) => Promise<PodLike | undefined>;
// Whether host:port accepts a TCP connection within timeoutMs.
export type Connector = (host: string, port: number, timeoutMs: number) => Promise<boolean>;

// What a check found: each is a value of the metric's outcome label.
export type ListeningOutcome = 'listening' | 'remembered' | 'not-listening' | 'error' | Extract<ListeningTarget, { kind: 'skip' }>['why'] | 'not-checked';

export interface ListeningCheck {
  verdict: Verdict;
  outcome: ListeningOutcome;
  error?: string; // outcome 'error': why the Pod could not be read (a missing RBAC rule shows here)
}

export interface ListeningRouter {
  // For a backend a fresh read showed (its uid verified): route if its Pod listens, else starting.
  check(fresh: RouteEntry): Promise<ListeningCheck>;
  // The upstream of a route confirmed less than rememberMs ago for this uid, if any.
  remembered(uid: string): string | undefined;
}

export interface ListeningRouterOptions {
  readPod: PodReader;
  connect: Connector;
  connectTimeoutMs: number;
  rememberMs: number;
  maxRemembered?: number;
  now?: () => number;
}

// Confirmed early routes by backend uid, each forgotten rememberMs after it was confirmed (by then the
// informer normally shows the backend Ready, and the cache routes it). Bounded: the oldest go first.
export class RememberedRoutes {
  private readonly routes = new Map<string, { upstream: string; until: number }>();
  private readonly ttlMs: number;
  private readonly max: number;
  private readonly now: () => number;
  constructor(ttlMs: number, max = 10_000, now: () => number = Date.now) {
    this.ttlMs = ttlMs;
    this.max = max;
    this.now = now;
  }
  get(uid: string): string | undefined {
    const r = this.routes.get(uid);
    if (!r) return undefined;
    if (r.until > this.now()) return r.upstream;
    this.routes.delete(uid);
    return undefined;
  }
  set(uid: string, upstream: string): void {
    this.routes.delete(uid); // re-inserted last: the Map's order is the order of confirmation
    this.routes.set(uid, { upstream, until: this.now() + this.ttlMs });
    while (this.routes.size > this.max) this.routes.delete(this.routes.keys().next().value!);
  }
  get size(): number {
    return this.routes.size;
  }
}

export function listeningRouter(o: ListeningRouterOptions): ListeningRouter {
  const memory = new RememberedRoutes(o.rememberMs, o.maxRemembered, o.now);
  const checkOnce = async (e: RouteEntry): Promise<ListeningCheck> => {
    const podName = podToCheck(e);
    // Not starting after all, or certainly the sidecar's (never marked): no Pod read.
    if (!podName) return { verdict: STARTING, outcome: 'not-checked' };
    // Requests queued behind a check that just confirmed the route need no second one.
    const known = memory.get(e.uid);
    if (known) return { verdict: { kind: 'route', upstream: known }, outcome: 'remembered' };
    let pod: PodLike | undefined;
    try {
      pod = await o.readPod(podName);
    } catch (err) {
      return { verdict: STARTING, outcome: 'error', error: err instanceof Error ? err.message : String(err) };
    }
    const target = listeningTargetOf(pod, e);
    if (target.kind === 'skip') return { verdict: STARTING, outcome: target.why };
    const connected = await o.connect(target.host, target.port, o.connectTimeoutMs);
    const verdict = listeningVerdict(target, connected);
    if (verdict.kind === 'route') memory.set(e.uid, verdict.upstream);
    return { verdict, outcome: connected ? 'listening' : 'not-listening' };
  };
  // Requests arriving together for one starting backend share one Pod read and one connect.
  const check = coalescing(checkOnce, (e) => e.uid);
  return { check, remembered: (uid) => memory.get(uid) };
}

// GET /api/v1/namespaces/<ns>/pods/<name>: the route service's only read of Pods (RBAC: get, in the
// routed namespace).
export function apiPodReader(o: { kubeAccess: KubeAccess; namespace: string; timeoutMs: number }): PodReader {
  return async (name) => {
    try {
      return await requestJson<PodLike>(o.kubeAccess, { path: `/api/v1/namespaces/${o.namespace}/pods/${name}`, timeoutMs: o.timeoutMs });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  };
}

// Connects and closes at once (nothing is sent); common/tcp-connect.ts.
export const tcpConnects: Connector = acceptsConnection;
