import { describe, expect, test } from '@jest/globals';
import { parse } from 'yaml';
import type { SessionLivedBackend } from '../../common/spawner/types.ts';
import { backendFromFlags, claimFromFlags, prefixFromImage } from '../src/build.ts';
import { detailOf, formatObjects, phaseOf, renderTable, tableRows } from '../src/output.ts';

const now = Date.parse('2026-01-01T00:10:00Z');

function slb(name: string, status?: SessionLivedBackend['status']): SessionLivedBackend {
  return {
    apiVersion: 'spawner.dev/v1',
    kind: 'SessionLivedBackend',
    metadata: { name, namespace: 'default', creationTimestamp: '2026-01-01T00:00:00Z' as unknown as Date, managedFields: [{ manager: 'x' }] },
    spec: { template: { containers: [{ name: 'app', image: 'a' }] } },
    ...(status ? { status } : {}),
  };
}

const ready = slb('game-1', { phase: 'Ready', url: 'http://h/p/game-1/', nodeName: 'n1' });
const pending = slb('game-2', {
  phase: 'Pending',
  conditions: [{ type: 'Ready', status: 'False', reason: 'Starting', message: 'waiting to be scheduled', lastTransitionTime: 'x' }],
});
const failed = slb('game-3', { phase: 'Failed', reason: 'StartupTimeout', message: 'not Ready within 300 s' });

describe('phase and detail', () => {
  test.each<[string, SessionLivedBackend, string, string | undefined]>([
    ['no status yet', slb('x'), 'Pending', undefined],
    ['pending with a condition', pending, 'Pending', 'waiting to be scheduled'],
    ['ready', ready, 'Ready', undefined],
    ['failed', failed, 'Failed', 'StartupTimeout: not Ready within 300 s'],
  ])('%s', (_what, s, phase, detail) => {
    expect(phaseOf(s)).toBe(phase);
    expect(detailOf(s)).toBe(detail);
  });
});

describe('tables', () => {
  test('plain', () => {
    expect(renderTable(tableRows([ready, pending], { wide: false, withNamespace: false, header: true }, now))).toBe(
      [
        'NAME     PHASE     URL                  AGE',
        'game-1   Ready     http://h/p/game-1/   10m',
        'game-2   Pending   -                    10m',
        '',
      ].join('\n'),
    );
  });

  test('wide with namespaces', () => {
    const rows = tableRows([failed], { wide: true, withNamespace: true, header: true }, now);
    expect(rows).toEqual([
      ['NAMESPACE', 'NAME', 'PHASE', 'URL', 'AGE', 'NODE', 'REASON'],
      ['default', 'game-3', 'Failed', '-', '10m', '-', 'StartupTimeout: not Ready within 300 s'],
    ]);
  });

  test('a deletion seen by a watch', () => {
    expect(tableRows([ready], { wide: false, withNamespace: false, header: false, deleted: true }, now)[0]![1]).toBe('Deleted');
  });
});

describe('objects', () => {
  test.each<['json' | 'yaml' | 'name', boolean, (text: string) => unknown, unknown]>([
    ['name', false, (t) => t, 'sessionlivedbackend.spawner.dev/game-1\n'],
    ['json', false, (t) => (JSON.parse(t) as SessionLivedBackend).metadata, { name: 'game-1', namespace: 'default', creationTimestamp: '2026-01-01T00:00:00Z' }],
    ['yaml', true, (t) => (parse(t) as { kind: string; items: unknown[] }).kind, 'List'],
  ])('%s', (format, asList, read, expected) => {
    expect(read(formatObjects([ready], format, asList))).toEqual(expected);
  });
});

describe('backends from flags', () => {
  test.each<[string, string]>([
    ['localhost/spawner/drop-four:0.1.0', 'drop-four-'],
    ['ghcr.io/me/My_App@sha256:abc', 'my-app-'],
    ['registry:5000/9lives', 'lives-'],
    ['___', 'backend-'],
  ])('prefixFromImage(%s) = %s', (image, prefix) => expect(prefixFromImage(image)).toBe(prefix));

  test('every flag lands in the spec', () => {
    const s = backendFromFlags(
      { image: 'a:1', port: 3000, gracePeriodSeconds: 60, maxLifetimeSeconds: 600, startupTimeoutSeconds: 30, env: [['A', '1']], prefix: 'game', sidecar: false },
      'team',
    );
    expect(s).toEqual({
      apiVersion: 'spawner.dev/v1',
      kind: 'SessionLivedBackend',
      metadata: { namespace: 'team', generateName: 'game-', labels: { 'app.kubernetes.io/created-by': 'spawner-cli' }, finalizers: ['spawner.dev/teardown'] },
      spec: {
        template: { containers: [{ name: 'app', image: 'a:1', env: [{ name: 'A', value: '1' }] }] },
        httpPort: 3000,
        gracePeriodSeconds: 60,
        maxLifetimeSeconds: 600,
        startupTimeoutSeconds: 30,
        sidecar: { enabled: false },
      },
    });
  });

  test('a claim from a pool: poolRef and the session\'s own limits, named after the pool', () => {
    expect(claimFromFlags({ pool: 'games', gracePeriodSeconds: 60, maxLifetimeSeconds: 600 }, 'team')).toEqual({
      apiVersion: 'spawner.dev/v1',
      kind: 'SessionLivedBackend',
      metadata: { namespace: 'team', generateName: 'games-', labels: { 'app.kubernetes.io/created-by': 'spawner-cli' }, finalizers: ['spawner.dev/teardown'] },
      spec: { poolRef: { name: 'games' }, gracePeriodSeconds: 60, maxLifetimeSeconds: 600 },
    });
    expect(claimFromFlags({ pool: 'games', gracePeriodSeconds: 300, name: 'room-1' }, 'team').metadata).toMatchObject({ name: 'room-1' });
  });
});
