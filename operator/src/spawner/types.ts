import type { SessionLivedBackend } from '../../../schema/generated/types.ts';

export type { SessionLivedBackend, SessionLivedBackendStatus, Condition } from '../../../schema/generated/types.ts';

// Spec fields with the CRD's defaults applied. The API server defaults them on write, but objects built by
// hand (tests, old objects created before a default existed) may lack them, so the operator never relies on that.
export interface EffectiveSpec {
  httpPort: number;
  gracePeriodSeconds: number;
  maxLifetimeSeconds: number | undefined;
  startupTimeoutSeconds: number;
  sidecarEnabled: boolean;
  statusPort: number;
}

export function effectiveSpec(slb: SessionLivedBackend): EffectiveSpec {
  const s = slb.spec;
  const httpPort = s.httpPort ?? 8080;
  const sidecarEnabled = s.sidecar?.enabled ?? true;
  return {
    httpPort,
    gracePeriodSeconds: s.gracePeriodSeconds ?? 300,
    maxLifetimeSeconds: s.maxLifetimeSeconds,
    startupTimeoutSeconds: s.startupTimeoutSeconds ?? 300,
    sidecarEnabled,
    statusPort: s.sidecar?.statusPort ?? httpPort,
  };
}

export interface SpawnerConfig {
  sidecarImage: string;
  publicUrl: string; // without a trailing slash; a backend's url is `${publicUrl}/p/${name}/`
}

export function keyOf(obj: { metadata?: { namespace?: string; name?: string } }): string {
  return `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
}

// Timestamps arrive as strings from JSON or as Dates from the client's typed deserializers.
export function timeMs(value: Date | string | undefined): number {
  if (value === undefined) return Number.NaN;
  return value instanceof Date ? value.getTime() : Date.parse(value);
}

// RFC 3339 with whole seconds, as Kubernetes writes its own timestamps.
export function rfc3339(now: Date): string {
  return now.toISOString().replace(/\.\d+Z$/, 'Z');
}
