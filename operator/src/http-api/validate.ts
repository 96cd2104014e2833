// Requests of the HTTP API, checked field by field. Pure: text in, a typed request (or an HttpApiError
// naming the field) out, so every rule is a table row in operator/test/http-api/validate.test.ts.
import { SIDECAR_ADMIN_PORT, SIDECAR_PROXY_PORT } from '../../../common/contract.ts';
import { CLAIM_TAKES_NO_SESSION_SETTINGS, newBackend, newClaim } from '../../../common/spawner/backend.ts';
import { isBackendName, NAME_RULE } from '../../../common/spawner/names.ts';
import { SPEC_BOUNDS, SPEC_DEFAULTS } from '../../../common/spawner/spec.ts';
import type { SessionLivedBackend } from '../../../common/spawner/types.ts';
import { defaultGracePeriodSeconds, type HttpApiLimits } from './config.ts';

export const MAX_ENV = 64;
export const CREATED_BY_HTTP_API = 'spawner-http-api';
export const GENERATE_NAME = 'session-';

// What the HTTP API answers its caller: an HTTP status and a message that says what failed in the
// caller's terms. Never the API server's own error (KubeApiError), which server.ts translates and logs.
export class HttpApiError extends Error {
  readonly status: number;
  readonly field?: string;
  readonly allow?: string; // with 405: the methods the path takes
  readonly retryAfterSeconds?: number; // with 429 and 503: when to try again
  // `cause`: what the cluster said, for the log only.
  constructor(status: number, message: string, o: { field?: string; allow?: string; retryAfterSeconds?: number; cause?: unknown } = {}) {
    super(message, o.cause === undefined ? undefined : { cause: o.cause });
    this.name = 'HttpApiError';
    this.status = status;
    this.field = o.field;
    this.allow = o.allow;
    this.retryAfterSeconds = o.retryAfterSeconds;
  }
}

export interface InitRequest {
  image: string;
  port: number;
  env: Array<{ name: string; value: string }>;
  gracePeriodSeconds: number;
  maxLifetimeSeconds: number;
  // Claim a started member of this WarmPool instead (image, port and env then come from its template).
  pool?: string;
}

// What POST /init falls back on and how far it lets a caller go (see config.ts). `pool`: the WarmPool a
// request that asks for nothing only a cold start gives claims from.
export interface InitDefaults extends Pick<HttpApiLimits, 'maxGracePeriodSeconds' | 'defaultMaxLifetimeSeconds' | 'maxLifetimeSeconds'> {
  image: string;
  pool?: string;
}

export const FIELDS = ['image', 'port', 'env', 'gracePeriodSeconds', 'maxLifetimeSeconds', 'pool'];
// What a claim cannot take from the request: its pool's template decides them.
const COLD_ONLY = ['env', 'image', 'port'];
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

const bad = (field: string, message: string) => new HttpApiError(400, `${field}: ${message}`, { field });

function wholeNumber(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw bad(field, `must be a whole number from ${min} to ${max} (got ${JSON.stringify(value)})`);
  }
  return value;
}

// A spec field within the schema's lower bound and this API's maximum (never above the schema's).
function limitedField(value: unknown, field: 'gracePeriodSeconds' | 'maxLifetimeSeconds', max: number): number {
  return wholeNumber(value, field, SPEC_BOUNDS[field].minimum, Math.min(max, SPEC_BOUNDS[field].maximum));
}

function parseEnv(value: unknown): InitRequest['env'] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw bad('env', 'must be an object of NAME: "value" pairs');
  }
  const entries = Object.entries(value);
  if (entries.length > MAX_ENV) throw bad('env', `at most ${MAX_ENV} variables`);
  return entries.map(([name, v]) => {
    const field = `env.${name}`;
    if (!ENV_NAME.test(name)) throw bad(field, "not a valid variable name (letters, digits, '_', '-', '.'; not starting with a digit)");
    if (name === 'PORT') throw bad(field, 'PORT is set by Spawner from port; set port instead');
    if (typeof v !== 'string') throw bad(field, `must be a string (got ${JSON.stringify(v)})`);
    return { name, value: v };
  });
}

export function parseInitRequest(text: string, defaults: InitDefaults): InitRequest {
  let body: unknown = {};
  if (text.trim() !== '') {
    try {
      body = JSON.parse(text);
    } catch (err) {
      throw new HttpApiError(400, `the body is not valid JSON: ${(err as Error).message}`);
    }
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpApiError(400, 'the body must be a JSON object, e.g. {"image": "…", "port": 8080}');
  }
  const obj = body as Record<string, unknown>;
  const unknown = Object.keys(obj).find((k) => !FIELDS.includes(k));
  if (unknown !== undefined) throw bad(unknown, `unknown field; allowed: ${FIELDS.join(', ')}`);
  if (obj.pool !== undefined) {
    if (typeof obj.pool !== 'string' || !isBackendName(obj.pool)) throw bad('pool', `must be a WarmPool's name: ${NAME_RULE}`);
    const cold = COLD_ONLY.find((k) => obj[k] !== undefined);
    if (cold === 'env') throw bad('env', `cannot be combined with pool: ${CLAIM_TAKES_NO_SESSION_SETTINGS}; leave pool out to start cold with these variables`);
    if (cold !== undefined) throw bad(cold, `cannot be combined with pool: the pool's template gives the ${cold}`);
  }
  const pool = (obj.pool as string | undefined) ?? (COLD_ONLY.some((k) => obj[k] !== undefined) ? undefined : defaults.pool);

  let image = defaults.image;
  if (obj.image !== undefined) {
    if (typeof obj.image !== 'string' || obj.image.trim() === '' || /\s/.test(obj.image) || obj.image.length > 1024) {
      throw bad('image', 'must be a non-empty image reference without spaces');
    }
    image = obj.image;
  }
  const port = obj.port === undefined ? SPEC_DEFAULTS.httpPort : wholeNumber(obj.port, 'port', SPEC_BOUNDS.httpPort.minimum, SPEC_BOUNDS.httpPort.maximum);
  if (port === SIDECAR_PROXY_PORT || port === SIDECAR_ADMIN_PORT) {
    throw bad('port', `${port} is taken by the sidecar (${SIDECAR_PROXY_PORT} proxy, ${SIDECAR_ADMIN_PORT} admin)`);
  }
  const request: InitRequest = {
    image,
    port,
    env: obj.env === undefined ? [] : parseEnv(obj.env),
    gracePeriodSeconds:
      obj.gracePeriodSeconds === undefined ? defaultGracePeriodSeconds(defaults) : limitedField(obj.gracePeriodSeconds, 'gracePeriodSeconds', defaults.maxGracePeriodSeconds),
    // Every backend of the API has a lifetime: an open tab must not hold a Pod for ever.
    maxLifetimeSeconds:
      obj.maxLifetimeSeconds === undefined ? defaults.defaultMaxLifetimeSeconds : limitedField(obj.maxLifetimeSeconds, 'maxLifetimeSeconds', defaults.maxLifetimeSeconds),
  };
  if (pool !== undefined) request.pool = pool;
  return request;
}

export function backendFromInit(req: InitRequest, namespace: string): SessionLivedBackend {
  if (req.pool !== undefined) {
    return newClaim({ namespace, generateName: GENERATE_NAME, createdBy: CREATED_BY_HTTP_API, pool: req.pool, gracePeriodSeconds: req.gracePeriodSeconds, maxLifetimeSeconds: req.maxLifetimeSeconds });
  }
  return newBackend({
    namespace,
    generateName: GENERATE_NAME,
    createdBy: CREATED_BY_HTTP_API,
    image: req.image,
    port: req.port,
    env: req.env,
    gracePeriodSeconds: req.gracePeriodSeconds,
    maxLifetimeSeconds: req.maxLifetimeSeconds,
  });
}

// A path parameter that cannot be a backend's name: 400 naming it (it could never be found).
export function backendNameParam(raw: string): string {
  let name: string;
  try {
    name = decodeURIComponent(raw);
  } catch {
    throw bad('name', 'is not a valid backend name');
  }
  if (!isBackendName(name)) throw bad('name', `is not a valid backend name: ${NAME_RULE}`);
  return name;
}

export interface StatusView {
  phase: string;
  url: string | null;
  reason: string | null;
  message: string | null;
}

// What GET /backends/NAME/status answers; the CRD defaults phase to Pending before the operator writes.
export function statusView(slb: SessionLivedBackend): StatusView {
  const s = slb.status ?? {};
  return { phase: s.phase ?? 'Pending', url: s.url ?? null, reason: s.reason ?? null, message: s.message ?? null };
}

export function sameView(a: StatusView | undefined, b: StatusView): boolean {
  return a !== undefined && a.phase === b.phase && a.url === b.url && a.reason === b.reason && a.message === b.message;
}

// Routing, also pure: method and path to a handler name and its parameter.
export type Route =
  | { kind: 'init' }
  | { kind: 'status'; name: string }
  | { kind: 'stream'; name: string }
  | { kind: 'delete'; name: string }
  | { kind: 'health' };

export function route(method: string, rawPath: string): Route {
  const path = rawPath.split('?')[0]!;
  const allow = (expected: string): void => {
    if (method !== expected) throw new HttpApiError(405, `${method} ${path} is not allowed: it takes ${expected}`, { allow: expected });
  };
  if (path === '/init') {
    allow('POST');
    return { kind: 'init' };
  }
  if (path === '/healthz') {
    allow('GET');
    return { kind: 'health' };
  }
  const m = /^\/backends\/([^/]+)(\/status(\/stream)?)?$/.exec(path);
  if (m) {
    const name = backendNameParam(m[1]!);
    if (m[3]) {
      allow('GET');
      return { kind: 'stream', name };
    }
    if (m[2]) {
      allow('GET');
      return { kind: 'status', name };
    }
    allow('DELETE');
    return { kind: 'delete', name };
  }
  throw new HttpApiError(404, `no route ${method} ${path}: see docs/api/openapi.yaml`);
}
