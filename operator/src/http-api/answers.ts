// What the API server's refusal means for a caller of the HTTP API, said in the caller's terms. Pure.
// A caller learns what failed and what to do; it never sees the API server's own text, which names the
// operator's service account, internal addresses and resource names (server.ts logs that instead).
import { httpStatus, isAlreadyExists, isNotFound, KubeApiError, type KubeStatusCause } from '../../../common/kube/errors.ts';
import { HttpApiError } from './validate.ts';

const SEE_LOG = "the operator's log has the details";

// The request field a spec path came from, for a refusal by the CRD's own validation.
const FIELD_OF_SPEC: Array<[RegExp, string]> = [
  [/^spec\.httpPort\b/, 'port'],
  [/^spec\.gracePeriodSeconds\b/, 'gracePeriodSeconds'],
  [/^spec\.maxLifetimeSeconds\b/, 'maxLifetimeSeconds'],
  [/^spec\.template\.containers\[0\]\.image\b/, 'image'],
  [/^spec\.template\.containers\[0\]\.env\b/, 'env'],
];

function requestField(causes: KubeStatusCause[] | undefined): string | undefined {
  for (const c of causes ?? []) {
    const found = FIELD_OF_SPEC.find(([re]) => re.test(c.field ?? ''));
    if (found) return found[1];
  }
  return undefined;
}

// `name`: the backend the request was about (404 then means no such backend, not a missing CRD).
export function httpApiErrorFromKube(err: unknown, name?: string): HttpApiError {
  if (err instanceof HttpApiError) return err;
  if (!(err instanceof KubeApiError)) {
    return new HttpApiError(503, 'the cluster cannot be reached right now; try again shortly', { retryAfterSeconds: 5, cause: err });
  }
  const code = httpStatus(err);
  if (isNotFound(err)) {
    return name
      ? new HttpApiError(404, `backend "${name}" not found`, { cause: err })
      : new HttpApiError(503, `backends cannot be created here: the cluster is not set up for Spawner (${SEE_LOG})`, { cause: err });
  }
  if (code === 400 || code === 422) {
    const field = requestField(err.status?.details?.causes);
    return new HttpApiError(400, field ? `${field}: refused by the cluster's validation` : `the backend was refused by the cluster's validation (${SEE_LOG})`, { field, cause: err });
  }
  if (code === 401 || code === 403) return new HttpApiError(500, `the HTTP API is not allowed to do this in the cluster (${SEE_LOG})`, { cause: err });
  // A generated name that was taken, or the API server asking us to slow down: worth a retry.
  if (isAlreadyExists(err) || code === 429) {
    return new HttpApiError(503, 'the cluster is busy; try again shortly', { retryAfterSeconds: Math.max(1, err.status?.details?.retryAfterSeconds ?? 1), cause: err });
  }
  return new HttpApiError(502, `the cluster failed the request (${SEE_LOG})`, { cause: err });
}
