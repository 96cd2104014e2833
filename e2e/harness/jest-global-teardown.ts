// Jest globalTeardown: stops the cluster only if globalSetup brought it up (never one given by KUBECONFIG).
import { down } from './cluster.ts';
import { broughtUpMarker } from './jest-global-setup.ts';

export default async function globalTeardown(): Promise<void> {
  const stateFile = process.env[broughtUpMarker];
  if (!stateFile) return;
  if (process.env.SPAWNER_KEEP_CLUSTER) {
    process.stderr.write(`[cluster] SPAWNER_KEEP_CLUSTER set: left running (node e2e/harness/cli.ts down stops it)\n`);
    return;
  }
  await down({ stateFile });
  delete process.env[broughtUpMarker];
  delete process.env.KUBECONFIG;
}
