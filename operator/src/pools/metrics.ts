// The pools' metrics: claims by outcome, how long a warm claim takes, and members by state (read from
// the caches at scrape time, so nothing is counted twice or forgotten).
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { V1Pod } from '@kubernetes/client-node';
import { LABEL_CLAIMED_FROM, LABEL_POOL } from '../../../common/contract.ts';
import type { SpawnerConfig } from '../spawner/types.ts';
import { classifyMember, isMemberOf, templateHash, type MemberState, type WarmPool } from './members.ts';

export type ClaimOutcomeLabel = 'warm' | 'cold';

export interface PoolMetrics {
  // `seconds`: from the start of the reconcile that claimed to the backend's Ready status write.
  claimed(outcome: ClaimOutcomeLabel, seconds?: number): void;
}

export type MemberCounts = Record<MemberState | 'claimed', number>;

const STATES: Array<MemberState | 'claimed'> = ['ready', 'starting', 'failed', 'timedOut', 'outdated', 'deleting', 'claimed'];

/** Members of one pool by state; `claimed` counts Pods handed out from it that still run. */
export function countMembers(pool: WarmPool, pods: V1Pod[], hash: string, now: Date): MemberCounts {
  const counts = Object.fromEntries(STATES.map((s) => [s, 0])) as MemberCounts;
  for (const pod of pods) {
    if (pod.metadata?.namespace !== pool.metadata.namespace) continue;
    if (pod.metadata?.labels?.[LABEL_CLAIMED_FROM] === pool.metadata.name && !pod.metadata?.deletionTimestamp) counts.claimed += 1;
    else if (pod.metadata?.labels?.[LABEL_POOL] === pool.metadata.name && isMemberOf(pod, pool)) counts[classifyMember(pod, pool, hash, now).state] += 1;
  }
  return counts;
}

export function createPoolMetrics(registry: Registry, caches: { pools: () => WarmPool[]; pods: () => V1Pod[] }, config: SpawnerConfig, now = () => new Date()): PoolMetrics {
  new Gauge({
    name: 'spawner_pool_members',
    help: 'WarmPool members known to this replica, by pool and state (claimed: handed to a backend and still running)',
    labelNames: ['namespace', 'pool', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      const pods = caches.pods();
      const at = now();
      for (const pool of caches.pools()) {
        const counts = countMembers(pool, pods, templateHash(pool, config), at);
        for (const [state, n] of Object.entries(counts)) this.set({ namespace: pool.metadata.namespace!, pool: pool.metadata.name!, state }, n);
      }
    },
  });
  const claims = new Counter({
    name: 'spawner_pool_claims_total',
    help: 'Backends with spec.poolRef that got a started member (warm) or started cold from the pool\'s template (cold)',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'spawner_pool_claim_duration_seconds',
    help: 'Seconds from the start of the reconcile that claimed a member to the backend\'s Ready status write (warm claims)',
    buckets: [0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  for (const outcome of ['warm', 'cold']) claims.inc({ outcome }, 0);
  return {
    claimed(outcome, seconds) {
      claims.inc({ outcome });
      if (seconds !== undefined) duration.observe(seconds);
    },
  };
}
