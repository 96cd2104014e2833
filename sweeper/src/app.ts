// The running sweeper: informer → Sweeper → one countdown per backend, plus the health port. main.ts only
// reads the configuration and handles signals, so tests can start and stop the whole thing in-process.

import type { BackoffPolicy } from '../../common/kube/backoff.ts';
import { startHealthServer, type HealthServer } from '../../common/kube/health.ts';
import { loadKubeAccess, type KubeAccess } from '../../common/kube/kubeconfig.ts';
import { errText, type Logger } from '../../common/log.ts';
import type { SweeperConfig } from './config.ts';
import { kubeSweepApi } from './kube-api.ts';
import { NodeObserver } from './node/observer.ts';
import { nodeProcessesVisible } from './node/procfs.ts';
import { informerSlbSource, type SlbSource } from './slb-source.ts';
import type { SweepApi } from './sweep.ts';
import { Sweeper } from './sweeper.ts';

// A process in the node's own network namespace: PID 1 of the node (hostPID).
const HOST_PID = 1;

export interface RunningSweeper {
  sweeper: Sweeper;
  health: HealthServer;
  stop(): Promise<void>;
}

export async function runSweeper(
  config: SweeperConfig,
  log: Logger,
  overrides: { kubeConfig?: KubeAccess; api?: SweepApi; healthHost?: string } = {},
): Promise<RunningSweeper> {
  // The runtime's own kubeconfig reader: client-node's KubeConfig (tens of MB resident) is loaded only
  // for a kubeconfig that needs it, never in-cluster, on every node of the cluster.
  const kubeConfig = overrides.kubeConfig ?? (await loadKubeAccess(config.kubeconfig));
  const backoff: BackoffPolicy = { initialMs: config.backoffInitialMs, maxMs: config.backoffMaxMs, factor: 2, jitter: 0.2 };
  // Node mode needs the node's processes in sight (hostPID). Without them node-mode backends are left
  // alone (never swept for idleness, said at start and per backend), never mistaken for unreachable ones.
  const hidden = nodeProcessesVisible(config.procRoot, HOST_PID);
  if (hidden) log.error({ why: hidden }, "node mode unavailable: this sweeper cannot see the node's processes; backends in node mode will not be swept for idleness (run the sweeper with hostPID, see manifests/sweeper)");
  const nodeObserver = hidden ? undefined : new NodeObserver({ log, procRoot: config.procRoot, hostPid: HOST_PID, intervalMs: config.nodeIntervalMs, activeIntervalMs: config.nodeActiveIntervalMs, resolveEveryMs: config.nodeResolveMs });
  const sweeper = new Sweeper({
    nodeName: config.nodeName,
    api: overrides.api ?? kubeSweepApi(kubeConfig),
    log,
    sidecarAdminPort: config.sidecarAdminPort,
    nodeObserver,
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
  const health = await startHealthServer({ port: config.healthPort, host: overrides.healthHost, ...source.healthChecks(), log });
  log.info({ node: config.nodeName, namespace: config.namespace || '(all)', healthPort: health.port }, 'sweeper starting');
  // Not awaited: /readyz says whether the first list arrived, and the informer retries on its own.
  source.start().then(
    () => log.info({ backends: sweeper.size }, 'following the backends of this node'),
    (err: unknown) => log.warn({ err: errText(err) }, 'informer stopped before its first list'),
  );
  return {
    sweeper,
    health,
    async stop() {
      source.stop();
      sweeper.stop();
      nodeObserver?.stop();
      await health.close();
    },
  };
}
