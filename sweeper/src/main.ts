// spawner-sweeper: one per node (DaemonSet). Follows the sidecars of this node's backends and deletes
// the ones idle past their grace period. See sweeper/README.md.

import { loadConfigOrExit } from '../../common/config.ts';
import { createLogger } from '../../common/log.ts';
import { runSweeper } from './app.ts';
import { checkConfig, sweeperSpecs } from './config.ts';

const config = loadConfigOrExit('spawner-sweeper', sweeperSpecs);
const problem = checkConfig(config);
if (problem) {
  process.stderr.write(`spawner-sweeper: invalid configuration: ${problem}\n`);
  process.exit(2);
}
const log = createLogger('sweeper');

let running: Awaited<ReturnType<typeof runSweeper>>;
try {
  running = await runSweeper(config, log);
} catch (err) {
  log.fatal({ err: (err as Error).message }, 'could not start');
  process.exit(1);
}

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    running.stop().then(
      () => process.exit(0),
      (err: Error) => {
        log.error({ err: err.message }, 'unclean stop');
        process.exit(1);
      },
    );
  });
}
