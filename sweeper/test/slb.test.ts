import { describe, expect, test } from '@jest/globals';
import { activityEndpoint, backendFacts } from '../src/slb.ts';
import { iso, makeSlb } from './support/slbs.ts';

const T0 = Date.parse('2025-01-01T12:00:00Z');

describe('backendFacts', () => {
  test('defaults: grace 300 s, no maxLifetime', () => {
    const facts = backendFacts(makeSlb({ createdAt: T0 }));
    expect(facts).toMatchObject({ phase: 'Ready', graceMs: 300_000, maxLifetimeMs: undefined, createdAt: T0, readyAt: T0, deleting: false });
  });

  test('spec values and deletionTimestamp', () => {
    const facts = backendFacts(makeSlb({ grace: 0, maxLifetime: 60, deleting: true, createdAt: T0 }));
    expect(facts).toMatchObject({ graceMs: 0, maxLifetimeMs: 60_000, deleting: true });
  });

  test('readyTime wins over the Ready condition', () => {
    const slb = makeSlb({ createdAt: T0, readyAt: T0 + 5000 });
    slb.status!.conditions![1]!.lastTransitionTime = iso(T0 + 9000);
    expect(backendFacts(slb).readyAt).toBe(T0 + 5000);
    delete slb.status!.readyTime;
    expect(backendFacts(slb).readyAt).toBe(T0 + 9000);
  });
});

describe('activityEndpoint', () => {
  test.each([
    { name: 'Ready with sidecar: the admin port stream', slb: makeSlb({ podIP: '10.1.2.3' }), want: { mode: 'stream', eventsUrl: 'http://10.1.2.3:9091/events', statusUrl: 'http://10.1.2.3:9091/status' } },
    { name: 'IPv6 pod', slb: makeSlb({ podIP: 'fd00::5' }), want: { mode: 'stream', eventsUrl: 'http://[fd00::5]:9091/events', statusUrl: 'http://[fd00::5]:9091/status' } },
    { name: 'sidecar disabled: poll the app on httpPort', slb: makeSlb({ podIP: '10.1.2.3', sidecar: false }), want: { mode: 'poll', statusUrl: 'http://10.1.2.3:8080/status' } },
    { name: 'sidecar disabled with statusPort', slb: makeSlb({ podIP: '10.1.2.3', sidecar: false, statusPort: 7000 }), want: { mode: 'poll', statusUrl: 'http://10.1.2.3:7000/status' } },
    { name: 'Pending: nothing to follow', slb: makeSlb({ phase: 'Pending' }), want: undefined },
    { name: 'being deleted: nothing to follow', slb: makeSlb({ deleting: true }), want: undefined },
    { name: 'no pod IP: nothing to follow', slb: makeSlb({ podIP: '' }), want: undefined },
  ])('$name', ({ slb, want }) => {
    expect(activityEndpoint(slb)).toEqual(want);
  });

  test('sidecar disabled uses spec.httpPort when set', () => {
    const slb = makeSlb({ podIP: '10.0.0.9', sidecar: false });
    slb.spec.httpPort = 3000;
    expect(activityEndpoint(slb)).toEqual({ mode: 'poll', statusUrl: 'http://10.0.0.9:3000/status' });
  });
});
