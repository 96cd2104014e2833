// Jest globalSetup of the end-to-end suite. With KUBECONFIG set, Spawner is (re)deployed there with
// e2e/node/deploy.sh (the overlay fitting the context; on kind the images were loaded beforehand).
// Without it, a cluster with a real node is brought up here, the images are built and imported, and
// Spawner deployed; the teardown then stops that cluster (unless SPAWNER_KEEP_CLUSTER).
import path from 'node:path';
import { execa } from 'execa';
import { binaryPath } from '../harness/binaries.ts';
import { up } from '../harness/cluster.ts';
import { repoRoot } from '../harness/paths.ts';

export const broughtUpMarker = 'SPAWNER_E2E_BROUGHT_UP';

export default async function globalSetup(): Promise<void> {
  process.stderr.write('\n');
  if (process.env.KUBECONFIG) {
    process.env.SPAWNER_TEST_KUBECTL ||= binaryPath('kubectl');
    process.stderr.write(`[e2e] using the cluster of KUBECONFIG=${process.env.KUBECONFIG}\n`);
  } else {
    const info = await up({ realNode: true });
    process.env.KUBECONFIG = info.kubeconfig;
    process.env.SPAWNER_TEST_KUBECTL = info.kubectl;
    process.env[broughtUpMarker] = info.stateFile;
    await execa('bash', [path.join(repoRoot, 'images', 'build.sh')], { stdio: ['ignore', 2, 2] });
  }
  if (!process.env.SPAWNER_E2E_SKIP_DEPLOY) {
    await execa('bash', [path.join(repoRoot, 'e2e', 'node', 'deploy.sh')], {
      stdio: ['ignore', 2, 2],
      env: { KUBECTL: process.env.SPAWNER_TEST_KUBECTL },
    });
  }
}
