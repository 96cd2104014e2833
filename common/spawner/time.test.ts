import { describe, expect, test } from '@jest/globals';
import { rfc3339, timeMs } from './time.ts';

describe('timeMs: absent or unreadable is undefined, never NaN', () => {
  test.each<[string, Date | string | null | undefined, number | undefined]>([
    ['RFC 3339 string', '2026-01-01T00:00:05Z', Date.parse('2026-01-01T00:00:05Z')],
    ['Date', new Date('2026-01-01T00:00:05Z'), Date.parse('2026-01-01T00:00:05Z')],
    ['undefined', undefined, undefined],
    ['null', null, undefined],
    ['garbage', 'yesterday-ish', undefined],
    ['invalid Date', new Date('nope'), undefined],
  ])('%s', (_what, value, want) => {
    expect(timeMs(value)).toBe(want);
  });
});

test('rfc3339 drops the fraction, as metav1.Time does', () => {
  expect(rfc3339(new Date('2026-01-01T00:00:05.987Z'))).toBe('2026-01-01T00:00:05Z');
  expect(rfc3339(Date.parse('2026-01-01T00:00:05.001Z'))).toBe('2026-01-01T00:00:05Z');
});
