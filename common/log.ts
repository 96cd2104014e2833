import { pino, type Logger } from 'pino';

export type { Logger };

// One JSON line per event on stdout. Every line about a backend carries `namespace` and `name`
// (use `forBackend`), so `kubectl logs … | grep '"name":"x"'` follows one backend across components.
export function createLogger(component: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { component },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}

export function forBackend(log: Logger, namespace: string, name: string): Logger {
  return log.child({ namespace, name });
}

// The text of a thrown value for a log line's `err` field.
export function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
