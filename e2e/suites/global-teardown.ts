// Stops the cluster only if the e2e global setup brought it up (never one given by KUBECONFIG).
import { down } from '../harness/cluster.ts';
import { broughtUpMarker } from './global-setup.ts';

export default async function globalTeardown(): Promise<void> {
  const stateFile = process.env[broughtUpMarker];
  if (!stateFile) return;
  if (process.env.SPAWNER_KEEP_CLUSTER) {
    process.stderr.write('[e2e] SPAWNER_KEEP_CLUSTER set: cluster left running (node e2e/harness/cli.ts down stops it)\n');
    return;
  }
  await down({ stateFile });
}
