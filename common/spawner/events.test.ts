import { describe, expect, test } from '@jest/globals';
import { backendEvent, MAX_EVENT_MESSAGE, phaseChangeEvent } from './events.ts';
import type { SessionLivedBackend } from './types.ts';

const slb: SessionLivedBackend = {
  apiVersion: 'spawner.dev/v1',
  kind: 'SessionLivedBackend',
  metadata: { name: 'game', namespace: 'apps', uid: 'u-1', resourceVersion: '42' },
  spec: { template: { containers: [{ name: 'app', image: 'x' }] } },
};

describe('backendEvent', () => {
  test('the core/v1 Event body both the operator and the sweeper post', () => {
    const ev = backendEvent(slb, { type: 'Warning', reason: 'StartupTimeout', message: 'not Ready' }, { component: 'spawner-sweeper', instance: 'node-1', host: 'node-1' }, Date.parse('2026-01-01T00:00:05.5Z'));
    expect(ev).toEqual({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { generateName: 'game.', namespace: 'apps' },
      involvedObject: { apiVersion: 'spawner.dev/v1', kind: 'SessionLivedBackend', name: 'game', namespace: 'apps', uid: 'u-1', resourceVersion: '42' },
      type: 'Warning',
      reason: 'StartupTimeout',
      message: 'not Ready',
      source: { component: 'spawner-sweeper', host: 'node-1' },
      reportingComponent: 'spawner-sweeper',
      reportingInstance: 'node-1',
      firstTimestamp: '2026-01-01T00:00:05Z',
      lastTimestamp: '2026-01-01T00:00:05Z',
      count: 1,
    });
  });

  test('without a host the source names the component only; long messages are cut to what the API server takes', () => {
    const ev = backendEvent(slb, { type: 'Normal', reason: 'Ready', message: 'x'.repeat(5000) }, { component: 'spawner-operator', instance: 'op-0' }, 0);
    expect(ev.source).toEqual({ component: 'spawner-operator' });
    expect(ev.message).toHaveLength(MAX_EVENT_MESSAGE);
  });
});

describe('phaseChangeEvent', () => {
  test.each([
    [undefined, 'Pending', undefined],
    ['Pending', 'Pending', undefined],
    ['Pending', 'Ready', { type: 'Normal', reason: 'Ready' }],
    ['Pending', 'Failed', { type: 'Warning', reason: 'Why' }],
    ['Ready', 'Terminating', { type: 'Normal', reason: 'Terminating' }],
    ['Ready', 'Pending', { type: 'Normal', reason: 'Pending' }],
  ] as const)('%s → %s', (from, to, want) => {
    const ev = phaseChangeEvent(from, to, 'Why', 'msg');
    if (want === undefined) expect(ev).toBeUndefined();
    else expect(ev).toMatchObject(want);
  });
});
