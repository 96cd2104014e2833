import { describe, expect, test } from '@jest/globals';
import { formatDuration, humanAge, parseDuration } from '../src/duration.ts';

describe('parseDuration', () => {
  test.each<[string, number]>([
    ['90', 90_000],
    ['1.5', 1500],
    ['90s', 90_000],
    ['2m', 120_000],
    ['1h30m', 5_400_000],
    ['500ms', 500],
    ['1m30s', 90_000],
    [' 3s ', 3000],
  ])('%s → %d ms', (raw, ms) => expect(parseDuration(raw)).toBe(ms));

  test.each(['', 'soon', '5d', '1m 30s', 'm', '-5s', '1h30'])('%j is refused with an example', (raw) => {
    expect(() => parseDuration(raw)).toThrow(/is not a duration: use e.g. 90s, 2m/);
  });
});

describe('formatDuration and humanAge', () => {
  test.each<[number, string]>([
    [0, '0s'],
    [59_000, '59s'],
    [60_000, '1m'],
    [90_000, '1m30s'],
    [3_600_000, '1h'],
    [5_400_000, '1h30m'],
  ])('formatDuration(%d) = %s', (ms, text) => expect(formatDuration(ms)).toBe(text));

  test.each<[number, string]>([
    [-5000, '<invalid>'],
    [-500, '0s'],
    [5000, '5s'],
    [119_000, '119s'],
    [150_000, '2m30s'],
    [600_000, '10m'],
    [179 * 60_000, '179m'],
    [3 * 3_600_000 + 5 * 60_000, '3h5m'],
    [30 * 3_600_000, '30h'],
    [50 * 3_600_000, '2d2h'],
    [10 * 86_400_000, '10d'],
    [800 * 86_400_000, '2y70d'],
  ])('humanAge(%d) = %s', (ms, text) => expect(humanAge(ms)).toBe(text));
});
