// From parsed flags to typed options per command, checking every value. Pure: each message names the
// flag, the value given and what is allowed.
import type { FlagValue, Parsed } from './args.ts';
import { SIDECAR_ADMIN_PORT, SIDECAR_PROXY_PORT } from '../../common/contract.ts';
import { GENERATE_NAME_RULE, isBackendName, isGenerateNamePrefix, NAME_RULE } from '../../common/spawner/names.ts';
import { SPEC_BOUNDS, SPEC_DEFAULTS } from '../../common/spawner/spec.ts';
import { CLAIM_TAKES_NO_SESSION_SETTINGS } from '../../common/spawner/backend.ts';
import { generateNameFor } from './build.ts';
import { parseDuration } from './duration.ts';
import { UsageError } from './errors.ts';

export const DEFAULT_WAIT_TIMEOUT_MS = 6 * 60_000; // beyond the default startupTimeoutSeconds (300 s)
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

export interface GlobalOptions {
  namespace?: string;
  kubeconfig?: string;
  context?: string;
  requestTimeoutMs: number;
}

export interface BackendFlags {
  image: string;
  port: number;
  gracePeriodSeconds: number;
  maxLifetimeSeconds?: number;
  startupTimeoutSeconds?: number;
  env: [string, string][];
  name?: string;
  prefix?: string;
  sidecar: boolean;
}

// `--pool NAME`: claim a started member of a WarmPool; only the session's own limits and its name apply.
export interface ClaimFlags {
  pool: string;
  gracePeriodSeconds: number;
  maxLifetimeSeconds?: number;
  name?: string;
  prefix?: string;
}

export type CreateSource = { kind: 'flags'; flags: BackendFlags } | { kind: 'pool'; claim: ClaimFlags } | { kind: 'file'; path: string };

export interface CreateOptions {
  source: CreateSource;
  wait: boolean;
  timeoutMs: number;
  output?: 'json' | 'yaml' | 'name';
  dryRun: boolean;
}

export interface GetOptions {
  name?: string;
  allNamespaces: boolean;
  output: 'table' | 'wide' | 'json' | 'yaml' | 'name';
  watch: boolean;
}

export interface WaitOptions {
  name: string;
  for: 'ready' | 'deleted';
  timeoutMs: number;
}

export interface DeleteOptions {
  names: string[];
  wait: boolean;
  timeoutMs: number;
  ignoreNotFound: boolean;
}

const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

function str(flags: Record<string, FlagValue>, key: string): string | undefined {
  const v = flags[key];
  return typeof v === 'string' ? v : undefined;
}

function bool(flags: Record<string, FlagValue>, key: string): boolean {
  return flags[key] === true;
}

export function intFlag(raw: string, flag: string, min: number, max: number): number {
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new UsageError(`--${flag} '${raw}' is invalid: must be a whole number from ${min} to ${max}`);
  }
  return Number(raw);
}

// A flag for a spec field, within the schema's bounds for it.
function boundedFlag(raw: string, flag: string, field: keyof typeof SPEC_BOUNDS): number {
  return intFlag(raw, flag, SPEC_BOUNDS[field].minimum, SPEC_BOUNDS[field].maximum);
}

export function durationFlag(raw: string, flag: string): number {
  let ms: number;
  try {
    ms = parseDuration(raw);
  } catch (err) {
    throw new UsageError(`--${flag}: ${(err as Error).message}`);
  }
  if (ms <= 0) throw new UsageError(`--${flag} '${raw}' is invalid: must be longer than 0s`);
  return ms;
}

// `slb/x` and `sessionlivedbackend.spawner.dev/x` (kubectl's -o name) mean x.
export function backendName(raw: string): string {
  const slash = raw.lastIndexOf('/');
  const kind = slash < 0 ? '' : raw.slice(0, slash);
  if (kind && !/^(slb|slbs|sessionlivedbackends?(\.spawner\.dev)?)$/.test(kind)) {
    throw new UsageError(`'${raw}' is not a backend: give NAME, slb/NAME or sessionlivedbackend.spawner.dev/NAME`);
  }
  const name = raw.slice(slash + 1);
  if (!isBackendName(name)) throw new UsageError(`'${raw}' is not a valid backend name: ${NAME_RULE}`);
  return name;
}

export function globalOptions(p: Parsed): GlobalOptions {
  const namespace = str(p.flags, 'namespace');
  if (namespace !== undefined && !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(namespace)) {
    throw new UsageError(`--namespace '${namespace}' is not a valid namespace name: lowercase letters, digits and '-', at most 63 characters`);
  }
  const rt = str(p.flags, 'request-timeout');
  return {
    namespace,
    kubeconfig: str(p.flags, 'kubeconfig'),
    context: str(p.flags, 'context'),
    requestTimeoutMs: rt === undefined ? DEFAULT_REQUEST_TIMEOUT_MS : durationFlag(rt, 'request-timeout'),
  };
}

function parseEnv(list: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (const item of list) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new UsageError(`--env '${item}' is invalid: write NAME=VALUE`);
    const name = item.slice(0, eq);
    if (!ENV_NAME.test(name)) {
      throw new UsageError(`--env '${item}': '${name}' is not a valid variable name (letters, digits, '_', '-', '.'; not starting with a digit)`);
    }
    if (name === 'PORT') throw new UsageError(`--env PORT is set by Spawner from --port; set --port instead`);
    if (out.some(([n]) => n === name)) throw new UsageError(`--env ${name} is given more than once`);
    out.push([name, item.slice(eq + 1)]);
  }
  return out;
}

const FLAG_ONLY_KEYS = [
  'image', 'port', 'grace-period-seconds', 'max-lifetime-seconds', 'startup-timeout-seconds', 'env', 'name', 'prefix', 'no-sidecar', 'pool',
];

// What a claim cannot take: the pool's template decides them (the environment is the session's own, so
// the message says why it needs a cold start).
const NOT_WITH_POOL: Array<[string, string]> = [
  ['env', `--env cannot be combined with --pool: ${CLAIM_TAKES_NO_SESSION_SETTINGS}; drop --pool to start cold with these variables`],
  ['image', '--image cannot be combined with --pool: the pool\'s template gives the image'],
  ['port', '--port cannot be combined with --pool: the pool\'s template gives the port'],
  ['startup-timeout-seconds', '--startup-timeout-seconds cannot be combined with --pool: the pool\'s applies'],
  ['no-sidecar', '--no-sidecar cannot be combined with --pool: the pool\'s template decides the sidecar'],
];

export function createOptions(p: Parsed): CreateOptions {
  const f = p.flags;
  const wait = bool(f, 'wait');
  const timeout = str(f, 'timeout');
  if (timeout !== undefined && !wait) throw new UsageError('--timeout applies only with --wait', 'create');
  const common = {
    wait,
    timeoutMs: timeout === undefined ? DEFAULT_WAIT_TIMEOUT_MS : durationFlag(timeout, 'timeout'),
    output: str(f, 'output') as CreateOptions['output'],
    dryRun: bool(f, 'dry-run'),
  };
  if (common.dryRun && wait) throw new UsageError('--dry-run and --wait cannot be combined', 'create');
  const file = str(f, 'filename');
  if (file !== undefined) {
    const clashing = FLAG_ONLY_KEYS.filter((k) => f[k] !== undefined);
    if (clashing.length) {
      throw new UsageError(
        `-f takes the whole backend from the file; it cannot be combined with ${clashing.map((k) => `--${k}`).join(', ')}`,
        'create',
      );
    }
    return { source: { kind: 'file', path: file }, ...common };
  }
  const pool = str(f, 'pool');
  if (pool !== undefined) return { source: { kind: 'pool', claim: claimFlags(f, pool) }, ...common };
  const image = str(f, 'image');
  if (image === undefined) throw new UsageError('--image is required (or --pool NAME, or -f FILE)', 'create');
  if (image.trim() === '' || /\s/.test(image)) throw new UsageError(`--image '${image}' is invalid: must be an image reference without spaces`, 'create');
  const sidecar = !bool(f, 'no-sidecar');
  const portRaw = str(f, 'port');
  const port = portRaw === undefined ? SPEC_DEFAULTS.httpPort : intFlag(portRaw, 'port', SPEC_BOUNDS.httpPort.minimum, SPEC_BOUNDS.httpPort.maximum);
  if (sidecar && (port === SIDECAR_PROXY_PORT || port === SIDECAR_ADMIN_PORT)) {
    throw new UsageError(
      `--port ${port} is taken by the sidecar (${SIDECAR_PROXY_PORT} proxy, ${SIDECAR_ADMIN_PORT} admin): use another port, or --no-sidecar`,
      'create',
    );
  }
  const grace = str(f, 'grace-period-seconds');
  const life = str(f, 'max-lifetime-seconds');
  const startup = str(f, 'startup-timeout-seconds');
  const { name, prefix } = nameFlags(f);
  const flags: BackendFlags = {
    image,
    port,
    gracePeriodSeconds: grace === undefined ? SPEC_DEFAULTS.gracePeriodSeconds : boundedFlag(grace, 'grace-period-seconds', 'gracePeriodSeconds'),
    env: parseEnv((f.env as string[] | undefined) ?? []),
    sidecar,
  };
  if (life !== undefined) flags.maxLifetimeSeconds = boundedFlag(life, 'max-lifetime-seconds', 'maxLifetimeSeconds');
  if (startup !== undefined) flags.startupTimeoutSeconds = boundedFlag(startup, 'startup-timeout-seconds', 'startupTimeoutSeconds');
  if (name !== undefined) flags.name = name;
  if (prefix !== undefined) flags.prefix = prefix;
  return { source: { kind: 'flags', flags }, ...common };
}

function nameFlags(f: Record<string, FlagValue>): { name?: string; prefix?: string } {
  const name = str(f, 'name');
  const prefix = str(f, 'prefix');
  if (name !== undefined && prefix !== undefined) throw new UsageError('--name and --prefix cannot be combined: --name is the whole name', 'create');
  if (name !== undefined && !isBackendName(name)) throw new UsageError(`--name '${name}' is invalid: ${NAME_RULE}`, 'create');
  // A '-' is added to a prefix that lacks one: the rule applies to what is sent.
  if (prefix !== undefined && !isGenerateNamePrefix(generateNameFor(prefix))) {
    throw new UsageError(`--prefix '${prefix}' is invalid: ${GENERATE_NAME_RULE}, counting the '-' added when it does not end with one`, 'create');
  }
  return { ...(name !== undefined ? { name } : {}), ...(prefix !== undefined ? { prefix } : {}) };
}

function claimFlags(f: Record<string, FlagValue>, pool: string): ClaimFlags {
  for (const [flag, message] of NOT_WITH_POOL) if (f[flag] !== undefined) throw new UsageError(message, 'create');
  if (!isBackendName(pool)) throw new UsageError(`--pool '${pool}' is invalid: a WarmPool's name: ${NAME_RULE}`, 'create');
  const grace = str(f, 'grace-period-seconds');
  const life = str(f, 'max-lifetime-seconds');
  const claim: ClaimFlags = {
    pool,
    gracePeriodSeconds: grace === undefined ? SPEC_DEFAULTS.gracePeriodSeconds : boundedFlag(grace, 'grace-period-seconds', 'gracePeriodSeconds'),
    ...nameFlags(f),
  };
  if (life !== undefined) claim.maxLifetimeSeconds = boundedFlag(life, 'max-lifetime-seconds', 'maxLifetimeSeconds');
  return claim;
}

export function getOptions(p: Parsed): GetOptions {
  const allNamespaces = bool(p.flags, 'all-namespaces');
  const name = p.args[0] === undefined ? undefined : backendName(p.args[0]);
  if (allNamespaces && name !== undefined) throw new UsageError('-A lists every backend; it cannot be combined with NAME', 'get');
  if (allNamespaces && p.flags.namespace !== undefined) throw new UsageError('-A and -n cannot be combined', 'get');
  return {
    name,
    allNamespaces,
    output: (str(p.flags, 'output') as GetOptions['output'] | undefined) ?? 'table',
    watch: bool(p.flags, 'watch'),
  };
}

export function waitOptions(p: Parsed): WaitOptions {
  const timeout = str(p.flags, 'timeout');
  return {
    name: backendName(p.args[0]!),
    for: (str(p.flags, 'for') as WaitOptions['for'] | undefined) ?? 'ready',
    timeoutMs: timeout === undefined ? DEFAULT_WAIT_TIMEOUT_MS : durationFlag(timeout, 'timeout'),
  };
}

export function deleteOptions(p: Parsed): DeleteOptions {
  const wait = bool(p.flags, 'wait');
  const timeout = str(p.flags, 'timeout');
  if (timeout !== undefined && !wait) throw new UsageError('--timeout applies only with --wait', 'delete');
  return {
    names: [...new Set(p.args.map(backendName))],
    wait,
    timeoutMs: timeout === undefined ? DEFAULT_WAIT_TIMEOUT_MS : durationFlag(timeout, 'timeout'),
    ignoreNotFound: bool(p.flags, 'ignore-not-found'),
  };
}

export function completionShell(p: Parsed): 'bash' | 'zsh' {
  const shell = p.args[0];
  if (shell !== 'bash' && shell !== 'zsh') throw new UsageError(`completion for '${shell}' is not available: use bash or zsh`, 'completion');
  return shell;
}
