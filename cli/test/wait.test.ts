import { describe, expect, test } from '@jest/globals';
import type { SessionLivedBackend } from '../../common/spawner/types.ts';
import { EXIT } from '../src/errors.ts';
import { judge, progressLine, timeoutError, type WaitFor } from '../src/wait.ts';

function slb(status?: SessionLivedBackend['status'], deleting = false): SessionLivedBackend {
  return {
    apiVersion: 'spawner.dev/v1',
    kind: 'SessionLivedBackend',
    metadata: { name: 'g', namespace: 'default', ...(deleting ? { deletionTimestamp: new Date() } : {}) },
    spec: { template: { containers: [{ name: 'app', image: 'a' }] } },
    ...(status ? { status } : {}),
  };
}

const pending = slb({ phase: 'Pending', conditions: [{ type: 'Ready', status: 'False', reason: 'Starting', message: 'waiting to be scheduled', lastTransitionTime: 'x' }] });
const ready = slb({ phase: 'Ready', url: 'http://h/p/g/' });

describe('judge', () => {
  test.each<[string, WaitFor, SessionLivedBackend | undefined, string, number | undefined, RegExp | undefined]>([
    ['no status yet', 'ready', slb(), 'continue', undefined, undefined],
    ['pending', 'ready', pending, 'continue', undefined, undefined],
    ['ready without a url yet', 'ready', slb({ phase: 'Ready' }), 'continue', undefined, undefined],
    ['ready', 'ready', ready, 'done', undefined, undefined],
    ['ready outside the routed namespace: no URL will come', 'ready',
      slb({ phase: 'Ready', conditions: [{ type: 'Routable', status: 'False', reason: 'NamespaceNotRouted', message: 'the router serves namespace spawner-backends only', lastTransitionTime: 'x' }] }),
      'fail', EXIT.failed, /backend "g" is Ready but has no URL: the router serves namespace spawner-backends only/],
    ['failed, with its reason', 'ready', slb({ phase: 'Failed', reason: 'StartupTimeout', message: 'not Ready within 1 s' }), 'fail', EXIT.failed,
      /backend "g" failed: StartupTimeout: not Ready within 1 s/],
    ['failed without a reason', 'ready', slb({ phase: 'Failed' }), 'fail', EXIT.failed, /failed: no reason given/],
    ['terminating', 'ready', slb({ phase: 'Terminating', reason: 'Swept', message: 'idle' }), 'fail', EXIT.failed, /is being deleted \(Swept: idle\)/],
    ['deletion requested, status not yet updated', 'ready', slb({ phase: 'Pending' }, true), 'fail', EXIT.failed, /is being deleted/],
    ['deleted', 'ready', undefined, 'fail', EXIT.failed, /was deleted while waiting for it to be Ready/],
    ['for deleted: still there', 'deleted', ready, 'continue', undefined, undefined],
    ['for deleted: terminating', 'deleted', slb({ phase: 'Terminating' }, true), 'continue', undefined, undefined],
    ['for deleted: gone', 'deleted', undefined, 'done', undefined, undefined],
  ])('%s', (_what, target, s, kind, code, message) => {
    const o = judge(target, 'g', s);
    expect(o.kind).toBe(kind);
    if (o.kind === 'fail') {
      expect(o.error.exitCode).toBe(code);
      expect(o.error.message).toMatch(message!);
    }
  });
});

describe('progressLine', () => {
  test.each<[string, SessionLivedBackend | undefined, string | undefined, string | undefined]>([
    ['first state', pending, undefined, 'g: Pending (waiting to be scheduled)'],
    ['same again', pending, 'g: Pending (waiting to be scheduled)', undefined],
    ['phase changed', ready, 'g: Pending (waiting to be scheduled)', 'g: Ready'],
    ['gone', undefined, 'g: Ready', 'g: deleted'],
  ])('%s', (_what, s, previous, line) => expect(progressLine('g', s, previous)).toBe(line));
});

test('a timeout says how long and where the backend got to', () => {
  const e = timeoutError('ready', 'g', 90_000, pending);
  expect(e.exitCode).toBe(EXIT.timeout);
  expect(e.message).toBe('timed out after 1m30s waiting for backend "g" to be Ready; it is Pending (waiting to be scheduled)');
});
