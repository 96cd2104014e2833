// A backend's spec with the API server's defaults applied. The defaults and bounds come from the schema
// (schema/sessionlivedbackend.yaml, generated into schema/generated/types.ts): this is the one place code
// reads them. The API server applies them on write, but objects built by hand (tests, objects stored before
// a default existed) may lack them, so no component relies on that.
import { sessionLivedBackendSpecBounds, sessionLivedBackendSpecDefaults } from '../../schema/generated/types.ts';
import type { SessionLivedBackend } from './types.ts';

export const SPEC_DEFAULTS = sessionLivedBackendSpecDefaults;
export const SPEC_BOUNDS = sessionLivedBackendSpecBounds;

export interface EffectiveSpec {
  httpPort: number;
  gracePeriodSeconds: number;
  maxLifetimeSeconds: number | undefined;
  startupTimeoutSeconds: number;
  // spec.sidecar.enabled as written; unset means the operator's default (common/spawner/activity.ts).
  sidecarEnabled: boolean | undefined;
  // Where the activity JSON is served when the sidecar is disabled (the app's own /status).
  statusPort: number;
  // Token: the URL carries the backend's access token (access.ts); Public: it carries none.
  access: 'Token' | 'Public';
}

// The spec fields that describe what runs. A backend that claims from a WarmPool (spec.poolRef) leaves them
// unset; its status.pool, written with the claim or cold start, carries its pool's.
function backendFields(slb: Pick<SessionLivedBackend, 'spec'> & { status?: SessionLivedBackend['status'] }): Partial<SessionLivedBackend['spec']> {
  const s = slb.spec ?? ({} as Partial<SessionLivedBackend['spec']>);
  const fromPool = s.poolRef ? slb.status?.pool : undefined;
  if (!fromPool) return s;
  return { ...s, httpPort: fromPool.httpPort, sidecar: fromPool.sidecar, startupTimeoutSeconds: fromPool.startupTimeoutSeconds };
}

export function effectiveSpec(slb: Pick<SessionLivedBackend, 'spec'> & { status?: SessionLivedBackend['status'] }): EffectiveSpec {
  const s = backendFields(slb);
  const httpPort = s.httpPort ?? SPEC_DEFAULTS.httpPort;
  return {
    httpPort,
    gracePeriodSeconds: s.gracePeriodSeconds ?? SPEC_DEFAULTS.gracePeriodSeconds,
    maxLifetimeSeconds: s.maxLifetimeSeconds,
    startupTimeoutSeconds: s.startupTimeoutSeconds ?? SPEC_DEFAULTS.startupTimeoutSeconds,
    sidecarEnabled: s.sidecar?.enabled,
    statusPort: s.sidecar?.statusPort ?? httpPort,
    access: s.access ?? SPEC_DEFAULTS.access,
  };
}
