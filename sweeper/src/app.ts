// The running sweeper: informer → Sweeper → trackers, plus the health port. main.ts only reads the
// configuration and handles signals, so tests can start and stop the whole thing in-process.

import { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../../common/log.ts';
import type { SweeperConfig } from './config.ts';
import { startHealthServer, type HealthServer } from './health.ts';
import { kubeSweepApi } from './kube-api.ts';
import { informerSlbSource, type SlbSource } from './slb-source.ts';
import type { SweepApi } from './sweep.ts';
import { Sweeper } from './sweeper.ts';

export interface RunningSweeper {
  sweeper: Sweeper;
  health: HealthServer;
  stop(): Promise<void>;
}

export function loadKubeConfig(path: string): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromCluster();
  return kc;
}

export async function runSweeper(
  config: SweeperConfig,
  log: Logger,
  overrides: { kubeConfig?: KubeConfig; api?: SweepApi; healthHost?: string } = {},
): Promise<RunningSweeper> {
  const kubeConfig = overrides.kubeConfig ?? loadKubeConfig(config.kubeconfig);
  const backoff = { initialMs: config.backoffInitialMs, maxMs: config.backoffMaxMs, factor: 2, jitter: 0.2 };
  const sweeper = new Sweeper({
    nodeName: config.nodeName,
    api: overrides.api ?? kubeSweepApi(kubeConfig),
    log,
    sidecarAdminPort: config.sidecarAdminPort,
    source: {
      deadAfterMs: config.heartbeatTimeoutMs,
      connectTimeoutMs: config.connectTimeoutMs,
      pollIntervalMs: config.pollIntervalMs,
      backoff,
    },
    confirmTimeoutMs: config.confirmTimeoutMs,
    retry: { ...backoff, initialMs: Math.max(500, config.backoffInitialMs) },
  });
  const source: SlbSource = informerSlbSource(
    { kubeConfig, namespace: config.namespace, nodeName: config.nodeName, log, resyncMs: 5 * 60_000 },
    sweeper,
  );
  const health = await startHealthServer(config.healthPort, () => source.healthy(), overrides.healthHost);
  log.info({ node: config.nodeName, namespace: config.namespace || '(all)', healthPort: health.port }, 'sweeper starting');
  // Not awaited: /healthz says whether the first list arrived, and the informer retries on its own.
  source.start().then(
    () => log.info({ backends: sweeper.size }, 'following the backends of this node'),
    (err: Error) => log.warn({ err: err.message }, 'informer stopped before its first list'),
  );
  return {
    sweeper,
    health,
    async stop() {
      source.stop();
      sweeper.stop();
      await health.close();
    },
  };
}
