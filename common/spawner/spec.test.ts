import { describe, expect, test } from '@jest/globals';
import { loadSource } from '../../schema/crd.ts';
import { effectiveSpec, SPEC_BOUNDS, SPEC_DEFAULTS } from './spec.ts';

const template = { containers: [{ name: 'app', image: 'x' }] };

describe('effectiveSpec', () => {
  test.each([
    ['nothing set: the schema defaults', {}, { httpPort: 8080, gracePeriodSeconds: 300, maxLifetimeSeconds: undefined, startupTimeoutSeconds: 300, sidecarEnabled: undefined, statusPort: 8080 }],
    ['values set are kept', { httpPort: 3000, gracePeriodSeconds: 0, maxLifetimeSeconds: 60, startupTimeoutSeconds: 20 }, { httpPort: 3000, gracePeriodSeconds: 0, maxLifetimeSeconds: 60, startupTimeoutSeconds: 20, statusPort: 3000 }],
    ['no sidecar: status on httpPort', { httpPort: 3000, sidecar: { enabled: false } }, { sidecarEnabled: false, statusPort: 3000 }],
    ['no sidecar with statusPort', { sidecar: { enabled: false, statusPort: 7000 } }, { sidecarEnabled: false, statusPort: 7000 }],
  ])('%s', (_what, spec, want) => {
    expect(effectiveSpec({ spec: { template, ...spec } })).toMatchObject(want);
  });
});

describe('effectiveSpec of a backend claimed from a WarmPool', () => {
  const pooled = { poolRef: { name: 'games' }, gracePeriodSeconds: 60, maxLifetimeSeconds: 600 };
  test('its pool\'s backend fields, from status.pool, with its own grace period and lifetime', () => {
    const status = { pool: { member: 'games-x', httpPort: 3000, startupTimeoutSeconds: 20, sidecar: { enabled: false, statusPort: 3001 } } };
    expect(effectiveSpec({ spec: pooled, status })).toEqual({ access: 'Token', httpPort: 3000, gracePeriodSeconds: 60, maxLifetimeSeconds: 600, startupTimeoutSeconds: 20, sidecarEnabled: false, statusPort: 3001 });
  });
  test('the defaults where the pool left a field unset, or before the claim', () => {
    expect(effectiveSpec({ spec: pooled, status: { pool: {} } })).toMatchObject({ httpPort: 8080, startupTimeoutSeconds: 300, sidecarEnabled: undefined });
    expect(effectiveSpec({ spec: pooled })).toMatchObject({ httpPort: 8080, gracePeriodSeconds: 60 });
  });
  test('status.pool counts only with spec.poolRef', () => {
    expect(effectiveSpec({ spec: { template }, status: { pool: { httpPort: 3000 } } }).httpPort).toBe(8080);
  });
});

test('the defaults and bounds are the schema\'s own', async () => {
  const source = await loadSource('SessionLivedBackend');
  const props = source.spec.properties as Record<string, { default?: unknown; 'x-spawner-default'?: unknown; minimum?: number; maximum?: number }>;
  for (const [field, value] of Object.entries(SPEC_DEFAULTS)) expect([field, props[field]?.default ?? props[field]?.['x-spawner-default']]).toEqual([field, value]);
  for (const [field, b] of Object.entries(SPEC_BOUNDS)) expect([field, props[field]?.minimum, props[field]?.maximum]).toEqual([field, b.minimum, b.maximum]);
  expect(Object.keys(SPEC_DEFAULTS).sort()).toEqual(['access', 'gracePeriodSeconds', 'httpPort', 'startupTimeoutSeconds']);
});
