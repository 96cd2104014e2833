// Start-up configuration from flags and environment variables. Every process calls `parseConfig`
// first and exits with a message naming the flag (and its variable) when a value is wrong.

export interface OptionSpec<T> {
  flag: string; // without the leading dashes, e.g. 'proxy-port'
  env?: string; // e.g. 'SIDECAR_PROXY_PORT'
  help: string;
  default?: T;
  parse: (raw: string) => T; // throws Error with a message saying what is allowed
}

export class ConfigError extends Error {}

export type Specs = Record<string, OptionSpec<unknown>>;
export type ConfigOf<S extends Specs> = { [K in keyof S]: S[K] extends OptionSpec<infer T> ? T : never };

export function parseConfig<S extends Specs>(
  specs: S,
  argv: readonly string[],
  env: Record<string, string | undefined>,
): ConfigOf<S> {
  const byFlag = new Map(Object.entries(specs).map(([key, spec]) => [spec.flag, [key, spec] as const]));
  const raw = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new ConfigError(`unexpected argument '${arg}': options are --flag=value`);
    const eq = arg.indexOf('=');
    const flag = arg.slice(2, eq < 0 ? undefined : eq);
    const entry = byFlag.get(flag);
    if (!entry) {
      throw new ConfigError(`unknown flag --${flag}; known flags: ${[...byFlag.keys()].map((f) => `--${f}`).join(', ')}`);
    }
    let value: string | undefined = eq < 0 ? undefined : arg.slice(eq + 1);
    if (value === undefined) {
      const next = argv[i + 1];
      value = next !== undefined && !next.startsWith('--') ? (i++, next) : 'true';
    }
    raw.set(entry[0], value);
  }
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(specs)) {
    const source = raw.has(key) ? `--${spec.flag}` : spec.env && env[spec.env] !== undefined ? `${spec.env}` : undefined;
    const value = raw.get(key) ?? (spec.env ? env[spec.env] : undefined);
    if (value === undefined) {
      if (spec.default === undefined) {
        throw new ConfigError(`--${spec.flag}${spec.env ? ` (or ${spec.env})` : ''} is required: ${spec.help}`);
      }
      out[key] = spec.default;
      continue;
    }
    try {
      out[key] = spec.parse(value);
    } catch (err) {
      throw new ConfigError(`${source} = '${value}' is invalid: ${(err as Error).message}`);
    }
  }
  return out as ConfigOf<S>;
}

export function usage(specs: Specs): string {
  return Object.values(specs)
    .map((s) => `  --${s.flag}${s.env ? ` (${s.env})` : ''}  ${s.help}${s.default !== undefined ? ` [default: ${String(s.default)}]` : ''}`)
    .join('\n');
}

// Parsers shared by every component.
export const parsers = {
  port: (raw: string): number => {
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n < 1 || n > 65535) throw new Error('must be a whole number from 1 to 65535');
    return n;
  },
  // A port to listen on; 0 lets the kernel pick a free one (tests, several instances on one host).
  listenPort: (raw: string): number => {
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n > 65535) throw new Error('must be a whole number from 0 (any free port) to 65535');
    return n;
  },
  nonNegativeInt: (raw: string): number => {
    if (!/^\d+$/.test(raw)) throw new Error('must be a whole number ≥ 0');
    return Number(raw);
  },
  positiveNumber: (raw: string): number => {
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0) throw new Error('must be a number > 0');
    return n;
  },
  string: (raw: string): string => {
    if (raw.trim() === '') throw new Error('must not be empty');
    return raw;
  },
  bool: (raw: string): boolean => {
    if (raw === 'true' || raw === '1') return true;
    if (raw === 'false' || raw === '0') return false;
    throw new Error("must be 'true' or 'false'");
  },
  url: (raw: string): string => {
    try {
      const u = new URL(raw);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error();
    } catch {
      throw new Error('must be an absolute http(s) URL, e.g. http://localhost:8080');
    }
    return raw.replace(/\/+$/, '');
  },
  oneOf:
    <T extends string>(...allowed: T[]) =>
    (raw: string): T => {
      if (!(allowed as string[]).includes(raw)) throw new Error(`must be one of ${allowed.join(', ')}`);
      return raw as T;
    },
};

// Runs parseConfig for a process entry point: prints the error and usage, exits 2.
export function loadConfigOrExit<S extends Specs>(component: string, specs: S, argv = process.argv.slice(2), env = process.env): ConfigOf<S> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`usage: ${component} [flags]\n${usage(specs)}\n`);
    process.exit(0);
  }
  try {
    return parseConfig(specs, argv, env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${component}: invalid configuration: ${err.message}\nusage: ${component} [flags]\n${usage(specs)}\n`);
    process.exit(2);
  }
}
