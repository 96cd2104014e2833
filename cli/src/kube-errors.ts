// Turns what the API server (or the network) said into a CliError a person can act on. Pure: the
// request's context comes in as data, so every case is a table row in the tests.
import { CliError, EXIT } from './errors.ts';

export interface RequestContext {
  verb: 'get' | 'list' | 'watch' | 'create' | 'delete' | 'patch';
  namespace?: string; // undefined: all namespaces
  name?: string;
  server: string; // the API server's URL, named in connection errors
  context?: string; // the kubeconfig context, named in hints
}

export interface ApiStatus {
  message?: string;
  reason?: string;
  details?: { name?: string; kind?: string; group?: string; causes?: { field?: string; message?: string }[] };
}

// The shape of KubeApiError from common/kube/rest.ts, and of a Node network error.
export interface ErrorLike {
  statusCode?: number;
  status?: ApiStatus;
  code?: string | number;
  message?: string;
}

export const RESOURCE = 'sessionlivedbackends.spawner.dev';
export const INSTALL_HINT = 'install it with `spawner print-crd | kubectl apply -f -` (or `make deploy` from the Spawner checkout)';

const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE',
  'CERT_HAS_EXPIRED', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'ERR_TLS_CERT_ALTNAME_INVALID', 'EPROTO',
]);

function where(ns: string | undefined): string {
  return ns === undefined ? 'in all namespaces' : `in namespace "${ns}"`;
}

function contextHint(ctx: RequestContext): string {
  return ctx.context ? ` (kubeconfig context "${ctx.context}")` : '';
}

export function describeKubeError(err: ErrorLike, ctx: RequestContext): CliError {
  const status = err.statusCode;
  if (status === undefined || status === 0) {
    const code = typeof err.code === 'string' ? err.code : undefined;
    if ((code && NETWORK_CODES.has(code)) || /timed out|socket hang up/i.test(err.message ?? '')) {
      return new CliError(
        EXIT.cluster,
        `cannot reach the Kubernetes API server at ${ctx.server}${contextHint(ctx)}: ${err.message ?? code}`,
        'check that the cluster is running and that your kubeconfig points at it (--kubeconfig, --context, KUBECONFIG)',
      );
    }
    return new CliError(EXIT.error, `${ctx.verb} ${RESOURCE} failed: ${err.message ?? String(err.code)}`);
  }
  const apiMessage = err.status?.message ?? err.message ?? `HTTP ${status}`;
  if (status === 401) {
    return new CliError(
      EXIT.denied,
      `the API server at ${ctx.server} rejected your credentials${contextHint(ctx)} (401 Unauthorized)`,
      'log in again or pick another context (--context)',
    );
  }
  if (status === 403) {
    const who = /User "([^"]+)"/.exec(apiMessage)?.[1];
    return new CliError(
      EXIT.denied,
      `forbidden: ${who ? `"${who}"` : 'you'} may not ${ctx.verb} ${RESOURCE} ${where(ctx.namespace)}`,
      `ask a cluster admin for a Role${ctx.namespace === undefined ? ' (a ClusterRole for -A)' : ''} granting "${ctx.verb}" on sessionlivedbackends in API group spawner.dev; the API server said: ${apiMessage}`,
    );
  }
  if (status === 404) {
    // A missing object comes back as a Status naming it; a missing resource type names nothing.
    if (err.status?.details?.kind === 'namespaces') {
      return new CliError(EXIT.notFound, `namespace "${err.status.details.name ?? ctx.namespace}" does not exist`, 'pick another with -n, or create it: kubectl create namespace NAME');
    }
    if (err.status?.details?.name) {
      return new CliError(EXIT.notFound, `sessionlivedbackend "${err.status.details.name}" not found ${where(ctx.namespace)}`);
    }
    return new CliError(
      EXIT.noCrd,
      `the SessionLivedBackend CRD (${RESOURCE}) is not installed in the cluster at ${ctx.server}`,
      INSTALL_HINT,
    );
  }
  if (status === 409 && err.status?.reason === 'AlreadyExists') {
    return new CliError(
      EXIT.rejected,
      `sessionlivedbackend "${ctx.name ?? err.status.details?.name ?? ''}" already exists ${where(ctx.namespace)}`,
      'choose another --name, or use --prefix to get a generated one',
    );
  }
  if (status === 422 || status === 400) {
    // The API server's message already names each invalid field (spec.httpPort: Invalid value …).
    return new CliError(EXIT.rejected, `the API server rejected the backend: ${apiMessage}`);
  }
  return new CliError(EXIT.error, `${ctx.verb} ${RESOURCE} ${where(ctx.namespace)} failed: ${apiMessage}`);
}
