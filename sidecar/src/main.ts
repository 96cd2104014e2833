// Entry point of the sidecar container: validate configuration (exit 2 naming the flag), serve, and
// on SIGTERM/SIGINT drain and exit 0.
import { loadConfigOrExit } from '../../common/config.ts';
import { runUntilSignal } from '../../common/process.ts';
import { listenHostOf, sidecarSpecs } from './config.ts';
import { createLog } from './log.ts';
import { memoryReducingGc } from './memory.ts';
import { startSidecar } from './sidecar.ts';

const config = loadConfigOrExit('sidecar', sidecarSpecs);

// The operator sets these through the downward API; outside a pod they are simply absent.
const namespace = process.env.POD_NAMESPACE;
const name = process.env.BACKEND_NAME;
const log = createLog({ level: config.logLevel, bindings: { component: 'sidecar', ...(namespace && name ? { namespace, name } : {}) } });

await runUntilSignal(log, async () => {
  const sidecar = await startSidecar({
    upstreamHost: config.upstreamHost,
    upstreamPort: config.upstreamPort,
    listenHost: listenHostOf(config.listenHost),
    proxyPort: config.proxyPort,
    adminPort: config.adminPort,
    heartbeatMs: config.heartbeatSeconds * 1000,
    eventsMinIntervalMs: config.eventsMinIntervalMs,
    shutdownGraceMs: config.shutdownGraceSeconds * 1000,
    probeFastMs: config.probeFastMs,
    probeSlowMs: config.probeSlowMs,
    log,
    reduceMemory: memoryReducingGc(),
  });
  return () => sidecar.shutdown();
});
