import { describe, expect, test } from '@jest/globals';
import { statusError } from '../../../common/kube/errors.ts';
import { httpApiErrorFromKube } from '../../src/http-api/answers.ts';
import { HttpApiError } from '../../src/http-api/validate.ts';

// What the API server says names the operator's service account, resources and addresses; none of it may
// reach a caller of the HTTP API.
const INTERNAL = /system:serviceaccount|spawner-operator|sessionlivedbackends|10\.96\.0\.1|kubernetes\.default|etcd/;

describe('httpApiErrorFromKube: what failed, in the caller\'s terms', () => {
  test.each<[string, unknown, string | undefined, number, RegExp, Record<string, unknown>]>([
    ['the backend does not exist', statusError(404, 'NotFound', 'sessionlivedbackends.spawner.dev "g" not found'), 'g', 404, /^backend "g" not found$/, {}],
    ['the CRD is missing', statusError(404, 'NotFound', 'the server could not find the requested resource'), undefined, 503, /the cluster is not set up for Spawner/, {}],
    ['RBAC', statusError(403, 'Forbidden', 'sessionlivedbackends.spawner.dev is forbidden: User "system:serviceaccount:spawner-system:spawner-operator" cannot create resource'), undefined, 500, /not allowed to do this in the cluster/, {}],
    ['validation naming a spec field', statusError(422, 'Invalid', 'SessionLivedBackend.spawner.dev "session-x" is invalid: spec.httpPort: Invalid value', { causes: [{ field: 'spec.httpPort', message: 'Invalid value' }] }), undefined, 400, /^port: refused by the cluster's validation$/, { field: 'port' }],
    ['validation of something else', statusError(422, 'Invalid', 'metadata.name: etcd says no', { causes: [{ field: 'metadata.name' }] }), undefined, 400, /refused by the cluster's validation/, { field: undefined }],
    ['throttled', statusError(429, 'TooManyRequests', 'too many requests from 10.96.0.1', { retryAfterSeconds: 3 }), undefined, 503, /busy; try again/, { retryAfterSeconds: 3 }],
    ['a generated name already taken', statusError(409, 'AlreadyExists', 'sessionlivedbackends.spawner.dev "session-x" already exists'), undefined, 503, /busy; try again/, { retryAfterSeconds: 1 }],
    ['an internal error', statusError(500, 'InternalError', 'etcdserver: request timed out'), undefined, 502, /the cluster failed the request/, {}],
    ['no answer at all', Object.assign(new Error('connect ECONNREFUSED 10.96.0.1:443'), { code: 'ECONNREFUSED' }), undefined, 503, /cannot be reached right now/, { retryAfterSeconds: 5 }],
  ])('%s → %d', (_what, err, name, status, message, extra) => {
    const e = httpApiErrorFromKube(err, name);
    expect(e.status).toBe(status);
    expect(e.message).toMatch(message);
    expect(e.message).not.toMatch(INTERNAL);
    expect(e).toMatchObject(extra);
  });

  test('its own errors pass through', () => {
    const own = new HttpApiError(400, 'port: bad', { field: 'port' });
    expect(httpApiErrorFromKube(own)).toBe(own);
  });
});
