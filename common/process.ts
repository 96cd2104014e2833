// How every long-running Spawner process starts and stops: a failed start exits 1 (configuration was
// checked before, exit 2), SIGTERM or SIGINT runs the stop once (a second signal while it runs changes
// nothing) and exits 0 when it finished cleanly, 1 when it did not. Kept free of imports so the sidecar,
// which counts the modules it loads, can use it.

// The few lines it writes; pino's logger and the sidecar's own both fit.
export interface ProcessLog {
  info(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
  fatal(fields: Record<string, unknown>, msg: string): void;
}

export type Stop = () => Promise<void>;

export async function runUntilSignal(log: ProcessLog, start: () => Promise<Stop>): Promise<void> {
  let stop: Stop;
  try {
    stop = await start();
  } catch (err) {
    log.fatal({ err: err instanceof Error ? err.message : String(err) }, 'could not start');
    process.exit(1);
  }
  let stopping = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'stopping');
      stop().then(
        () => process.exit(0),
        (err: unknown) => {
          log.error({ err: err instanceof Error ? err.message : String(err) }, 'unclean stop');
          process.exit(1);
        },
      );
    });
  }
}
