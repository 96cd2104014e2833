// Prometheus metrics of the controller runtime. Names follow controller-runtime and client-go
// (controller_runtime_reconcile_total, workqueue_depth, leader_election_master_status) so existing
// dashboards and alerts read them without translation. Queue, informer and leader figures are read
// when scraped rather than pushed on every change.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Informer, RestartReason } from './informer.ts';
import type { KubernetesObject } from '@kubernetes/client-node';

// What metrics and health read from an informer; independent of the object type.
export type InformerLike = Pick<Informer<KubernetesObject>, 'name' | 'hasSynced' | 'status' | 'isWedged'>;
import type { WorkQueue } from './workqueue.ts';

export type ReconcileOutcome = 'success' | 'error' | 'requeue' | 'requeue_after';

export interface RuntimeMetricsOptions {
  registry?: Registry;
  defaultMetrics?: boolean; // process CPU, memory, event-loop lag (default true)
}

export class RuntimeMetrics {
  readonly registry: Registry;
  private readonly reconcileTotal: Counter<'controller' | 'result'>;
  private readonly reconcileErrors: Counter<'controller'>;
  private readonly reconcileTime: Histogram<'controller'>;
  private readonly queues = new Map<string, WorkQueue>();
  private readonly informers = new Set<InformerLike>();
  private readonly leaders = new Map<string, () => boolean>();

  constructor(opts: RuntimeMetricsOptions = {}) {
    const registers = [(this.registry = opts.registry ?? new Registry())];
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    this.reconcileTotal = new Counter({
      name: 'controller_runtime_reconcile_total',
      help: 'Reconciliations per controller by result.',
      labelNames: ['controller', 'result'],
      registers,
    });
    this.reconcileErrors = new Counter({
      name: 'controller_runtime_reconcile_errors_total',
      help: 'Reconciliations that failed (and were requeued with backoff).',
      labelNames: ['controller'],
      registers,
    });
    this.reconcileTime = new Histogram({
      name: 'controller_runtime_reconcile_time_seconds',
      help: 'Time spent in one reconciliation (reconcile or finalize).',
      labelNames: ['controller'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    const queues = this.queues;
    const informers = this.informers;
    const leaders = this.leaders;
    const queueGauge = (name: string, help: string, read: (q: WorkQueue) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['name'],
        registers,
        collect() {
          for (const [n, q] of queues) this.set({ name: n }, read(q));
        },
      });
    queueGauge('workqueue_depth', 'Keys waiting for a worker.', (q) => q.len());
    queueGauge('workqueue_delayed_keys', 'Keys waiting for a backoff or requeue delay to pass.', (q) => q.delayedLen());
    queueGauge('workqueue_in_flight', 'Keys being processed right now.', (q) => q.inFlight());
    const queueCounter = (name: string, help: string, read: (q: WorkQueue) => number) => {
      const seen = new Map<string, number>();
      return new Counter({
        name,
        help,
        labelNames: ['name'],
        registers,
        collect() {
          for (const [n, q] of queues) {
            const v = read(q);
            this.inc({ name: n }, Math.max(0, v - (seen.get(n) ?? 0)));
            seen.set(n, v);
          }
        },
      });
    };
    queueCounter('workqueue_adds_total', 'Keys added to the queue (after deduplication).', (q) => q.adds);
    queueCounter('workqueue_retries_total', 'Rate-limited requeues after failures.', (q) => q.retries);
    new Gauge({
      name: 'informer_synced',
      help: '1 once the informer has listed its resource.',
      labelNames: ['informer'],
      registers,
      collect() {
        for (const i of informers) this.set({ informer: i.name }, i.hasSynced() ? 1 : 0);
      },
    });
    const restartSeen = new Map<string, number>();
    new Counter({
      name: 'informer_watch_restarts_total',
      help: 'Watch restarts by reason (ended: server timeout; gone: 410, relisted; silent: watchdog; error).',
      labelNames: ['informer', 'reason'],
      registers,
      collect() {
        for (const i of informers) {
          const st = i.status();
          for (const reason of Object.keys(st.restarts) as RestartReason[]) {
            const k = `${i.name}\u0000${reason}`;
            const v = st.restarts[reason];
            this.inc({ informer: i.name, reason }, Math.max(0, v - (restartSeen.get(k) ?? 0)));
            restartSeen.set(k, v);
          }
        }
      },
    });
    new Gauge({
      name: 'leader_election_master_status',
      help: '1 while this replica holds the Lease.',
      labelNames: ['name'],
      registers,
      collect() {
        for (const [n, isLeader] of leaders) this.set({ name: n }, isLeader() ? 1 : 0);
      },
    });
  }

  observeReconcile(controller: string, outcome: ReconcileOutcome, seconds: number): void {
    this.reconcileTotal.inc({ controller, result: outcome });
    if (outcome === 'error') this.reconcileErrors.inc({ controller });
    this.reconcileTime.observe({ controller }, seconds);
  }

  trackQueue(name: string, queue: WorkQueue): void {
    this.queues.set(name, queue);
  }

  trackInformer(informer: InformerLike): void {
    this.informers.add(informer);
  }

  trackLeader(name: string, isLeader: () => boolean): void {
    this.leaders.set(name, isLeader);
  }
}

export function createRuntimeMetrics(opts: RuntimeMetricsOptions = {}): RuntimeMetrics {
  return new RuntimeMetrics(opts);
}
