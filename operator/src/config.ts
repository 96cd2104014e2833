// The operator's flags and environment variables; validated before anything starts.
import { hostname } from 'node:os';
import { parsers, type OptionSpec } from '../../common/config.ts';
import { BUILT_IN_ACTIVITY_SOURCE, DEFAULT_ACTIVITY_SOURCES, type DefaultActivitySource } from '../../common/spawner/activity.ts';
import { ACCESS_KEY_FILE } from '../../common/spawner/access.ts';
import { httpApiOptions } from './http-api/config.ts';

const optionalString = (raw: string) => raw;

const namespaceName = (raw: string): string => {
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(raw)) throw new Error('must be a namespace name (a DNS label)');
  return raw;
};

export const operatorOptions = {
  kubeconfig: { flag: 'kubeconfig', env: 'KUBECONFIG', help: 'kubeconfig file; in-cluster config when empty', default: '', parse: optionalString } as OptionSpec<string>,
  namespace: { flag: 'namespace', env: 'SPAWNER_WATCH_NAMESPACE', help: 'watch backends in this namespace only; all namespaces when empty', default: '', parse: optionalString } as OptionSpec<string>,
  activitySource: { flag: 'activity-source', env: 'SPAWNER_ACTIVITY_SOURCE', help: "how a backend that leaves spec.sidecar.enabled unset has its connections counted: node (no sidecar; the sweeper reads the Pod's TCP state from the node and needs hostPID) or sidecar (injected into the Pod)", default: BUILT_IN_ACTIVITY_SOURCE, parse: parsers.oneOf(...DEFAULT_ACTIVITY_SOURCES) } as OptionSpec<DefaultActivitySource>,
  sidecarImage: { flag: 'sidecar-image', env: 'SPAWNER_SIDECAR_IMAGE', help: 'image of the injected sidecar', default: 'localhost/spawner/sidecar:0.1.0', parse: parsers.string } as OptionSpec<string>,
  accessKeyFile: { flag: 'access-key-file', env: 'SPAWNER_ACCESS_KEY_FILE', help: 'file holding the cluster access key (at least 32 bytes; the Secret spawner-access-key) that signs the tokens in backend URLs', default: ACCESS_KEY_FILE, parse: parsers.string } as OptionSpec<string>,
  routedNamespace: { flag: 'routed-namespace', env: 'SPAWNER_BACKEND_NAMESPACE', help: 'the namespace the router serves; backends elsewhere get no URL (condition Routable=False)', default: 'spawner-backends', parse: namespaceName } as OptionSpec<string>,
  publicUrl: { flag: 'public-url', env: 'SPAWNER_PUBLIC_URL', help: 'public base URL of the nginx router; a backend is at <public-url>/p/<name>/', default: 'http://localhost:8080', parse: parsers.url } as OptionSpec<string>,
  metricsPort: { flag: 'metrics-port', env: 'SPAWNER_METRICS_PORT', help: 'port of /metrics, /healthz and /readyz', default: 8081, parse: parsers.listenPort } as OptionSpec<number>,
  concurrency: { flag: 'concurrency', env: 'SPAWNER_CONCURRENCY', help: 'backends reconciled at once (each mostly waits on the API server)', default: 32, parse: (raw: string) => { const n = parsers.nonNegativeInt(raw); if (n < 1 || n > 256) throw new Error('must be from 1 to 256'); return n; } } as OptionSpec<number>,
  leaderElect: { flag: 'leader-elect', env: 'SPAWNER_LEADER_ELECT', help: 'hold a Lease so that only one replica reconciles', default: true, parse: parsers.bool } as OptionSpec<boolean>,
  leaseNamespace: { flag: 'lease-namespace', env: 'POD_NAMESPACE', help: 'namespace of the leader-election Lease', default: 'spawner-system', parse: parsers.string } as OptionSpec<string>,
  leaseName: { flag: 'lease-name', env: 'SPAWNER_LEASE_NAME', help: 'name of the leader-election Lease', default: 'spawner-operator', parse: parsers.string } as OptionSpec<string>,
  identity: { flag: 'identity', env: 'POD_NAME', help: 'this replica\'s name in the Lease', default: hostname(), parse: parsers.string } as OptionSpec<string>,
  keepFailedPods: { flag: 'keep-failed-pods', env: 'SPAWNER_KEEP_FAILED_PODS', help: "keep a Failed backend's Pod (for its logs) until the backend is deleted, instead of deleting it once the failure is recorded", default: false, parse: parsers.bool } as OptionSpec<boolean>,
  resyncSeconds: { flag: 'resync-seconds', env: 'SPAWNER_RESYNC_SECONDS', help: 'look at every backend again this often', default: 600, parse: parsers.nonNegativeInt } as OptionSpec<number>,
  logLevel: { flag: 'log-level', env: 'LOG_LEVEL', help: 'trace, debug, info, warn or error', default: 'info', parse: parsers.oneOf('trace', 'debug', 'info', 'warn', 'error') } as OptionSpec<string>,
  ...httpApiOptions, // off unless --api (SPAWNER_API_ENABLED=true)
};
