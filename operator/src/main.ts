// The operator process: configuration, then the controller manager with leader election, then the
// health/metrics server. SIGTERM stops handing out work, finishes what runs, and releases the Lease.
import { loadConfigOrExit } from '../../common/config.ts';
import { ControllerManager } from '../../common/kube/controller.ts';
import { loadKubeAccess, type KubeAccess } from '../../common/kube/kubeconfig.ts';
import { startHealthServer } from '../../common/kube/health.ts';
import { createRuntimeMetrics } from '../../common/kube/metrics.ts';
import { createLogger } from '../../common/log.ts';
import { readAccessKeyFile, type AccessKey } from '../../common/spawner/access.ts';
import { operatorOptions } from './config.ts';
import { httpApiSettingsOrExit } from './http-api/config.ts';
import { startHttpApi } from './http-api/server.ts';
import { SPAWNER_CONTROLLER, spawnerController } from './controller.ts';
import { createSpawnerMetrics } from './metrics.ts';
import { createKubeSpawnerApi } from './spawner/kube-api.ts';
import { createKubePoolApi } from './pools/api.ts';
import { POOL_CONTROLLER, poolController } from './pools/controller.ts';
import type { WarmPool } from './pools/members.ts';
import { createPoolMetrics } from './pools/metrics.ts';
import type { V1Pod } from '@kubernetes/client-node';

async function main(): Promise<void> {
  const config = loadConfigOrExit('spawner-operator', operatorOptions);
  const apiSettings = httpApiSettingsOrExit('spawner-operator', config);
  let accessKey: AccessKey;
  try {
    accessKey = readAccessKeyFile(config.accessKeyFile);
  } catch (err) {
    process.stderr.write(`spawner-operator: invalid configuration: --access-key-file (SPAWNER_ACCESS_KEY_FILE) '${config.accessKeyFile}' cannot be used: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const log = createLogger('operator', config.logLevel);
  // Not client-node's KubeConfig unless the kubeconfig needs it: loading the generated client costs ~85 MB.
  let kc: KubeAccess;
  try {
    kc = await loadKubeAccess(config.kubeconfig);
    if (!kc.getCurrentCluster()) throw new Error('no current cluster');
  } catch (err) {
    process.stderr.write(`spawner-operator: invalid configuration: --kubeconfig (KUBECONFIG) '${config.kubeconfig}' cannot be used: ${(err as Error).message}\n`);
    process.exit(2);
  }

  const runtimeMetrics = createRuntimeMetrics();
  const spawnerConfig = { sidecarImage: config.sidecarImage, publicUrl: config.publicUrl, keepFailedPods: config.keepFailedPods, activitySource: config.activitySource, accessKey, routedNamespace: config.routedNamespace };
  const poolApi = createKubePoolApi(kc, config.identity);
  // Members by state, from the pool controller's caches (pools, their unclaimed members) and the backend
  // controller's (claimed members).
  const poolMetrics = createPoolMetrics(runtimeMetrics.registry, {
    pools: () => (manager.primaryInformer(POOL_CONTROLLER)?.list() ?? []) as WarmPool[],
    // The backend controller's Pod cache holds every Pod Spawner made: members, claimed or not, included.
    pods: () => (manager.ownedKindInformer(SPAWNER_CONTROLLER, 'Pod')?.list() ?? []) as V1Pod[],
  }, spawnerConfig);
  const manager: ControllerManager = new ControllerManager({
    kubeConfig: kc,
    log,
    controllers: [
      spawnerController({
        api: createKubeSpawnerApi(kc, config.identity),
        config: spawnerConfig,
        namespace: config.namespace,
        concurrency: config.concurrency,
        resyncMs: config.resyncSeconds * 1000,
        metrics: createSpawnerMetrics(runtimeMetrics.registry, () => manager.primaryInformer(SPAWNER_CONTROLLER)?.list() ?? []),
        pools: { api: poolApi, metrics: poolMetrics },
      }),
      poolController({ api: poolApi, config: spawnerConfig, namespace: config.namespace, resyncMs: config.resyncSeconds * 1000 }),
    ],
    leaderElection: config.leaderElect ? { namespace: config.leaseNamespace, name: config.leaseName, identity: config.identity } : false,
    metrics: runtimeMetrics,
  });
  const health = await startHealthServer({ port: config.metricsPort, registry: runtimeMetrics.registry, ...manager.healthChecks(), log });
  // Every replica serves the HTTP API (it only creates and reads SLBs), leader or not.
  const api = apiSettings ? await startHttpApi({ ...apiSettings, kubeConfig: kc, publicUrl: config.publicUrl, accessKey, log }) : undefined;
  log.info({ metricsPort: health.port, apiPort: api?.port, namespace: config.namespace || '*', routedNamespace: config.routedNamespace, leaderElect: config.leaderElect, identity: config.identity }, 'operator starting');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    const force = setTimeout(() => process.exit(1), 20_000);
    force.unref();
    await api?.close();
    await manager.stop();
    await health.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  await manager.start();
}

await main();
