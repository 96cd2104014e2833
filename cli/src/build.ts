// The SessionLivedBackend that `spawner create` flags describe. Pure.
import { newBackend, newClaim } from '../../common/spawner/backend.ts';
import { MAX_GENERATE_NAME_LENGTH } from '../../common/spawner/names.ts';
import type { SessionLivedBackend } from '../../common/spawner/types.ts';
import type { BackendFlags, ClaimFlags } from './options.ts';

export const CREATED_BY_CLI = 'spawner-cli';
const FALLBACK_PREFIX = 'backend-';

// drop-four from localhost/spawner/drop-four:0.1.0, so generated names say what runs there.
export function prefixFromImage(image: string): string {
  const lastSegment = image.split('@')[0]!.split('/').pop() ?? '';
  const repo = lastSegment.split(':')[0]!;
  const cleaned = repo
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^[^a-z]+/, '')
    .slice(0, MAX_GENERATE_NAME_LENGTH - 1)
    .replace(/-+$/, '');
  return cleaned ? `${cleaned}-` : FALLBACK_PREFIX;
}

export function generateNameFor(prefix: string): string {
  return prefix.endsWith('-') ? prefix : `${prefix}-`;
}

export function backendFromFlags(flags: BackendFlags, namespace: string): SessionLivedBackend {
  return newBackend({
    namespace,
    ...(flags.name ? { name: flags.name } : { generateName: generateNameFor(flags.prefix ?? prefixFromImage(flags.image)) }),
    createdBy: CREATED_BY_CLI,
    image: flags.image,
    port: flags.port,
    env: flags.env.map(([name, value]) => ({ name, value })),
    gracePeriodSeconds: flags.gracePeriodSeconds,
    maxLifetimeSeconds: flags.maxLifetimeSeconds,
    startupTimeoutSeconds: flags.startupTimeoutSeconds,
    sidecar: flags.sidecar,
  });
}

// `--pool NAME`: a claim; generated names say which pool it came from (games-x7k2p).
export function claimFromFlags(c: ClaimFlags, namespace: string): SessionLivedBackend {
  return newClaim({
    namespace,
    ...(c.name ? { name: c.name } : { generateName: generateNameFor(c.prefix ?? c.pool) }),
    createdBy: CREATED_BY_CLI,
    pool: c.pool,
    gracePeriodSeconds: c.gracePeriodSeconds,
    maxLifetimeSeconds: c.maxLifetimeSeconds,
  });
}
