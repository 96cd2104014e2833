// The Spawner controller, declared: for SessionLivedBackend, owning Pod and Service, with finalizer
// spawner.dev/teardown: reconcile, finalize.
import type { V1Pod, V1Service } from '@kubernetes/client-node';
import { API_VERSION, FINALIZER, KIND, LABEL_MANAGED_BY, MANAGED_BY, PLURAL } from '../../common/contract.ts';
import { defineController, type ReconcileContext } from '../../common/kube/controller.ts';
import { ChildCache, LatestWrites } from './spawner/children.ts';
import { slimPod, slimService } from './spawner/slim.ts';
import { finalize, reconcile, type SpawnerDeps } from './spawner/reconcile.ts';
import type { SessionLivedBackend, SpawnerConfig } from './spawner/types.ts';
import type { SpawnerApi } from './spawner/api.ts';
import type { SpawnerMetrics } from './metrics.ts';

export interface SpawnerControllerOptions {
  api: SpawnerApi;
  config: SpawnerConfig;
  namespace?: string;
  concurrency: number;
  resyncMs: number;
  metrics?: SpawnerMetrics;
  now?: () => Date;
}

export function spawnerController(opts: SpawnerControllerOptions) {
  const ns = opts.namespace || undefined;
  const children = `${LABEL_MANAGED_BY}=${MANAGED_BY}`;
  const pods = new ChildCache<V1Pod>(() => undefined, 30_000, { slim: slimPod });
  const services = new ChildCache<V1Service>(() => undefined, 30_000, { slim: slimService });
  const backends = new LatestWrites<SessionLivedBackend>();

  const depsFor = (ctx: ReconcileContext): SpawnerDeps => ({
    api: opts.api,
    pods: pods.withLookup((n, name) => ctx.cached<V1Pod>('Pod', n, name)),
    services: services.withLookup((n, name) => ctx.cached<V1Service>('Service', n, name)),
    backends,
    config: opts.config,
    now: opts.now ?? (() => new Date()),
    log: ctx.log,
    onPhaseChange: opts.metrics?.onPhaseChange,
  });

  return defineController<SessionLivedBackend>({
    name: 'spawner',
    for: { apiVersion: API_VERSION, kind: KIND, plural: PLURAL, namespace: ns },
    owns: [
      { apiVersion: 'v1', kind: 'Pod', path: ns ? `/api/v1/namespaces/${ns}/pods` : '/api/v1/pods', labelSelector: children, transform: slimPod },
      { apiVersion: 'v1', kind: 'Service', path: ns ? `/api/v1/namespaces/${ns}/services` : '/api/v1/services', labelSelector: children, transform: slimService },
    ],
    finalizer: FINALIZER,
    reconcile: (slb, ctx) => reconcile(slb, depsFor(ctx)),
    finalize: (slb, ctx) => finalize(slb, depsFor(ctx)),
    concurrency: opts.concurrency,
    resyncMs: opts.resyncMs,
  });
}
