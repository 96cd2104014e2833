import { describe, expect, test } from '@jest/globals';
import { statusError } from '../../common/kube/errors.ts';
import {
  childrenCreatedCondition, classifyCreateError, refusalEvent, refusalRetryInMs, type Refusal,
} from '../src/spawner/refusals.ts';

describe('classifyCreateError: refused (recorded) or transient (retried with backoff)', () => {
  test.each<[string, unknown, 'transient' | 'permanent' | 'retry until the deadline', string | undefined]>([
    ['422 Invalid', statusError(422, 'Invalid', 'bad'), 'permanent', 'Invalid'],
    ['400 BadRequest', statusError(400, 'BadRequest', 'bad'), 'permanent', 'BadRequest'],
    ['413 too large', statusError(413, 'RequestEntityTooLarge', 'big'), 'permanent', 'RequestEntityTooLarge'],
    ['403 exceeded quota', statusError(403, 'Forbidden', 'exceeded quota: q'), 'retry until the deadline', 'Forbidden'],
    ['403 RBAC', statusError(403, 'Forbidden', 'cannot create pods'), 'retry until the deadline', 'Forbidden'],
    ['404 namespace gone', statusError(404, 'NotFound', 'namespaces "x" not found'), 'retry until the deadline', 'NotFound'],
    ['409 (a conflict, handled by the caller)', statusError(409, 'Conflict', 'x'), 'transient', undefined],
    ['429 throttled', statusError(429, 'TooManyRequests', 'slow down'), 'transient', undefined],
    ['500', statusError(500, 'InternalError', 'etcd'), 'transient', undefined],
    ['503', statusError(503, 'ServiceUnavailable', 'x'), 'transient', undefined],
    ['a network error', Object.assign(new Error('ECONNRESET'), { code: 'ECONNRESET' }), 'transient', undefined],
  ])('%s → %s', (_what, err, want, reason) => {
    const got = classifyCreateError('Pod', 'ns/game', err);
    if (want === 'transient') {
      expect(got).toEqual({ transient: err });
      return;
    }
    expect(got).toMatchObject({ refusal: { kind: 'Pod', name: 'ns/game', reason, permanent: want === 'permanent' } });
  });

  test('the refusal keeps the API server\'s own message', () => {
    expect(classifyCreateError('Pod', 'ns/game', statusError(403, 'Forbidden', 'pods "game" is forbidden: exceeded quota: q'))).toMatchObject({ refusal: { code: 403, message: 'pods "game" is forbidden: exceeded quota: q' } });
  });
});

const refusal = (o: Partial<Refusal> = {}): Refusal => ({ kind: 'Pod', name: 'ns/game', code: 403, reason: 'Forbidden', message: 'exceeded quota: q', permanent: false, ...o });
const cond = (status: 'True' | 'False', message = 'm', lastTransitionTime = '2026-01-01T00:00:00Z') => ({ type: 'ChildrenCreated', status, reason: 'x', message, lastTransitionTime });

describe('childrenCreatedCondition', () => {
  test.each([
    ['no refusal, none before: no condition', undefined, [], true, undefined],
    ['a refusal: False with its reason, naming the child', undefined, [refusal()], false, { status: 'False', reason: 'Forbidden', message: 'the API server refused to create Pod ns/game (403 Forbidden): exceeded quota: q' }],
    ['a permanent one is named first', undefined, [refusal(), refusal({ kind: 'Service', reason: 'Invalid', code: 422, permanent: true })], false, { status: 'False', reason: 'Invalid' }],
    ['refused before, every child there now: True', cond('False'), [], true, { status: 'True', reason: 'Created' }],
    ['refused before, still missing a child (no create tried): unchanged', cond('False'), [], false, undefined],
    ['True before: unchanged', cond('True'), [], true, undefined],
  ] as const)('%s', (_what, previous, refusals, allExist, want) => {
    const got = childrenCreatedCondition(previous, [...refusals], allExist, 3);
    if (want === undefined) expect(got).toBeUndefined();
    else expect(got).toMatchObject({ type: 'ChildrenCreated', observedGeneration: 3, ...want });
  });
});

describe('refusalEvent: once per refusal, not once per retry', () => {
  test.each([
    ['first refusal', undefined, cond('False', 'a'), true],
    ['the same refusal again', cond('False', 'a'), cond('False', 'a'), false],
    ['a different refusal', cond('False', 'a'), cond('False', 'b'), true],
    ['refused again after it had cleared', cond('True'), cond('False', 'a'), true],
    ['cleared', cond('False', 'a'), cond('True'), false],
    ['no condition', undefined, undefined, false],
  ] as const)('%s → %s', (_what, previous, next, event) => {
    const got = refusalEvent(previous, next);
    expect(got !== undefined).toBe(event);
    if (got) expect(got).toMatchObject({ type: 'Warning', reason: 'FailedCreate', message: next!.message });
  });
});

describe('refusalRetryInMs: delays that double, from 1 s to 30 s', () => {
  const at = (s: number) => new Date(Date.parse('2026-01-01T00:00:00Z') + s * 1000);
  test.each([
    ['just refused', { phase: 'Pending' as const, conditions: [cond('False')] }, 0, 1000],
    ['refused for 5 s', { phase: 'Pending' as const, conditions: [cond('False')] }, 5, 5000],
    ['refused for 10 min', { phase: 'Pending' as const, conditions: [cond('False')] }, 600, 30_000],
    ['not refused', { phase: 'Pending' as const, conditions: [cond('True')] }, 5, undefined],
    ['Failed: nothing to retry', { phase: 'Failed' as const, conditions: [cond('False')] }, 5, undefined],
  ])('%s', (_what, status, seconds, want) => {
    expect(refusalRetryInMs({ status }, at(seconds))).toBe(want);
  });
});
