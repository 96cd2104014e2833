import { describe, expect, test } from '@jest/globals';
import {
  errorFromResponse, httpStatus, isAlreadyExists, isConflict, isForbidden, isInvalid, isNotFound, isTooManyRequests, KubeApiError, statusError,
} from './errors.ts';

const status = (code: number, reason: string) => JSON.stringify({ kind: 'Status', status: 'Failure', code, reason, message: `refused (${reason})` });

describe('API error predicates read the Status object, never the message', () => {
  const cases: Array<[string, unknown, Record<string, boolean>, number | undefined]> = [
    ['404 NotFound', errorFromResponse(404, status(404, 'NotFound'), 'GET x'), { isNotFound: true }, 404],
    ['409 AlreadyExists', errorFromResponse(409, status(409, 'AlreadyExists'), 'POST x'), { isAlreadyExists: true }, 409],
    ['409 Conflict (resourceVersion or uid precondition)', errorFromResponse(409, status(409, 'Conflict'), 'PATCH x'), { isConflict: true }, 409],
    ['422 Invalid', errorFromResponse(422, status(422, 'Invalid'), 'POST x'), { isInvalid: true }, 422],
    ['403 Forbidden (RBAC or quota)', errorFromResponse(403, status(403, 'Forbidden'), 'POST x'), { isForbidden: true }, 403],
    ['429 TooManyRequests', errorFromResponse(429, status(429, 'TooManyRequests'), 'POST x'), { isTooManyRequests: true }, 429],
    // A message that says "already exists" is not what makes it AlreadyExists.
    ['409 Conflict whose message reads "already exists"', statusError(409, 'Conflict', 'pods "x" already exists'), { isConflict: true }, 409],
    // No Status body (a proxy's error page): the HTTP status decides.
    ['404 page without a Status', errorFromResponse(404, '404 page not found', 'GET x'), { isNotFound: true }, 404],
    ['409 page without a Status', errorFromResponse(409, '<html>', 'GET x'), { isAlreadyExists: true, isConflict: true }, 409],
    ['a network error', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), {}, undefined],
    ['a plain object with a numeric code is not an API answer', { code: 404, statusCode: 404 }, {}, undefined],
  ];
  const predicates = { isNotFound, isAlreadyExists, isConflict, isInvalid, isForbidden, isTooManyRequests };
  test.each(cases)('%s', (_what, err, truths, code) => {
    for (const [name, p] of Object.entries(predicates)) expect([name, p(err)]).toEqual([name, truths[name] ?? false]);
    expect(httpStatus(err)).toBe(code);
  });

  test('statusError raises what the API server would', () => {
    const err = statusError(422, 'Invalid', 'spec.x: Invalid value', { causes: [{ field: 'spec.x' }] });
    expect(err).toBeInstanceOf(KubeApiError);
    expect(err.statusCode).toBe(422);
    expect(err.status).toMatchObject({ kind: 'Status', code: 422, reason: 'Invalid', details: { causes: [{ field: 'spec.x' }] } });
  });
});
