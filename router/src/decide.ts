// The route service's decisions, as pure functions of what it knows: the backend as last seen (the
// informer's cache, or a fresh read from the API server) and what the token says.
import { SIDECAR_PROXY_PORT } from '../../common/contract.ts';
import { SPEC_DEFAULTS } from '../../common/spawner/spec.ts';
import type { Phase } from '../../common/spawner/types.ts';
import { uidKey, type TokenCheck } from '../../common/spawner/access.ts';

// What the route service keeps of a SessionLivedBackend: only what routing reads.
export interface RouteEntry {
  name: string;
  uid: string;
  phase: Phase;
  deleting: boolean; // metadata.deletionTimestamp is set
  podIP: string | undefined;
  port: number; // where traffic goes on the Pod: the sidecar's proxy port, or the app's own
  public: boolean; // spec.access: Public
}

export interface SlbLike {
  metadata?: { name?: string; uid?: string; deletionTimestamp?: unknown };
  spec?: { httpPort?: number; access?: string; sidecar?: { enabled?: boolean } };
  status?: { phase?: string; podIP?: string; podPort?: number; activitySource?: string };
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
  };
}

export type Verdict =
  | { kind: 'route'; upstream: string }
  | { kind: 'starting' }
  | { kind: 'ended' };

export const ENDED: Verdict = { kind: 'ended' };
export const STARTING: Verdict = { kind: 'starting' };

function upstreamOf(e: RouteEntry): string {
  // IPv6 Pod addresses go in brackets in nginx's proxy_pass.
  return e.podIP!.includes(':') ? `[${e.podIP}]:${e.port}` : `${e.podIP}:${e.port}`;
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
