// Wires the parts together and owns their lifecycle: start listening, drain on shutdown, close all.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { ActivityTracker, type Now } from './activity.ts';
import { createAdminServer } from './admin.ts';
import { EventHub } from './events.ts';
import type { Log } from './log.ts';
import { MemoryReducer } from './memory.ts';
import { createProxy, type Proxy } from './proxy.ts';
import { ReadinessProbe } from './readiness.ts';

export interface SidecarOptions {
  upstreamHost: string;
  upstreamPort: number;
  listenHost: string | undefined; // undefined: every interface
  proxyPort: number; // 0 picks a free port (tests)
  adminPort: number;
  heartbeatMs: number;
  eventsMinIntervalMs: number;
  shutdownGraceMs: number;
  probeFastMs: number;
  probeSlowMs: number;
  log: Log;
  clock?: Now;
  // V8's memory-reducing GC (memory.ts); without it memory is left to V8's own heuristics.
  reduceMemory?: () => void;
}

export interface Sidecar {
  proxyPort: number;
  adminPort: number;
  tracker: ActivityTracker;
  // SIGTERM: refuse new connections, let in-flight HTTP requests finish for up to shutdownGraceMs,
  // then close everything (upgraded connections included).
  shutdown(): Promise<void>;
}

const RETRY_HINT_MS = 1000;
const PROBE_TIMEOUT_MS = 1000;

function listen(server: Server, port: number, host: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
  });
}

export async function startSidecar(options: SidecarOptions): Promise<Sidecar> {
  const { log } = options;
  const tracker = new ActivityTracker(options.clock);
  const events = new EventHub(tracker, {
    heartbeatMs: options.heartbeatMs,
    minIntervalMs: options.eventsMinIntervalMs,
    retryMs: RETRY_HINT_MS,
    clock: options.clock,
  });
  const probe = new ReadinessProbe(tracker, {
    host: options.upstreamHost,
    port: options.upstreamPort,
    fastMs: options.probeFastMs,
    slowMs: options.probeSlowMs,
    timeoutMs: PROBE_TIMEOUT_MS,
  });
  const proxy: Proxy = createProxy({
    upstreamHost: options.upstreamHost,
    upstreamPort: options.upstreamPort,
    tracker,
    upstream: probe,
    log,
  });
  const admin = createAdminServer(tracker, events);

  let wasListening = false;
  tracker.onChange(() => {
    if (tracker.listening === wasListening) return;
    wasListening = tracker.listening;
    log.info({ upstream: `${options.upstreamHost}:${options.upstreamPort}`, listening: wasListening }, wasListening ? 'app is listening' : 'app is not listening');
  });

  let proxyPort: number;
  let adminPort: number;
  try {
    proxyPort = await listen(proxy.server, options.proxyPort, options.listenHost);
    adminPort = await listen(admin, options.adminPort, options.listenHost);
  } catch (err) {
    await closeServer(proxy.server);
    await closeServer(admin);
    events.close();
    throw err;
  }
  probe.start();
  const reducer = options.reduceMemory && new MemoryReducer({
    lastActivityMs: () => tracker.lastActivityMs,
    heap: () => ({ committedBytes: process.memoryUsage().heapTotal }),
    gc: options.reduceMemory,
    clock: options.clock,
    onReduced: (before, after, tookMs) =>
      log.info({ heapMb: Math.round(before / 1048576), afterMb: Math.round(after / 1048576), tookMs: Math.round(tookMs) }, 'returned memory after a burst of connections'),
  });
  reducer?.start();
  log.info({ proxyPort, adminPort, upstream: `${options.upstreamHost}:${options.upstreamPort}` }, 'sidecar started');

  let shuttingDown: Promise<void> | undefined;
  async function shutdown(): Promise<void> {
    tracker.setDraining();
    log.info({ inFlight: tracker.inFlightRequests, upgraded: tracker.upgradedConnections }, 'draining');
    const proxyClosed = closeServer(proxy.server);
    proxy.server.closeIdleConnections();
    await drained(tracker, proxy.server, options.shutdownGraceMs);
    if (tracker.inFlightRequests > 0) log.warn({ inFlight: tracker.inFlightRequests }, 'grace period over: cutting in-flight requests');
    proxy.server.closeAllConnections();
    proxy.destroyUpgraded();
    proxy.destroyAgent();
    await proxyClosed;
    probe.stop();
    reducer?.stop();
    events.close();
    admin.closeAllConnections();
    await closeServer(admin);
    log.info('sidecar stopped');
  }

  return {
    proxyPort,
    adminPort,
    tracker,
    shutdown: () => (shuttingDown ??= shutdown()),
  };
}

// Resolves once no HTTP request is in flight, or after graceMs. Keep-alive connections that become
// idle meanwhile are closed so the server can finish closing.
function drained(tracker: ActivityTracker, server: Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const finish = () => {
      clearTimeout(timer);
      unsubscribe();
      resolve();
    };
    const check = () => {
      server.closeIdleConnections();
      if (tracker.inFlightRequests === 0) finish();
    };
    const timer = setTimeout(finish, graceMs);
    const unsubscribe = tracker.onChange(check);
    check();
  });
}
