// The Spawner controller, declared: for SessionLivedBackend, owning Pod and Service, with finalizer
// spawner.dev/teardown: reconcile, finalize.
import type { V1Pod, V1Service } from '@kubernetes/client-node';
import { API_VERSION, FINALIZER, KIND, LABEL_MANAGED_BY, MANAGED_BY, PLURAL } from '../../common/contract.ts';
import { LatestWrites } from '../../common/kube/children.ts';
import { defineController, type ReconcileContext } from '../../common/kube/controller.ts';
import type { SessionLivedBackend } from '../../common/spawner/types.ts';
import { slimBackend, slimPod, slimService } from './spawner/slim.ts';
import { finalize, reconcile, type SpawnerDeps } from './spawner/reconcile.ts';
import type { SpawnerConfig } from './spawner/types.ts';
import type { SpawnerApi } from './spawner/api.ts';
import type { SpawnerMetrics } from './metrics.ts';

// The controller's name: its log lines, metrics labels and ControllerManager.primaryInformer key.
export const SPAWNER_CONTROLLER = 'spawner';

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
  const backends = new LatestWrites<SessionLivedBackend>();

  const depsFor = (ctx: ReconcileContext): SpawnerDeps => ({
    api: opts.api,
    pods: ctx.children<V1Pod>('Pod'),
    services: ctx.children<V1Service>('Service'),
    backends,
    config: opts.config,
    now: opts.now ?? (() => new Date()),
    log: ctx.log,
    onPhaseChange: opts.metrics?.onPhaseChange,
  });

  return defineController<SessionLivedBackend>({
    name: SPAWNER_CONTROLLER,
    for: { apiVersion: API_VERSION, kind: KIND, plural: PLURAL, namespace: ns, transform: (obj) => slimBackend(obj as SessionLivedBackend) },
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
