// The route service's flags and environment variables, validated before anything starts.
import { parsers, type OptionSpec } from '../../common/config.ts';
import { readAccessKeyFile, type AccessKey } from '../../common/spawner/access.ts';
import type { CookieSecure } from './service.ts';

const dnsLabel = (raw: string): string => {
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(raw)) throw new Error('must be a namespace name (a DNS label)');
  return raw;
};

// Read and checked at start-up, so a missing or short key stops the process naming the flag. The
// key's bytes are never echoed in a message.
const accessKeyFile = (raw: string): { file: string; key: AccessKey } => ({ file: raw, key: readAccessKeyFile(raw) });

export const routerSpecs = {
  namespace: { flag: 'namespace', env: 'SPAWNER_BACKEND_NAMESPACE', help: 'the namespace whose backends are routed (the only one)', default: 'spawner-backends', parse: dnsLabel } as OptionSpec<string>,
  accessKey: { flag: 'access-key-file', env: 'SPAWNER_ACCESS_KEY_FILE', help: 'file holding the cluster access key (at least 32 bytes)', default: undefined, parse: accessKeyFile } as OptionSpec<{ file: string; key: AccessKey }>,
  kubeconfig: { flag: 'kubeconfig', env: 'KUBECONFIG', help: 'kubeconfig file (empty: in-cluster service account)', default: '', parse: (raw: string) => raw.trim() } as OptionSpec<string>,
  listenHost: { flag: 'listen-host', env: 'SPAWNER_ROUTE_HOST', help: 'address the route port binds to; loopback, as only nginx in the same Pod asks', default: '127.0.0.1', parse: parsers.string } as OptionSpec<string>,
  port: { flag: 'port', env: 'SPAWNER_ROUTE_PORT', help: "port of nginx's auth_request (/route), /ended and /readyz (0: any free port)", default: 8090, parse: parsers.listenPort } as OptionSpec<number>,
  healthPort: { flag: 'health-port', env: 'SPAWNER_ROUTE_HEALTH_PORT', help: "port of /healthz, /readyz and /metrics on every interface, for the kubelet's probes (0: any free port)", default: 8091, parse: parsers.listenPort } as OptionSpec<number>,
  sidecarByDefault: { flag: 'sidecar-by-default', env: 'SPAWNER_SIDECAR_BY_DEFAULT', help: "whether a backend that leaves spec.sidecar.enabled unset has the sidecar (traffic then goes to its port 9090); the operator's default", default: true, parse: parsers.bool } as OptionSpec<boolean>,
  lookupTimeoutMs: { flag: 'lookup-timeout-ms', env: 'SPAWNER_ROUTE_LOOKUP_TIMEOUT_MS', help: 'time allowed for reading a backend from the API server while a request waits', default: 2000, parse: parsers.positiveNumber } as OptionSpec<number>,
  routeWhenListening: { flag: 'route-when-listening', env: 'SPAWNER_ROUTE_WHEN_LISTENING', help: "route a starting backend as soon as its Pod, marked by the operator (spawner.dev/routable-when-listening), accepts a connection on the marked port, before it is Ready (needs get on pods in the namespace)", default: true, parse: parsers.bool } as OptionSpec<boolean>,
  listeningConnectTimeoutMs: { flag: 'listening-connect-timeout-ms', env: 'SPAWNER_ROUTE_LISTENING_CONNECT_TIMEOUT_MS', help: "time allowed for a connect to a starting backend's port while a request waits (nothing answering by then: starting)", default: 250, parse: parsers.positiveNumber } as OptionSpec<number>,
  listeningRememberMs: { flag: 'listening-remember-ms', env: 'SPAWNER_ROUTE_LISTENING_REMEMBER_MS', help: "how long a starting backend found listening keeps being routed without reading it again (until the cache shows it Ready, normally sooner)", default: 5000, parse: parsers.positiveNumber } as OptionSpec<number>,
  cookieSecure: { flag: 'cookie-secure', env: 'SPAWNER_COOKIE_SECURE', help: "mark the access cookie Secure: auto (when nginx served https), true (behind a TLS proxy), false", default: 'auto', parse: parsers.oneOf('auto', 'true', 'false') } as OptionSpec<CookieSecure>,
  shutdownDelaySeconds: { flag: 'shutdown-delay-seconds', env: 'SPAWNER_ROUTE_SHUTDOWN_DELAY_SECONDS', help: 'after SIGTERM, keep answering this long (unready) while nginx, stopping beside it, may still ask', default: 3, parse: parsers.nonNegativeInt } as OptionSpec<number>,
  logLevel: { flag: 'log-level', env: 'LOG_LEVEL', help: 'trace, debug, info, warn or error', default: 'info', parse: parsers.oneOf('trace', 'debug', 'info', 'warn', 'error') } as OptionSpec<string>,
};
