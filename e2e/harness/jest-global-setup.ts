// Jest globalSetup for the `integration` project: uses the cluster named by KUBECONFIG when given,
// otherwise brings one up (building the binaries on a fresh machine) and hands it to the tests
// through the environment, which Jest's workers inherit.
import { binaryPath } from './binaries.ts';
import { up } from './cluster.ts';

export const broughtUpMarker = 'SPAWNER_HARNESS_BROUGHT_UP';

export default async function globalSetup(): Promise<void> {
  if (process.env.KUBECONFIG) {
    process.env.SPAWNER_TEST_KUBECTL ||= binaryPath('kubectl');
    process.stderr.write(`\n[cluster] using the cluster of KUBECONFIG=${process.env.KUBECONFIG}\n`);
    return;
  }
  process.stderr.write('\n');
  const info = await up();
  process.env.KUBECONFIG = info.kubeconfig;
  process.env.SPAWNER_TEST_KUBECTL = info.kubectl;
  process.env[broughtUpMarker] = info.stateFile;
}
