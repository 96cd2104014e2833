import { describe, expect, test } from '@jest/globals';
import { EXIT } from '../src/errors.ts';
import { describeKubeError, type ErrorLike, type RequestContext } from '../src/kube-errors.ts';

const ctx: RequestContext = { verb: 'list', namespace: 'team-a', server: 'https://k8s.example:6443', context: 'prod' };

describe('describeKubeError', () => {
  test.each<[string, ErrorLike, Partial<RequestContext>, number, RegExp, RegExp | undefined]>([
    ['connection refused', { code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:1' }, {}, EXIT.cluster,
      /cannot reach the Kubernetes API server at https:\/\/k8s.example:6443 \(kubeconfig context "prod"\)/, /--kubeconfig, --context, KUBECONFIG/],
    ['unknown host', { code: 'ENOTFOUND', message: 'getaddrinfo ENOTFOUND k8s.example' }, {}, EXIT.cluster, /cannot reach/, undefined],
    ['request timeout', { message: 'request timed out after 30000 ms' }, {}, EXIT.cluster, /cannot reach.*timed out/, undefined],
    ['bad certificate', { code: 'SELF_SIGNED_CERT_IN_CHAIN', message: 'self-signed certificate in certificate chain' }, {}, EXIT.cluster, /self-signed/, undefined],
    ['401', { statusCode: 401, status: { message: 'Unauthorized' } }, {}, EXIT.denied, /rejected your credentials \(kubeconfig context "prod"\) \(401 Unauthorized\)/, /log in again/],
    ['403 names user, verb and resource', {
      statusCode: 403,
      status: { reason: 'Forbidden', message: 'sessionlivedbackends.spawner.dev is forbidden: User "system:serviceaccount:a:b" cannot list resource "sessionlivedbackends" in API group "spawner.dev" in the namespace "team-a"' },
    }, {}, EXIT.denied, /forbidden: "system:serviceaccount:a:b" may not list sessionlivedbackends.spawner.dev in namespace "team-a"/, /granting "list" on sessionlivedbackends in API group spawner.dev/],
    ['403 across namespaces suggests a ClusterRole', { statusCode: 403, status: { message: 'forbidden' } }, { namespace: undefined }, EXIT.denied, /may not list .* in all namespaces/, /a ClusterRole for -A/],
    ['404 naming the backend', { statusCode: 404, status: { reason: 'NotFound', details: { name: 'game', kind: 'sessionlivedbackends' } } }, { verb: 'get' }, EXIT.notFound,
      /sessionlivedbackend "game" not found in namespace "team-a"/, undefined],
    ['404 naming the namespace', { statusCode: 404, status: { reason: 'NotFound', details: { name: 'team-a', kind: 'namespaces' } } }, { verb: 'create' }, EXIT.notFound,
      /namespace "team-a" does not exist/, /kubectl create namespace/],
    ['404 without a Status: the resource type is unknown', { statusCode: 404, message: 'GET /apis/spawner.dev/v1/…: HTTP 404: 404 page not found' }, {}, EXIT.noCrd,
      /the SessionLivedBackend CRD \(sessionlivedbackends.spawner.dev\) is not installed in the cluster at https:\/\/k8s.example:6443/, /spawner print-crd \| kubectl apply -f -/],
    ['409 already exists', { statusCode: 409, status: { reason: 'AlreadyExists', details: { name: 'game' } } }, { verb: 'create', name: 'game' }, EXIT.rejected,
      /sessionlivedbackend "game" already exists in namespace "team-a"/, /--prefix/],
    ['422 keeps the field names', { statusCode: 422, status: { reason: 'Invalid', message: 'SessionLivedBackend.spawner.dev "x" is invalid: spec.httpPort: Invalid value: 0' } }, { verb: 'create' }, EXIT.rejected,
      /the API server rejected the backend: .*spec.httpPort: Invalid value: 0/, undefined],
    ['500', { statusCode: 500, status: { message: 'etcdserver: request timed out' } }, {}, EXIT.error, /list sessionlivedbackends.spawner.dev in namespace "team-a" failed: etcdserver/, undefined],
    ['some other local error', { message: 'kaboom' }, {}, EXIT.error, /list sessionlivedbackends.spawner.dev failed: kaboom/, undefined],
  ])('%s', (_what, err, override, code, message, hint) => {
    const e = describeKubeError(err, { ...ctx, ...override });
    expect(e.exitCode).toBe(code);
    expect(e.message).toMatch(message);
    if (hint) expect(e.hint).toMatch(hint);
  });
});
