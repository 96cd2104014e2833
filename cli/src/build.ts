// The SessionLivedBackend that `spawner create` flags describe. Pure.
import type { V1Container } from '@kubernetes/client-node';
import { API_VERSION, KIND } from '../../common/contract.ts';
import type { SessionLivedBackend } from '../../schema/generated/types.ts';
import type { BackendFlags } from './options.ts';

export const APP_CONTAINER = 'app';
export const CREATED_BY_LABEL = 'app.kubernetes.io/created-by';
const FALLBACK_PREFIX = 'backend-';
const MAX_PREFIX = 58; // the API server appends 5 characters to generateName; names are at most 63

// drop-four from localhost/spawner/drop-four:0.1.0, so generated names say what runs there.
export function prefixFromImage(image: string): string {
  const lastSegment = image.split('@')[0]!.split('/').pop() ?? '';
  const repo = lastSegment.split(':')[0]!;
  const cleaned = repo
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^[^a-z]+/, '')
    .slice(0, MAX_PREFIX - 1)
    .replace(/-+$/, '');
  return cleaned ? `${cleaned}-` : FALLBACK_PREFIX;
}

export function generateNameFor(prefix: string): string {
  return prefix.endsWith('-') ? prefix : `${prefix}-`;
}

export function backendFromFlags(flags: BackendFlags, namespace: string): SessionLivedBackend {
  const container: V1Container = { name: APP_CONTAINER, image: flags.image };
  if (flags.env.length) container.env = flags.env.map(([name, value]) => ({ name, value }));
  const slb: SessionLivedBackend = {
    apiVersion: API_VERSION as SessionLivedBackend['apiVersion'],
    kind: KIND as SessionLivedBackend['kind'],
    metadata: {
      namespace,
      labels: { [CREATED_BY_LABEL]: 'spawner-cli' },
      ...(flags.name ? { name: flags.name } : { generateName: generateNameFor(flags.prefix ?? prefixFromImage(flags.image)) }),
    },
    spec: {
      template: { containers: [container] },
      httpPort: flags.port,
      gracePeriodSeconds: flags.gracePeriodSeconds,
    },
  };
  if (flags.maxLifetimeSeconds !== undefined) slb.spec.maxLifetimeSeconds = flags.maxLifetimeSeconds;
  if (flags.startupTimeoutSeconds !== undefined) slb.spec.startupTimeoutSeconds = flags.startupTimeoutSeconds;
  if (!flags.sidecar) slb.spec.sidecar = { enabled: false };
  return slb;
}
