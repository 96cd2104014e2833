// The sweeper's flags and environment variables, validated before anything starts.

import { parsers, type ConfigOf } from '../../common/config.ts';
import { SIDECAR_ADMIN_PORT } from '../../common/contract.ts';
import { NODE_READ_DEFAULTS } from './node/observer.ts';

const dnsLabelOrEmpty = (raw: string): string => {
  const v = raw.trim();
  if (v !== '' && !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(v)) throw new Error('must be a namespace name (a DNS label) or empty for all namespaces');
  return v;
};

const nodeName = (raw: string): string => {
  const v = parsers.string(raw).trim();
  if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(v)) throw new Error('must be a node name (a DNS subdomain)');
  return v;
};

const pathOrEmpty = (raw: string): string => raw.trim();

export const sweeperSpecs = {
  nodeName: { flag: 'node-name', env: 'NODE_NAME', help: 'this node (from the downward API: spec.nodeName)', parse: nodeName },
  namespace: { flag: 'namespace', env: 'SWEEPER_NAMESPACE', help: 'only this namespace (empty: all namespaces)', default: '', parse: dnsLabelOrEmpty },
  kubeconfig: { flag: 'kubeconfig', env: 'KUBECONFIG', help: 'kubeconfig file (empty: in-cluster service account)', default: '', parse: pathOrEmpty },
  healthPort: { flag: 'health-port', env: 'SWEEPER_HEALTH_PORT', help: 'port for /healthz and /readyz (0: any free port)', default: 8081, parse: parsers.listenPort },
  sidecarAdminPort: { flag: 'sidecar-admin-port', env: 'SWEEPER_SIDECAR_ADMIN_PORT', help: "the sidecar's admin port (/events, /status)", default: SIDECAR_ADMIN_PORT, parse: parsers.port },
  heartbeatTimeoutMs: { flag: 'heartbeat-timeout-ms', env: 'SWEEPER_HEARTBEAT_TIMEOUT_MS', help: "an event stream silent this long is dead (twice the sidecar's heartbeat)", default: 30_000, parse: parsers.positiveNumber },
  connectTimeoutMs: { flag: 'connect-timeout-ms', env: 'SWEEPER_CONNECT_TIMEOUT_MS', help: 'time allowed to reach a sidecar', default: 2_000, parse: parsers.positiveNumber },
  pollIntervalMs: { flag: 'poll-interval-ms', env: 'SWEEPER_POLL_INTERVAL_MS', help: 'how often /status is read when the sidecar is disabled', default: 3_000, parse: parsers.positiveNumber },
  backoffInitialMs: { flag: 'backoff-initial-ms', env: 'SWEEPER_BACKOFF_INITIAL_MS', help: 'first reconnect delay to an unreachable sidecar', default: 250, parse: parsers.positiveNumber },
  backoffMaxMs: { flag: 'backoff-max-ms', env: 'SWEEPER_BACKOFF_MAX_MS', help: 'longest reconnect delay', default: 30_000, parse: parsers.positiveNumber },
  nodeIntervalMs: { flag: 'node-interval-ms', env: 'SWEEPER_NODE_INTERVAL_MS', help: "node mode: how often each backend Pod's TCP counters are read (its tables only when they moved)", default: NODE_READ_DEFAULTS.intervalMs, parse: parsers.positiveNumber },
  nodeActiveIntervalMs: { flag: 'node-active-interval-ms', env: 'SWEEPER_NODE_ACTIVE_INTERVAL_MS', help: 'node mode: how often a backend Pod with a connection open is looked at (its socket counts; --node-interval-ms when that is shorter): its idle countdown starts at most this late after its last connection closes', default: NODE_READ_DEFAULTS.activeIntervalMs, parse: parsers.positiveNumber },
  nodeResolveMs: { flag: 'node-resolve-ms', env: 'SWEEPER_NODE_RESOLVE_MS', help: "node mode: how often the node's own TCP table is read to tell the kubelet's probes from users' short requests (at most 45000: what it holds lasts 60 s)", default: NODE_READ_DEFAULTS.resolveEveryMs, parse: parsers.positiveNumber },
  procRoot: { flag: 'proc-root', env: 'SWEEPER_PROC_ROOT', help: "node mode: the node's /proc (this container's own /proc under hostPID)", default: '/proc', parse: parsers.string },
  confirmTimeoutMs: { flag: 'confirm-timeout-ms', env: 'SWEEPER_CONFIRM_TIMEOUT_MS', help: 'time allowed for the last /status reading before an idle sweep', default: 2_000, parse: parsers.positiveNumber },
};

export type SweeperConfig = ConfigOf<typeof sweeperSpecs>;

// Cross-field rules the per-flag parsers cannot see.
export function checkConfig(c: SweeperConfig): string | undefined {
  if (c.backoffMaxMs < c.backoffInitialMs) return `--backoff-max-ms (${c.backoffMaxMs}) must be ≥ --backoff-initial-ms (${c.backoffInitialMs})`;
  if (c.nodeResolveMs > 45_000) return `--node-resolve-ms (${c.nodeResolveMs}) must be at most 45000: the node's TIME_WAIT entries it reads last 60 s`;
  return undefined;
}
