import { describe, expect, test } from '@jest/globals';
import { findCondition, setCondition } from './conditions.ts';

const at = (seconds: number) => new Date(Date.parse('2026-01-01T00:00:00Z') + seconds * 1000);

describe('setCondition', () => {
  const base = { type: 'Ready', status: 'False' as const, reason: 'Starting', message: 'a' };
  test.each([
    ['a new condition takes now', [], base, '2026-01-01T00:00:09Z'],
    ['an unchanged status keeps its transition time', [{ ...base, lastTransitionTime: '2026-01-01T00:00:01Z' }], { ...base, message: 'b' }, '2026-01-01T00:00:01Z'],
    ['a changed status takes now', [{ ...base, lastTransitionTime: '2026-01-01T00:00:01Z' }], { ...base, status: 'True' as const }, '2026-01-01T00:00:09Z'],
  ])('%s', (_what, existing, next, time) => {
    const result = setCondition(existing, next, at(9));
    expect(result).toHaveLength(1);
    expect(result[0]!.lastTransitionTime).toBe(time);
  });

  test("other writers' conditions are kept in place, the new one appended", () => {
    const swept = { type: 'Swept', status: 'True' as const, reason: 'Idle', message: 'idle', lastTransitionTime: '2026-01-01T00:00:00Z' };
    const result = setCondition([swept], { ...base, observedGeneration: 3 }, at(9));
    expect(result).toEqual([swept, { ...base, observedGeneration: 3, lastTransitionTime: '2026-01-01T00:00:09Z' }]);
  });

  test('an unknown generation is left out rather than written as undefined', () => {
    expect(Object.keys(setCondition([], { ...base, observedGeneration: undefined }, at(1))[0]!)).not.toContain('observedGeneration');
  });

  test('findCondition', () => {
    const slb = { status: { conditions: setCondition([], base, at(1)) } };
    expect(findCondition(slb, 'Ready')?.reason).toBe('Starting');
    expect(findCondition(slb, 'Swept')).toBeUndefined();
    expect(findCondition({}, 'Ready')).toBeUndefined();
  });
});
