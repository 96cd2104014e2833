// The HTTP API's part of the operator's configuration. It is off unless --api (SPAWNER_API_ENABLED) is
// true; when on, the bearer token must be set, or the process refuses to start naming the variable.
import { ConfigError, parsers, type OptionSpec } from '../../../common/config.ts';

const optionalString = (raw: string) => raw;

export const TOKEN_ENV = 'SPAWNER_API_TOKEN';
export const MIN_TOKEN_LENGTH = 16;

export const httpApiOptions = {
  apiEnabled: { flag: 'api', env: 'SPAWNER_API_ENABLED', help: 'serve the HTTP API (POST /init, GET /backends/NAME/status, …)', default: false, parse: parsers.bool } as OptionSpec<boolean>,
  apiPort: { flag: 'api-port', env: 'SPAWNER_API_PORT', help: 'port of the HTTP API (0: any free port)', default: 8082, parse: parsers.listenPort } as OptionSpec<number>,
  // A flag exists for symmetry; the token belongs in the environment (from a Secret), not in `ps` output.
  apiToken: { flag: 'api-token', env: TOKEN_ENV, help: `bearer token callers of the HTTP API must send (at least ${MIN_TOKEN_LENGTH} characters); required with --api`, default: '', parse: optionalString } as OptionSpec<string>,
  apiNamespace: { flag: 'api-namespace', env: 'SPAWNER_API_NAMESPACE', help: 'namespace the HTTP API creates backends in', default: 'default', parse: parsers.string } as OptionSpec<string>,
  apiDefaultImage: { flag: 'api-default-image', env: 'SPAWNER_API_DEFAULT_IMAGE', help: 'image of a backend when POST /init names none', default: 'localhost/spawner/drop-four:0.1.0', parse: parsers.string } as OptionSpec<string>,
};

export interface HttpApiSettings {
  port: number;
  token: string;
  namespace: string;
  defaultImage: string;
}

interface WithApiOptions {
  namespace: string; // the operator's watch namespace; empty for all
  apiEnabled: boolean;
  apiPort: number;
  apiToken: string;
  apiNamespace: string;
  apiDefaultImage: string;
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
  return { port: config.apiPort, token, namespace: config.apiNamespace, defaultImage: config.apiDefaultImage };
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
