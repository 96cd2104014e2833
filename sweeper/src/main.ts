// spawner-sweeper: one per node (DaemonSet). Follows the sidecars of this node's backends and deletes
// the ones idle past their grace period. See sweeper/README.md.

import { loadConfigOrExit } from '../../common/config.ts';
import { createLogger } from '../../common/log.ts';
import { runUntilSignal } from '../../common/process.ts';
import { runSweeper } from './app.ts';
import { checkConfig, sweeperSpecs } from './config.ts';

const config = loadConfigOrExit('spawner-sweeper', sweeperSpecs);
const problem = checkConfig(config);
if (problem) {
  process.stderr.write(`spawner-sweeper: invalid configuration: ${problem}\n`);
  process.exit(2);
}
const log = createLogger('sweeper');

await runUntilSignal(log, async () => {
  const running = await runSweeper(config, log);
  return () => running.stop();
});
