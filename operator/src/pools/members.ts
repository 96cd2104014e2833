// A WarmPool's members: what one looks like (built by the same builder as a backend's Pod, so a claimed
// member is the Pod a cold start would have made), which template it was built from, and what state it
// is in. Pure.
import { createHash } from 'node:crypto';
import type { V1OwnerReference, V1Pod } from '@kubernetes/client-node';
import {
  API_VERSION, LABEL_MANAGED_BY, LABEL_POOL, LABEL_TEMPLATE_HASH, MANAGED_BY, POOL_KIND, SIDECAR_CONTAINER,
} from '../../../common/contract.ts';
import type { WarmPool } from '../../../schema/generated/types.ts';
import { desiredPod } from '../spawner/desired.ts';
import { podFailure, podReady, type Verdict } from '../spawner/status.ts';
import { SPEC_DEFAULTS } from '../../../common/spawner/spec.ts';
import { timeMs } from '../../../common/spawner/time.ts';
import type { SessionLivedBackend } from '../../../common/spawner/types.ts';
import type { SpawnerConfig } from '../spawner/types.ts';

export type { WarmPool };

export const DEFAULT_STARTUP_TIMEOUT_SECONDS = SPEC_DEFAULTS.startupTimeoutSeconds;

export function poolOwnerReference(pool: WarmPool): V1OwnerReference {
  return { apiVersion: API_VERSION, kind: POOL_KIND, name: pool.metadata.name!, uid: pool.metadata.uid!, controller: true, blockOwnerDeletion: true };
}

/** The label selector of a pool's unclaimed members (status.selector, for `kubectl scale` and autoscalers). */
export function memberSelector(pool: WarmPool): string {
  return `${LABEL_POOL}=${pool.metadata.name}`;
}

// The pool as the backend builder sees it: the backend fields are the same (one schema fragment).
function asBackend(pool: WarmPool): SessionLivedBackend {
  const { template, httpPort, sidecar, startupTimeoutSeconds } = pool.spec;
  return {
    apiVersion: API_VERSION as SessionLivedBackend['apiVersion'],
    kind: 'SessionLivedBackend',
    metadata: { name: pool.metadata.name, namespace: pool.metadata.namespace, uid: pool.metadata.uid },
    spec: { template, httpPort, sidecar, startupTimeoutSeconds },
  };
}

function hashOf(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 10);
}

/**
 * The Pod of a new member and the hash of the template it comes from. The hash covers everything that
 * shapes the Pod, the operator's own settings included (a new sidecar image rolls the members too).
 * The member's own name is given by the API server (generateName); until a claim it serves no session,
 * so the sidecar logs under the Pod's name.
 */
export function desiredMember(pool: WarmPool, config: SpawnerConfig): { pod: V1Pod; hash: string } {
  const built = desiredPod(asBackend(pool), config);
  const spec = built.spec!;
  for (const c of spec.containers) {
    if (c.name !== SIDECAR_CONTAINER) continue;
    c.env = (c.env ?? []).map((e) => (e.name === 'BACKEND_NAME' ? { name: e.name, valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } } : e));
  }
  const hash = hashOf(spec);
  const pod: V1Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: `${pool.metadata.name}-`,
      namespace: pool.metadata.namespace,
      labels: { [LABEL_MANAGED_BY]: MANAGED_BY, [LABEL_POOL]: pool.metadata.name!, [LABEL_TEMPLATE_HASH]: hash },
      annotations: built.metadata?.annotations, // how its connections are counted (common/spawner/activity.ts)
      ownerReferences: [poolOwnerReference(pool)],
    },
    spec,
  };
  return { pod, hash };
}

// Every claim asks for its pool's hash: remembered per cached pool object (an update brings a new one).
const hashes = new WeakMap<WarmPool, { config: SpawnerConfig; hash: string }>();

export function templateHash(pool: WarmPool, config: SpawnerConfig): string {
  const known = hashes.get(pool);
  if (known && known.config === config) return known.hash;
  const { hash } = desiredMember(pool, config);
  hashes.set(pool, { config, hash });
  return hash;
}

/** A Pod this pool controls (by uid, so a same-named successor pool does not count). */
export function isMemberOf(pod: V1Pod, pool: WarmPool): boolean {
  return (pod.metadata?.ownerReferences ?? []).some((r) => r.controller === true && r.kind === POOL_KIND && r.uid === pool.metadata.uid);
}

export type MemberState = 'deleting' | 'failed' | 'outdated' | 'ready' | 'timedOut' | 'starting';

export interface ClassifiedMember {
  pod: V1Pod;
  state: MemberState;
  failure?: Verdict; // why it is failed or timed out
}

/**
 * What a member is. First match wins: being deleted (or deletion requested by us) · failed (it can never
 * serve: the same verdicts that fail a backend) · built from an older template · Ready · not Ready within
 * the pool's startupTimeoutSeconds · starting.
 */
export function classifyMember(pod: V1Pod, pool: WarmPool, hash: string, now: Date, deleteRequested = false): ClassifiedMember {
  if (pod.metadata?.deletionTimestamp || deleteRequested) return { pod, state: 'deleting' };
  const failure = podFailure(pod);
  if (failure) return { pod, state: 'failed', failure };
  if (pod.metadata?.labels?.[LABEL_TEMPLATE_HASH] !== hash) return { pod, state: 'outdated' };
  if (podReady(pod)) return { pod, state: 'ready' };
  const timeout = pool.spec.startupTimeoutSeconds ?? DEFAULT_STARTUP_TIMEOUT_SECONDS;
  const created = timeMs(pod.metadata?.creationTimestamp);
  if (created !== undefined && now.getTime() - created >= timeout * 1000) {
    return { pod, state: 'timedOut', failure: { phase: 'Failed', reason: 'StartupTimeout', message: `member ${pod.metadata?.name} was not Ready within startupTimeoutSeconds (${timeout} s)` } };
  }
  return { pod, state: 'starting' };
}

/** Oldest first, then by name: a stable order for claims and for choosing what to remove. */
export function byAge(a: V1Pod, b: V1Pod): number {
  const d = (timeMs(a.metadata?.creationTimestamp) ?? Number.NaN) - (timeMs(b.metadata?.creationTimestamp) ?? Number.NaN);
  if (d !== 0 && !Number.isNaN(d)) return d;
  return (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? '');
}
