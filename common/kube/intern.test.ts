import { expect, test } from '@jest/globals';
import { StringPool } from './intern.ts';

test('a pool returns the copy it holds, and stops growing at its bound', () => {
  const pool = new StringPool(2);
  const first = pool.intern(['Ready'].join(''));
  expect(pool.intern('Ready')).toBe(first);
  expect(pool.intern(undefined)).toBeUndefined();
  pool.intern('True');
  pool.intern('False'); // beyond the bound: returned as given, not kept
  expect(pool.size).toBe(2);
  expect(pool.intern('False')).toBe('False');
});
