// spawner-router: the route service beside nginx in the router Pod. Validates its configuration (exit 2
// naming the flag or variable), follows the routed namespace's backends, answers nginx's auth_request
// on loopback. See router/README.md.
import { Registry, collectDefaultMetrics } from 'prom-client';
import { loadConfigOrExit } from '../../common/config.ts';
import { informersNotWedged, informersSynced, startHealthServer, type HealthCheck } from '../../common/kube/health.ts';
import { loadKubeAccess } from '../../common/kube/kubeconfig.ts';
import { createLogger } from '../../common/log.ts';
import { runUntilSignal } from '../../common/process.ts';
import { routerSpecs } from './config.ts';
import { startRouteService } from './service.ts';
import { apiPodReader, listeningRouter, tcpConnects } from './listening.ts';
import { apiFreshReader, coalescing, informerRouteTable } from './table.ts';

const config = loadConfigOrExit('spawner-router', routerSpecs);
const log = createLogger('router', config.logLevel);

async function run() {
  const kubeAccess = await loadKubeAccess(config.kubeconfig);
  const table = informerRouteTable({ kubeAccess, namespace: config.namespace, sidecarByDefault: config.sidecarByDefault, log });
  const fresh = coalescing(apiFreshReader({ kubeAccess, namespace: config.namespace, sidecarByDefault: config.sidecarByDefault, timeoutMs: config.lookupTimeoutMs }));
  const listening = config.routeWhenListening
    ? listeningRouter({
        readPod: apiPodReader({ kubeAccess, namespace: config.namespace, timeoutMs: config.lookupTimeoutMs }),
        connect: tcpConnects,
        connectTimeoutMs: config.listeningConnectTimeoutMs,
        rememberMs: config.listeningRememberMs,
      })
    : undefined;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const informers = () => [table.informer];
  // Ready once the cache holds the namespace's backends: before that every unknown name would be a
  // lookup, and every token-less request to a public backend an ended page.
  let stopping = false;
  const readiness: HealthCheck[] = [
    informersSynced(informers),
    informersNotWedged(informers),
    { name: 'not-stopping', check: () => (stopping ? { ok: false, detail: 'shutting down' } : { ok: true }) },
  ];
  const service = await startRouteService({
    namespace: config.namespace,
    key: config.accessKey.key,
    table,
    fresh,
    listening,
    host: config.listenHost,
    port: config.port,
    cookieSecure: config.cookieSecure,
    readiness,
    registry,
    log,
  });
  const health = await startHealthServer({ port: config.healthPort, registry, liveness: [informersNotWedged(informers)], readiness, log });
  log.info({ namespace: config.namespace, address: service.address, healthPort: health.port, keyFile: config.accessKey.file }, 'route service listening');
  void table.start().then(
    () => log.info({ namespace: config.namespace }, 'backends cached; ready'),
    (err: Error) => log.error({ err: err.message }, 'informer stopped before its first list'),
  );
  return async () => {
    stopping = true;
    await new Promise((resolve) => setTimeout(resolve, config.shutdownDelaySeconds * 1000));
    table.stop();
    await Promise.all([service.close(), health.close()]);
  };
}

await runUntilSignal(log, run);
