// The sidecar's flags and variables. The operator passes --upstream-port; the rest have defaults.
import { parsers, type OptionSpec } from '../../common/config.ts';
import { SIDECAR_ADMIN_PORT, SIDECAR_PROXY_PORT } from '../../common/contract.ts';
import { LOG_LEVELS, type LogLevel } from './log.ts';

const ALL_INTERFACES = '*';

export const sidecarSpecs = {
  upstreamPort: { flag: 'upstream-port', env: 'SIDECAR_UPSTREAM_PORT', help: "the app's HTTP port (spec.httpPort)", parse: parsers.port } as OptionSpec<number>,
  upstreamHost: { flag: 'upstream-host', env: 'SIDECAR_UPSTREAM_HOST', help: 'where the app listens', default: '127.0.0.1', parse: parsers.string } as OptionSpec<string>,
  proxyPort: { flag: 'proxy-port', env: 'SIDECAR_PROXY_PORT', help: 'port that forwards to the app (0: any free port, logged at start)', default: SIDECAR_PROXY_PORT, parse: parsers.listenPort } as OptionSpec<number>,
  adminPort: { flag: 'admin-port', env: 'SIDECAR_ADMIN_PORT', help: 'port serving /status, /events, /healthz, /readyz (0: any free port, logged at start)', default: SIDECAR_ADMIN_PORT, parse: parsers.listenPort } as OptionSpec<number>,
  listenHost: { flag: 'listen-host', env: 'SIDECAR_LISTEN_HOST', help: `address both ports bind to ('${ALL_INTERFACES}' = every interface)`, default: ALL_INTERFACES, parse: parsers.string } as OptionSpec<string>,
  shutdownGraceSeconds: { flag: 'shutdown-grace-seconds', env: 'SIDECAR_SHUTDOWN_GRACE_SECONDS', help: 'how long in-flight requests may finish after SIGTERM', default: 20, parse: parsers.positiveNumber } as OptionSpec<number>,
  heartbeatSeconds: { flag: 'heartbeat-seconds', env: 'SIDECAR_HEARTBEAT_SECONDS', help: 'interval of the heartbeat comment on /events', default: 15, parse: parsers.positiveNumber } as OptionSpec<number>,
  eventsMinIntervalMs: { flag: 'events-min-interval-ms', env: 'SIDECAR_EVENTS_MIN_INTERVAL_MS', help: 'least time between two events on /events (changes in between are merged)', default: 100, parse: parsers.nonNegativeInt } as OptionSpec<number>,
  probeFastMs: { flag: 'probe-fast-ms', env: 'SIDECAR_PROBE_FAST_MS', help: "readiness probe interval until the app first listens", default: 100, parse: parsers.positiveNumber } as OptionSpec<number>,
  probeSlowMs: { flag: 'probe-slow-ms', env: 'SIDECAR_PROBE_SLOW_MS', help: 'readiness probe interval once the app listens', default: 2000, parse: parsers.positiveNumber } as OptionSpec<number>,
  logLevel: { flag: 'log-level', env: 'LOG_LEVEL', help: `least level logged (${LOG_LEVELS.join(', ')})`, default: 'info', parse: parsers.oneOf(...LOG_LEVELS) } as OptionSpec<LogLevel>,
};

export function listenHostOf(value: string): string | undefined {
  return value === ALL_INTERFACES ? undefined : value;
}
