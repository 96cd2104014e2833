import { describe, expect, test } from '@jest/globals';
import { MemoryReducer, memoryReducingGc, shouldReduce } from '../src/memory.ts';

const MB = 1024 * 1024;

test.each([
  { sinceActivityMs: 6000, committedBytes: 40 * MB, reduce: true, why: 'quiet, and grown by 30 MB' },
  { sinceActivityMs: 4999, committedBytes: 40 * MB, reduce: false, why: 'connections opened or closed too recently' },
  { sinceActivityMs: 60_000, committedBytes: 17 * MB, reduce: false, why: 'grown by less than the threshold' },
  { sinceActivityMs: 5000, committedBytes: 18 * MB, reduce: true, why: 'exactly at both bounds' },
])('shouldReduce: $why → $reduce', ({ sinceActivityMs, committedBytes, reduce }) => {
  expect(shouldReduce({ sinceActivityMs, quietMs: 5000, committedBytes, baselineBytes: 10 * MB, growthBytes: 8 * MB })).toBe(reduce);
});

describe('MemoryReducer', () => {
  function rig() {
    const s = { now: 0, lastActivity: 0, heap: 10 * MB, gcs: 0 };
    const reducer = new MemoryReducer({
      lastActivityMs: () => s.lastActivity,
      heap: () => ({ committedBytes: s.heap }),
      gc: () => {
        s.gcs++;
        s.heap = 11 * MB; // what a compacting collection leaves
      },
      clock: () => s.now,
      quietMs: 5000,
      growthBytes: 8 * MB,
    });
    return { s, reducer };
  }

  test('a burst that grew the heap is followed by one reduction once quiet, and not another', () => {
    const { s, reducer } = rig();
    s.heap = 60 * MB; // 8,000 connections opened and closed
    s.now = s.lastActivity = 10_000;
    expect(reducer.check()).toBe(false); // still busy
    s.now = 14_000;
    expect(reducer.check()).toBe(false);
    s.now = 15_000;
    expect(reducer.check()).toBe(true);
    expect(s.gcs).toBe(1);
    s.now = 60_000;
    expect(reducer.check()).toBe(false); // nothing grew since
    expect(s.gcs).toBe(1);
  });

  test('the next burst is measured from what the last reduction left', () => {
    const { s, reducer } = rig();
    s.heap = 60 * MB;
    s.now = 10_000;
    reducer.check();
    s.heap = 18 * MB; // grew 7 MB over the 11 MB left: not enough
    s.now = s.lastActivity = 20_000;
    s.now = 30_000;
    expect(reducer.check()).toBe(false);
    s.heap = 19 * MB;
    expect(reducer.check()).toBe(true);
    expect(s.gcs).toBe(2);
  });

  test('a heap that shrank by itself lowers the bar', () => {
    const { s, reducer } = rig();
    s.heap = 6 * MB;
    s.now = 10_000;
    expect(reducer.check()).toBe(false);
    s.heap = 14 * MB; // 8 MB over the lower level
    expect(reducer.check()).toBe(true);
  });
});

test("V8's memory-reducing collection is reachable without --expose-gc, and returns the heap it grew to", () => {
  const reduce = memoryReducingGc();
  let garbage: object[] | undefined = Array.from({ length: 300_000 }, (_, i) => ({ i, s: `x${i}` }));
  expect(garbage.length).toBe(300_000);
  garbage = undefined;
  const before = process.memoryUsage().heapTotal;
  reduce();
  reduce(); // the second call reuses the collection found by the first
  expect(process.memoryUsage().heapTotal).toBeLessThan(before);
});
