// The one builder of a new SessionLivedBackend from a few plain settings: the CLI's `spawner create`
// flags and the HTTP API's POST /init both describe a backend this way.
import type { V1Container } from '@kubernetes/client-node';
import { API_VERSION, FINALIZER, KIND } from '../contract.ts';
import type { SessionLivedBackend } from './types.ts';

export const APP_CONTAINER = 'app';
// Who asked for the backend (spawner-cli, spawner-http-api): for `kubectl get slb -l …` and audits.
export const CREATED_BY_LABEL = 'app.kubernetes.io/created-by';

export interface NewBackend {
  namespace: string;
  name?: string; // the whole name, or
  generateName?: string; // a prefix the API server completes
  createdBy: string;
  image: string;
  port: number;
  env?: Array<{ name: string; value: string }>;
  gracePeriodSeconds: number;
  maxLifetimeSeconds?: number;
  startupTimeoutSeconds?: number;
  sidecar?: boolean; // false: no sidecar, the app serves /status itself; unset: the operator's default
}

// A backend that claims a started member of a WarmPool: its pool's template applies, so only what a
// session may choose is here (how long it may sit idle, how long it may live at most).
export interface NewClaim {
  namespace: string;
  name?: string;
  generateName?: string;
  createdBy: string;
  pool: string;
  gracePeriodSeconds: number;
  maxLifetimeSeconds?: number;
}

// Why a claim takes no per-session settings (environment variables, image, port…), in the words every
// surface (schema, CLI, HTTP API) uses.
export const CLAIM_TAKES_NO_SESSION_SETTINGS =
  "a pooled backend was started from the pool's template before this session existed, so per-session settings need a cold start";

// Who, where, under which name; and the limits every backend takes from its creator.
function backendShell(o: { namespace: string; name?: string; generateName?: string; createdBy: string }, spec: SessionLivedBackend['spec'], maxLifetimeSeconds?: number): SessionLivedBackend {
  const slb: SessionLivedBackend = {
    apiVersion: API_VERSION as SessionLivedBackend['apiVersion'],
    kind: KIND as SessionLivedBackend['kind'],
    metadata: {
      namespace: o.namespace,
      labels: { [CREATED_BY_LABEL]: o.createdBy },
      // The operator's finalizer from the start: its first reconcile creates the Pod at once instead of
      // first patching this in (one write and one API round trip less per backend, the slowest part of a
      // cold start in a burst), and no child can ever exist beside a backend that could vanish without
      // the operator's teardown. The operator adds it itself to backends created without it (kubectl).
      finalizers: [FINALIZER],
      ...(o.name !== undefined ? { name: o.name } : { generateName: o.generateName }),
    },
    spec,
  };
  if (maxLifetimeSeconds !== undefined) slb.spec.maxLifetimeSeconds = maxLifetimeSeconds;
  return slb;
}

export function newClaim(c: NewClaim): SessionLivedBackend {
  return backendShell(c, { poolRef: { name: c.pool }, gracePeriodSeconds: c.gracePeriodSeconds }, c.maxLifetimeSeconds);
}

export function newBackend(b: NewBackend): SessionLivedBackend {
  const app: V1Container = { name: APP_CONTAINER, image: b.image };
  if (b.env?.length) app.env = b.env.map(({ name, value }) => ({ name, value }));
  const slb = backendShell(b, { template: { containers: [app] }, httpPort: b.port, gracePeriodSeconds: b.gracePeriodSeconds }, b.maxLifetimeSeconds);
  if (b.startupTimeoutSeconds !== undefined) slb.spec.startupTimeoutSeconds = b.startupTimeoutSeconds;
  if (b.sidecar === false) slb.spec.sidecar = { enabled: false };
  return slb;
}
