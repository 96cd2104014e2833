// A cluster without the SessionLivedBackend CRD, as a person meets it before installing Spawner: the
// CLI says so and how to install it (exit 4), and doing just that makes the same command work. On a
// small cluster of its own (no kwok node needed), so the shared cluster's CRD stays untouched.
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, jest, test } from '@jest/globals';
import { down, up } from '../../e2e/harness/cluster.ts';
import { kubectl, waitFor } from '../../e2e/harness/kube.ts';
import { tempDir } from '../../operator/test/support/operator-process.ts';
import { EXIT } from '../src/errors.ts';
import { spawner } from './support/spawner.ts';

jest.setTimeout(240_000);

let dir = '';
let stateFile = '';
let kubeconfig = '';

beforeAll(async () => {
  dir = await tempDir('spawner-cli-no-crd-');
  stateFile = path.join(dir, 'cluster.json');
  kubeconfig = (await up({ stateFile, nodes: 1, crdPaths: [] })).kubeconfig;
}, 600_000);

afterAll(async () => {
  if (stateFile) await down({ stateFile });
  if (dir) await rm(dir, { recursive: true, force: true });
}, 120_000);

test('without the CRD: exit 4 and the command that installs it; after it, the same command works', async () => {
  for (const args of [['get'], ['get', '-A'], ['create', '--image', 'a:1'], ['wait', 'x'], ['delete', 'x']]) {
    const r = await spawner(args, { kubeconfig });
    expect({ args, exitCode: r.exitCode }).toEqual({ args, exitCode: EXIT.noCrd });
    expect(r.stderr).toContain('error: the SessionLivedBackend CRD (sessionlivedbackends.spawner.dev) is not installed in the cluster at https://127.0.0.1:');
    expect(r.stderr).toContain('install it with `spawner print-crd | kubectl apply -f -`');
  }

  const crd = await spawner(['print-crd']);
  await kubectl(['apply', '-f', '-'], { kubeconfig, input: crd.stdout });
  await kubectl(['wait', '--for=condition=Established', 'crd/sessionlivedbackends.spawner.dev', '--timeout=60s'], { kubeconfig });
  // Discovery in the API server catches up a moment after Established.
  const r = await waitFor(
    async () => {
      const got = await spawner(['get'], { kubeconfig });
      return got.exitCode === 0 ? got : undefined;
    },
    { what: 'spawner get to work once the CRD is installed', timeoutMs: 60_000, intervalMs: 500 },
  );
  expect(r.stderr).toBe('No backends found in namespace default.');
});
