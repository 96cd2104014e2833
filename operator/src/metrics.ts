// Spawner's own metrics, beside the runtime's: backends by phase (read from the cache at scrape time)
// and how long backends take from creation to Ready.
import { Gauge, Histogram, type Registry } from 'prom-client';
import type { KubernetesObject } from '@kubernetes/client-node';
import { timeMs } from '../../common/spawner/time.ts';
import type { Phase, SessionLivedBackend } from '../../common/spawner/types.ts';

const PHASES: Phase[] = ['Pending', 'Ready', 'Terminating', 'Failed'];

export interface SpawnerMetrics {
  onPhaseChange(slb: SessionLivedBackend, from: Phase | undefined, to: Phase): void;
}

export function countByPhase(backends: KubernetesObject[]): Record<Phase, number> {
  const counts = Object.fromEntries(PHASES.map((p) => [p, 0])) as Record<Phase, number>;
  for (const b of backends as SessionLivedBackend[]) {
    const phase = b.metadata?.deletionTimestamp ? 'Terminating' : (b.status?.phase ?? 'Pending');
    counts[phase] += 1;
  }
  return counts;
}

export function createSpawnerMetrics(registry: Registry, backends: () => KubernetesObject[], now = () => Date.now()): SpawnerMetrics {
  new Gauge({
    name: 'spawner_backends',
    help: 'SessionLivedBackends known to this replica, by phase',
    labelNames: ['phase'],
    registers: [registry],
    collect() {
      for (const [phase, n] of Object.entries(countByPhase(backends()))) this.set({ phase }, n);
    },
  });
  const createToReady = new Histogram({
    name: 'spawner_create_to_ready_seconds',
    help: 'Seconds from a backend\'s creation to the status write that made it Ready',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60, 120, 300],
    registers: [registry],
  });
  return {
    onPhaseChange(slb, _from, to) {
      if (to !== 'Ready') return;
      const created = timeMs(slb.metadata.creationTimestamp);
      // creationTimestamp has whole seconds: the figure is up to 1 s early, never late.
      if (created !== undefined) createToReady.observe(Math.max(0, (now() - created) / 1000));
    },
  };
}
