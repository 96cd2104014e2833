import { readFileSync } from 'node:fs';
import { describe, expect, test } from '@jest/globals';
import { UsageError } from '../src/errors.ts';
import { backendsFromManifest } from '../src/manifest.ts';

const ns = { fallback: 'default' };
const demo = readFileSync(new URL('../../manifests/demo/drop-four.yaml', import.meta.url), 'utf8');

describe('backendsFromManifest', () => {
  test('the demo manifest as it is', () => {
    const [slb] = backendsFromManifest(demo, 'drop-four.yaml', ns);
    expect(slb).toMatchObject({
      apiVersion: 'spawner.dev/v1',
      kind: 'SessionLivedBackend',
      metadata: { generateName: 'drop-four-', namespace: 'default' },
      spec: { gracePeriodSeconds: 300, httpPort: 8080, template: { containers: [{ name: 'app', image: 'localhost/spawner/drop-four:0.1.0' }] } },
    });
  });

  test("the original Spawner's shape: unnamed containers, a status block, no name", () => {
    const text = `
apiVersion: spawner.dev/v1
kind: SessionLivedBackend
spec:
  template:
    containers:
      - image: ghcr.io/drifting-in-space/demo-image-drop-four
      - image: sidecar:1
status:
  ready: true
`;
    const [slb] = backendsFromManifest(text, 'old.yaml', ns);
    expect(slb!.spec.template?.containers.map((c) => c.name)).toEqual(['app', 'container-1']);
    expect(slb!.metadata.generateName).toBe('demo-image-drop-four-');
    expect(slb).not.toHaveProperty('status');
  });

  test('server-owned metadata from `kubectl get -o yaml` is dropped; a List is unpacked; JSON works', () => {
    const list = JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [1, 2].map((i) => ({
        apiVersion: 'spawner.dev/v1',
        kind: 'SessionLivedBackend',
        metadata: { name: `g${i}`, namespace: 'team', uid: 'u', resourceVersion: '5', managedFields: [], finalizers: ['spawner.dev/teardown'], creationTimestamp: 'x' },
        spec: { template: { containers: [{ name: 'app', image: 'a' }] } },
      })),
    });
    const slbs = backendsFromManifest(list, 'list.json', ns);
    // The operator's finalizer replaces whatever finalizers were saved: it goes on with every create.
    expect(slbs.map((s) => s.metadata)).toEqual([1, 2].map((i) => ({ name: `g${i}`, namespace: 'team', finalizers: ['spawner.dev/teardown'] })));
  });

  test('a claim from a pool: no template needed, the generated name comes from the pool', () => {
    const [claim] = backendsFromManifest('apiVersion: spawner.dev/v1\nkind: SessionLivedBackend\nspec: {poolRef: {name: games}, gracePeriodSeconds: 60}', 'f', { fallback: 'default' });
    expect(claim).toEqual({ apiVersion: 'spawner.dev/v1', kind: 'SessionLivedBackend', metadata: { namespace: 'default', generateName: 'games-', finalizers: ['spawner.dev/teardown'] }, spec: { poolRef: { name: 'games' }, gracePeriodSeconds: 60 } });
  });

  test('-n fills in a missing namespace', () => {
    expect(backendsFromManifest(demo, 'f', { flag: 'team', fallback: 'default' })[0]!.metadata.namespace).toBe('team');
  });

  test.each<[string, string, RegExp]>([
    ['not YAML', 'a: [', /f: is not valid YAML or JSON/],
    ['empty', '---\n', /f: no objects in the file/],
    ['another kind', 'apiVersion: v1\nkind: Pod\nspec: {}', /f: is a Pod \(v1\); spawner create -f takes SessionLivedBackend objects/],
    ['no kind', 'spec: {}', /f: has no apiVersion and kind/],
    ['no spec', 'apiVersion: spawner.dev/v1\nkind: SessionLivedBackend', /f: spec is missing/],
    ['no template', 'apiVersion: spawner.dev/v1\nkind: SessionLivedBackend\nspec: {}', /spec.template is missing .*or spec.poolRef names a WarmPool/],
    ['a poolRef without a name', 'apiVersion: spawner.dev/v1\nkind: SessionLivedBackend\nspec: {poolRef: {}}', /spec.poolRef.name is missing/],
    ['no containers', 'apiVersion: spawner.dev/v1\nkind: SessionLivedBackend\nspec: {template: {containers: []}}', /spec.template.containers must list at least one container/],
    ['no image', 'apiVersion: spawner.dev/v1\nkind: SessionLivedBackend\nspec: {template: {containers: [{name: a}]}}', /spec.template.containers\[0\].image is missing/],
    ['namespace clash', 'apiVersion: spawner.dev/v1\nkind: SessionLivedBackend\nmetadata: {namespace: a}\nspec: {template: {containers: [{image: x}]}}', /metadata.namespace is "a" but -n says "b"/],
    ['second document is wrong', `${demo}\n---\nkind: Pod\napiVersion: v1\n`, /f, document 2: is a Pod/],
  ])('%s', (_what, text, message) => {
    const run = () => backendsFromManifest(text, 'f', { flag: _what === 'namespace clash' ? 'b' : undefined, fallback: 'default' });
    expect(run).toThrow(UsageError);
    expect(run).toThrow(message);
  });
});
