// The HTTP API's part of the operator's configuration. It is off unless --api (SPAWNER_API_ENABLED) is
// true; when on, the bearer token must be set, or the process refuses to start naming the variable.
import { ConfigError, parsers, type OptionSpec } from '../../../common/config.ts';
import { isBackendName, NAME_RULE } from '../../../common/spawner/names.ts';
import { SPEC_BOUNDS, SPEC_DEFAULTS } from '../../../common/spawner/spec.ts';

const optionalString = (raw: string) => raw;

export const TOKEN_ENV = 'SPAWNER_API_TOKEN';
export const MIN_TOKEN_LENGTH = 16;

export const httpApiOptions = {
  apiEnabled: { flag: 'api', env: 'SPAWNER_API_ENABLED', help: 'serve the HTTP API (POST /init, GET /backends/NAME/status, …)', default: false, parse: parsers.bool } as OptionSpec<boolean>,
  apiPort: { flag: 'api-port', env: 'SPAWNER_API_PORT', help: 'port of the HTTP API (0: any free port)', default: 8082, parse: parsers.listenPort } as OptionSpec<number>,
  // A flag exists for symmetry; the token belongs in the environment (from a Secret), not in `ps` output.
  apiToken: { flag: 'api-token', env: TOKEN_ENV, help: `bearer token callers of the HTTP API must send (at least ${MIN_TOKEN_LENGTH} characters); required with --api`, default: '', parse: optionalString } as OptionSpec<string>,
  apiNamespace: { flag: 'api-namespace', env: 'SPAWNER_API_NAMESPACE', help: 'namespace the HTTP API creates backends in (the one the router serves)', default: 'spawner-backends', parse: parsers.string } as OptionSpec<string>,
  apiDefaultPool: { flag: 'api-default-pool', env: 'SPAWNER_API_DEFAULT_POOL', help: 'WarmPool (in --api-namespace) that POST /init claims from when the request names neither image, port, env nor pool; none when empty', default: '', parse: optionalString } as OptionSpec<string>,
  apiDefaultImage: { flag: 'api-default-image', env: 'SPAWNER_API_DEFAULT_IMAGE', help: 'image of a backend when POST /init names none', default: 'localhost/spawner/drop-four:0.1.0', parse: parsers.string } as OptionSpec<string>,
  // What one caller may ask for: a token holder is trusted to create sessions, not to hold a cluster.
  apiMaxGracePeriodSeconds: { flag: 'api-max-grace-period-seconds', env: 'SPAWNER_API_MAX_GRACE_PERIOD_SECONDS', help: 'the largest gracePeriodSeconds POST /init accepts', default: 3600, parse: parsers.nonNegativeInt } as OptionSpec<number>,
  apiDefaultMaxLifetimeSeconds: { flag: 'api-default-max-lifetime-seconds', env: 'SPAWNER_API_DEFAULT_MAX_LIFETIME_SECONDS', help: 'maxLifetimeSeconds of a backend when POST /init names none', default: 28_800, parse: parsers.nonNegativeInt } as OptionSpec<number>,
  apiMaxLifetimeSeconds: { flag: 'api-max-lifetime-seconds', env: 'SPAWNER_API_MAX_LIFETIME_SECONDS', help: 'the largest maxLifetimeSeconds POST /init accepts', default: 86_400, parse: parsers.nonNegativeInt } as OptionSpec<number>,
  apiInitPerSecond: { flag: 'api-init-per-second', env: 'SPAWNER_API_INIT_PER_SECOND', help: 'POST /init answered per second, sustained, per token and replica (429 beyond)', default: 10, parse: parsers.positiveNumber } as OptionSpec<number>,
  apiInitBurst: { flag: 'api-init-burst', env: 'SPAWNER_API_INIT_BURST', help: 'POST /init answered at once before the rate applies', default: 20, parse: parsers.nonNegativeInt } as OptionSpec<number>,
  apiMaxStreams: { flag: 'api-max-streams', env: 'SPAWNER_API_MAX_STREAMS', help: 'status streams open at once per token and replica (each holds a watch; 429 beyond)', default: 100, parse: parsers.nonNegativeInt } as OptionSpec<number>,
};

export interface HttpApiLimits {
  maxGracePeriodSeconds: number;
  defaultMaxLifetimeSeconds: number;
  maxLifetimeSeconds: number;
  initPerSecond: number;
  initBurst: number;
  maxStreams: number;
}

export interface HttpApiSettings {
  port: number;
  token: string;
  namespace: string;
  defaultImage: string;
  defaultPool?: string;
  limits: HttpApiLimits;
}

interface WithApiOptions {
  namespace: string; // the operator's watch namespace; empty for all
  apiEnabled: boolean;
  apiPort: number;
  apiToken: string;
  apiNamespace: string;
  apiDefaultImage: string;
  apiDefaultPool?: string;
  apiMaxGracePeriodSeconds: number;
  apiDefaultMaxLifetimeSeconds: number;
  apiMaxLifetimeSeconds: number;
  apiInitPerSecond: number;
  apiInitBurst: number;
  apiMaxStreams: number;
}

// Each maximum within what the CRD itself accepts, the default lifetime within the maximum.
function checkLimits(c: WithApiOptions): HttpApiLimits {
  const within = (flag: string, env: string, value: number, field: keyof typeof SPEC_BOUNDS) => {
    const { minimum, maximum } = SPEC_BOUNDS[field];
    if (value < minimum || value > maximum) throw new ConfigError(`--${flag} (${env}) = ${value} is invalid: spec.${field} takes ${minimum} to ${maximum}`);
  };
  within('api-max-grace-period-seconds', 'SPAWNER_API_MAX_GRACE_PERIOD_SECONDS', c.apiMaxGracePeriodSeconds, 'gracePeriodSeconds');
  within('api-max-lifetime-seconds', 'SPAWNER_API_MAX_LIFETIME_SECONDS', c.apiMaxLifetimeSeconds, 'maxLifetimeSeconds');
  within('api-default-max-lifetime-seconds', 'SPAWNER_API_DEFAULT_MAX_LIFETIME_SECONDS', c.apiDefaultMaxLifetimeSeconds, 'maxLifetimeSeconds');
  if (c.apiDefaultMaxLifetimeSeconds > c.apiMaxLifetimeSeconds) {
    throw new ConfigError(
      `--api-default-max-lifetime-seconds (${c.apiDefaultMaxLifetimeSeconds}) must not exceed --api-max-lifetime-seconds (${c.apiMaxLifetimeSeconds})`,
    );
  }
  if (c.apiInitBurst < 1) throw new ConfigError(`--api-init-burst (SPAWNER_API_INIT_BURST) = ${c.apiInitBurst} is invalid: at least 1, or POST /init would never be answered`);
  if (c.apiMaxStreams < 1) throw new ConfigError(`--api-max-streams (SPAWNER_API_MAX_STREAMS) = ${c.apiMaxStreams} is invalid: at least 1, or no status stream could open`);
  return {
    maxGracePeriodSeconds: c.apiMaxGracePeriodSeconds,
    defaultMaxLifetimeSeconds: c.apiDefaultMaxLifetimeSeconds,
    maxLifetimeSeconds: c.apiMaxLifetimeSeconds,
    initPerSecond: c.apiInitPerSecond,
    initBurst: c.apiInitBurst,
    maxStreams: c.apiMaxStreams,
  };
}

// The limits when no flag says otherwise (the options' defaults).
export const DEFAULT_HTTP_API_LIMITS: HttpApiLimits = {
  maxGracePeriodSeconds: httpApiOptions.apiMaxGracePeriodSeconds.default!,
  defaultMaxLifetimeSeconds: httpApiOptions.apiDefaultMaxLifetimeSeconds.default!,
  maxLifetimeSeconds: httpApiOptions.apiMaxLifetimeSeconds.default!,
  initPerSecond: httpApiOptions.apiInitPerSecond.default!,
  initBurst: httpApiOptions.apiInitBurst.default!,
  maxStreams: httpApiOptions.apiMaxStreams.default!,
};

// A request that names no gracePeriodSeconds gets the CRD's default, or this API's maximum if lower.
export function defaultGracePeriodSeconds(limits: Pick<HttpApiLimits, 'maxGracePeriodSeconds'>): number {
  return Math.min(SPEC_DEFAULTS.gracePeriodSeconds, limits.maxGracePeriodSeconds);
}

const NAMESPACE_PATTERN = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

// undefined when the API is off; throws ConfigError naming the flag/variable when it cannot start.
export function httpApiSettings(config: WithApiOptions): HttpApiSettings | undefined {
  if (!config.apiEnabled) return undefined;
  const token = config.apiToken.trim();
  if (token === '') {
    throw new ConfigError(`${TOKEN_ENV} (or --api-token) is required when the HTTP API is enabled (--api / SPAWNER_API_ENABLED=true): set it from a Secret`);
  }
  if (token.length < MIN_TOKEN_LENGTH) {
    throw new ConfigError(`${TOKEN_ENV} is too short: use at least ${MIN_TOKEN_LENGTH} random characters (e.g. openssl rand -hex 32)`);
  }
  if (!NAMESPACE_PATTERN.test(config.apiNamespace)) {
    throw new ConfigError(`--api-namespace (SPAWNER_API_NAMESPACE) = '${config.apiNamespace}' is invalid: must be a namespace name`);
  }
  if (config.namespace !== '' && config.namespace !== config.apiNamespace) {
    throw new ConfigError(
      `--api-namespace (SPAWNER_API_NAMESPACE) = '${config.apiNamespace}' is outside the namespace this operator watches (--namespace = '${config.namespace}'): backends created there would never start`,
    );
  }
  if (/\s/.test(config.apiDefaultImage)) {
    throw new ConfigError(`--api-default-image (SPAWNER_API_DEFAULT_IMAGE) = '${config.apiDefaultImage}' is invalid: an image reference has no spaces`);
  }
  const defaultPool = config.apiDefaultPool?.trim() || undefined;
  if (defaultPool !== undefined && !isBackendName(defaultPool)) {
    throw new ConfigError(`--api-default-pool (SPAWNER_API_DEFAULT_POOL) = '${defaultPool}' is invalid: a WarmPool's name: ${NAME_RULE}`);
  }
  return { port: config.apiPort, token, namespace: config.apiNamespace, defaultImage: config.apiDefaultImage, ...(defaultPool ? { defaultPool } : {}), limits: checkLimits(config) };
}

// For the process entry point: same message format and exit code as loadConfigOrExit.
export function httpApiSettingsOrExit(component: string, config: WithApiOptions): HttpApiSettings | undefined {
  try {
    return httpApiSettings(config);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${component}: invalid configuration: ${err.message}\n`);
    process.exit(2);
  }
}
