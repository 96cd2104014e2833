import { describe, expect, test } from '@jest/globals';
import { Registry } from 'prom-client';
import { countMembers, createPoolMetrics } from '../../src/pools/metrics.ts';
import { templateHash } from '../../src/pools/members.ts';
import { at, config, member, pool } from './fixtures.ts';

const p = pool();
const hash = templateHash(p, config);

describe('countMembers', () => {
  test('by state, claimed ones by their label, other pools and namespaces apart', () => {
    const claimed = member(p, 'ready');
    delete claimed.metadata!.labels!['spawner.dev/pool'];
    claimed.metadata!.labels!['spawner.dev/claimed-from'] = 'games';
    claimed.metadata!.ownerReferences = [{ apiVersion: 'spawner.dev/v1', kind: 'SessionLivedBackend', name: 'x', uid: 'u', controller: true }];
    const elsewhere = member(p, 'ready');
    elsewhere.metadata!.namespace = 'other';
    const otherPool = member(pool({ metadata: { name: 'chess', uid: 'uid-chess' } }), 'ready');
    const pods = [member(p, 'ready'), member(p, 'ready'), member(p, 'starting'), member(p, 'imagePull'), member(p, 'ready', { hash: 'old' }), member(p, 'deleting'), claimed, elsewhere, otherPool];
    expect(countMembers(p, pods, hash, at(10))).toEqual({ ready: 2, starting: 1, failed: 1, timedOut: 0, outdated: 1, deleting: 1, claimed: 1 });
  });
});

describe('createPoolMetrics', () => {
  test('exposes claims by outcome, the warm claim histogram and members by state', async () => {
    const registry = new Registry();
    const metrics = createPoolMetrics(registry, { pools: () => [p], pods: () => [member(p, 'ready'), member(p, 'starting')] }, config, () => at(10));
    metrics.claimed('warm', 0.012);
    metrics.claimed('cold');
    const text = await registry.metrics();
    expect(text).toContain('spawner_pool_claims_total{outcome="warm"} 1');
    expect(text).toContain('spawner_pool_claims_total{outcome="cold"} 1');
    expect(text).toContain('spawner_pool_claim_duration_seconds_bucket{le="0.02"} 1');
    expect(text).toContain('spawner_pool_members{namespace="sessions",pool="games",state="ready"} 1');
    expect(text).toContain('spawner_pool_members{namespace="sessions",pool="games",state="starting"} 1');
  });
});
