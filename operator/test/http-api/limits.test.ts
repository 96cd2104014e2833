import { describe, expect, test } from '@jest/globals';
import { admitStream, STREAM_RETRY_AFTER_SECONDS, TokenBucket } from '../../src/http-api/limits.ts';

describe('TokenBucket', () => {
  test('a burst, then the sustained rate, with Retry-After rounded up to whole seconds', () => {
    const b = new TokenBucket(2, 3, 0); // 2 per second, bursts of 3
    expect([b.take(0), b.take(0), b.take(0)]).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
    expect(b.take(0)).toEqual({ ok: false, retryAfterSeconds: 1 });
    expect(b.take(499)).toEqual({ ok: false, retryAfterSeconds: 1 });
    expect(b.take(500)).toEqual({ ok: true }); // one token refilled after 0.5 s
    expect(b.take(10_000)).toEqual({ ok: true });
    expect([b.take(10_000), b.take(10_000), b.take(10_000)].map((a) => a.ok)).toEqual([true, true, false]); // refilled to the burst, not beyond
  });

  test.each([
    [0.1, 10],
    [0.5, 2],
    [10, 1],
  ])('at %d per second an empty bucket says retry after %d s', (rate, seconds) => {
    const b = new TokenBucket(rate, 1, 0);
    b.take(0);
    expect(b.take(0)).toEqual({ ok: false, retryAfterSeconds: seconds });
  });

  test('refuses a limit that would answer nothing', () => {
    expect(() => new TokenBucket(0, 1, 0)).toThrow();
    expect(() => new TokenBucket(1, 0, 0)).toThrow();
  });
});

test.each([
  [0, 2, { ok: true }],
  [1, 2, { ok: true }],
  [2, 2, { ok: false, retryAfterSeconds: STREAM_RETRY_AFTER_SECONDS }],
  [5, 2, { ok: false, retryAfterSeconds: STREAM_RETRY_AFTER_SECONDS }],
])('admitStream: %d open of at most %d', (open, max, want) => {
  expect(admitStream(open, max)).toEqual(want);
});
