// The Spawner controller, declared: for SessionLivedBackend, owning Pod (and Service: only backends
// created before decision B have one, deleted with them), watching WarmPool (the pools backends claim
// from), with finalizer spawner.dev/teardown: reconcile, finalize.
import type { KubernetesObject, V1Pod, V1Service } from '@kubernetes/client-node';
import { API_VERSION, FINALIZER, KIND, LABEL_MANAGED_BY, LABEL_POOL, MANAGED_BY, PLURAL, POOL_KIND, POOL_PLURAL } from '../../common/contract.ts';
import { LatestWrites } from '../../common/kube/children.ts';
import { defineController, type ReconcileContext } from '../../common/kube/controller.ts';
import type { SessionLivedBackend } from '../../common/spawner/types.ts';
import { slimBackend, slimPod, slimService } from './spawner/slim.ts';
import { finalize, reconcile, type SpawnerDeps } from './spawner/reconcile.ts';
import { PROGRESS_WRITES_PER_SECOND } from './spawner/status.ts';
import { TokenBucket } from './http-api/limits.ts';
import type { SpawnerConfig } from './spawner/types.ts';
import type { SpawnerApi } from './spawner/api.ts';
import type { SpawnerMetrics } from './metrics.ts';
import type { PoolApi } from './pools/api.ts';
import { ClaimLedger } from './pools/claim.ts';
import type { WarmPool } from './pools/members.ts';
import type { PoolMetrics } from './pools/metrics.ts';

// The controller's name: its log lines, metrics labels and ControllerManager.primaryInformer key.
export const SPAWNER_CONTROLLER = 'spawner';

export interface SpawnerControllerOptions {
  api: SpawnerApi;
  config: SpawnerConfig;
  namespace?: string;
  concurrency: number;
  resyncMs: number;
  metrics?: SpawnerMetrics;
  // Claims from WarmPools (spec.poolRef); without it such backends are left alone.
  pools?: { api: Pick<PoolApi, 'claimMember'>; metrics?: PoolMetrics };
  now?: () => Date;
}

// A pool's event concerns the backends that name it and have no Pod yet (waiting for it, or about to claim).
export function backendsWaitingFor(pool: KubernetesObject, backends: () => KubernetesObject[]): string[] {
  const { namespace, name } = pool.metadata ?? {};
  return (backends() as SessionLivedBackend[])
    .filter((b) => b.metadata.namespace === namespace && b.spec?.poolRef?.name === name && !b.status?.podName && !b.metadata.deletionTimestamp)
    .map((b) => `${namespace}/${b.metadata.name}`);
}

export function spawnerController(opts: SpawnerControllerOptions) {
  const ns = opts.namespace || undefined;
  const children = `${LABEL_MANAGED_BY}=${MANAGED_BY}`;
  const backends = new LatestWrites<SessionLivedBackend>();
  const progressWrites = new TokenBucket(PROGRESS_WRITES_PER_SECOND, PROGRESS_WRITES_PER_SECOND, (opts.now?.() ?? new Date()).getTime());
  const ledger = new ClaimLedger();

  const depsFor = (ctx: ReconcileContext): SpawnerDeps => ({
    api: opts.api,
    pods: ctx.children<V1Pod>('Pod'),
    services: ctx.children<V1Service>('Service'),
    backends,
    config: opts.config,
    now: opts.now ?? (() => new Date()),
    log: ctx.log,
    onPhaseChange: opts.metrics?.onPhaseChange,
    progressWrites,
    pools: opts.pools && {
      pool: (n, name) => ctx.cached<WarmPool>(POOL_KIND, n, name),
      members: (n, pool) => ctx.labelled<V1Pod>('Pod', LABEL_POOL, n, pool),
      owned: () => ctx.owned<V1Pod>('Pod'),
      claimMember: (pod, patch) => opts.pools!.api.claimMember(pod, patch),
      ledger,
      metrics: opts.pools.metrics,
    },
  });

  return defineController<SessionLivedBackend>({
    name: SPAWNER_CONTROLLER,
    for: { apiVersion: API_VERSION, kind: KIND, plural: PLURAL, namespace: ns, transform: (obj) => slimBackend(obj as SessionLivedBackend) },
    owns: [
      // Pool members too (same label): a claim picks one from this cache, by its pool label.
      { apiVersion: 'v1', kind: 'Pod', path: ns ? `/api/v1/namespaces/${ns}/pods` : '/api/v1/pods', labelSelector: children, transform: slimPod, indexLabels: [LABEL_POOL] },
      { apiVersion: 'v1', kind: 'Service', path: ns ? `/api/v1/namespaces/${ns}/services` : '/api/v1/services', labelSelector: children, transform: slimService },
    ],
    watches: opts.pools
      ? [{ apiVersion: API_VERSION, kind: POOL_KIND, path: ns ? `/apis/${API_VERSION}/namespaces/${ns}/${POOL_PLURAL}` : `/apis/${API_VERSION}/${POOL_PLURAL}`, map: backendsWaitingFor }]
      : [],
    finalizer: FINALIZER,
    reconcile: (slb, ctx) => reconcile(slb, depsFor(ctx)),
    finalize: (slb, ctx) => finalize(slb, depsFor(ctx)),
    concurrency: opts.concurrency,
    resyncMs: opts.resyncMs,
  });
}
