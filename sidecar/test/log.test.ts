import { describe, expect, test } from '@jest/globals';
import { createLog, formatLine, type LogLevel } from '../src/log.ts';

const at = new Date('2026-11-26T10:00:00.000Z');

describe('formatLine', () => {
  test('level, time, bindings, fields, msg last: one JSON object per line', () => {
    const line = formatLine('info', at, { component: 'sidecar', namespace: 'team', name: 'b1' }, { proxyPort: 9090 }, 'sidecar started');
    expect(line).toBe('{"level":"info","time":"2026-11-26T10:00:00.000Z","component":"sidecar","namespace":"team","name":"b1","proxyPort":9090,"msg":"sidecar started"}\n');
  });

  test('an Error keeps its type, message, stack and own fields such as code', () => {
    const err = Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE', port: 9090 });
    const parsed = JSON.parse(formatLine('fatal', at, {}, { err }, 'cannot start')) as { err: Record<string, unknown> };
    expect(parsed.err).toMatchObject({ type: 'Error', message: 'listen EADDRINUSE', code: 'EADDRINUSE', port: 9090 });
    expect(String(parsed.err.stack)).toContain('log.test.ts');
  });
});

describe('createLog', () => {
  function recorded(level: LogLevel) {
    const lines: Record<string, unknown>[] = [];
    const log = createLog({ level, bindings: { component: 'sidecar' }, write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>), now: () => at });
    return { log, lines };
  }

  test.each<[LogLevel, string[]]>([
    ['debug', ['debug', 'info', 'warn', 'error', 'fatal']],
    ['info', ['info', 'warn', 'error', 'fatal']],
    ['error', ['error', 'fatal']],
    ['silent', []],
  ])('at %s, writes %j', (level, expected) => {
    const { log, lines } = recorded(level);
    log.debug('d');
    log.info({ a: 1 }, 'i');
    log.warn('w');
    log.error('e');
    log.fatal('f');
    expect(lines.map((l) => l.level)).toEqual(expected);
  });

  test('a child adds its bindings to every line and leaves the parent as it was', () => {
    const { log, lines } = recorded('info');
    log.child({ namespace: 'team', name: 'b1' }).info({ listening: true }, 'app is listening');
    log.info('parent');
    expect(lines).toEqual([
      { level: 'info', time: at.toISOString(), component: 'sidecar', namespace: 'team', name: 'b1', listening: true, msg: 'app is listening' },
      { level: 'info', time: at.toISOString(), component: 'sidecar', msg: 'parent' },
    ]);
  });
});
