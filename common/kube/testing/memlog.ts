import { pino } from 'pino';
import type { Logger } from '../../log.ts';

// A logger whose JSON lines land in an array, so tests can assert what was logged.
export function memoryLogger(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino(
    { level: 'debug', base: { component: 'test' } },
    { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) },
  );
  return { log, lines };
}
