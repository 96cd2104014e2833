import { describe, expect, jest, test } from '@jest/globals';
import type { Clock } from './clock.ts';
import { RetryAfter, WorkQueue, type Result } from './workqueue.ts';
import { eventually, gate } from './testing/eventually.ts';

jest.setTimeout(60_000);

// A clock whose timers the test fires by hand, recording the delays the queue asked for.
class ManualTimers implements Clock {
  t = 0;
  now = () => this.t;
  pending = new Map<number, { fn: () => void; ms: number; at: number }>();
  private seq = 0;
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.pending.set(id, { fn, ms, at: this.t + ms });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  delays(): number[] {
    return [...this.pending.values()].map((p) => p.ms);
  }
  fireAll(): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.fn();
  }
}

describe('WorkQueue bookkeeping', () => {
  test('deduplicates waiting keys and keeps FIFO order', () => {
    const q = new WorkQueue();
    for (const k of ['a', 'b', 'a', 'c', 'b']) q.add(k);
    expect(q.len()).toBe(3);
    expect([q.get(), q.get(), q.get(), q.get()]).toEqual(['a', 'b', 'c', undefined]);
  });

  test('a key added while processing is not handed out again until done, then comes back once', () => {
    const q = new WorkQueue();
    q.add('a');
    expect(q.get()).toBe('a');
    q.add('a');
    q.add('a');
    expect(q.len()).toBe(0);
    expect(q.get()).toBeUndefined();
    q.done('a');
    expect(q.len()).toBe(1);
    expect(q.get()).toBe('a');
    q.done('a');
    expect(q.len()).toBe(0);
  });

  // Each row: adds as `key` (normal) or `key!` (high), with `>` handing one key out and `<key` marking it
  // done; then what is handed out, in order, until nothing waits.
  test.each<[string, string[], string[]]>([
    ['high keys go first, each priority FIFO', ['a', 'b!', 'c', 'd!'], ['b', 'd', 'a', 'c']],
    ['a waiting key added again as high moves up, once', ['a', 'b', 'c', 'c!', 'c!'], ['c', 'a', 'b']],
    ['a high key added again as normal stays high', ['a', 'b!', 'b'], ['b', 'a']],
    ['a key added as high while processing comes back high', ['a', 'b', '>', 'a!', '<a'], ['a', 'b']],
    ['a key added as normal while processing comes back at the end', ['a', 'b', '>', 'a', '<a'], ['b', 'a']],
    ['a key moved up and handed out is not handed out again by its old place', ['a', 'b', 'a!', '>', '<a'], ['b']],
    ['a key handed out from its old place after moving up comes back once when added again', ['a', 'a!', '>', '<a', 'a', 'b'], ['a', 'b']],
  ])('priorities: %s', (_what, steps, expected) => {
    const q = new WorkQueue();
    for (const step of steps) {
      if (step === '>') q.get();
      else if (step.startsWith('<')) q.done(step.slice(1));
      else q.add(step.replace('!', ''), step.endsWith('!') ? 'high' : 'normal');
    }
    expect(q.len()).toBe(new Set(expected).size);
    const out: string[] = [];
    for (let k = q.get(); k !== undefined; k = q.get()) {
      out.push(k);
      q.done(k);
    }
    expect(out).toEqual(expected);
    expect(q.len()).toBe(0);
  });

  test('addAfter keeps the earliest pending delay per key', () => {
    const timers = new ManualTimers();
    const q = new WorkQueue({ clock: timers });
    q.addAfter('a', 1000);
    q.addAfter('a', 5000);
    expect(timers.delays()).toEqual([1000]);
    q.addAfter('a', 10);
    expect(timers.delays()).toEqual([10]);
    expect(q.len()).toBe(0);
    timers.fireAll();
    expect(q.len()).toBe(1);
    q.addAfter('b', 0);
    expect(q.len()).toBe(2);
  });

  test('rate limiting grows per key and forget resets it', () => {
    const timers = new ManualTimers();
    const q = new WorkQueue({ clock: timers, baseDelayMs: 5, maxDelayMs: 30 });
    const seen: number[] = [];
    for (let i = 0; i < 5; i++) {
      q.addRateLimited('a');
      seen.push(...timers.delays());
      timers.fireAll();
      q.get();
      q.done('a');
    }
    expect(seen).toEqual([5, 10, 20, 30, 30]);
    expect(q.numRequeues('a')).toBe(5);
    q.addRateLimited('b');
    expect(timers.delays()).toEqual([5]);
    q.forget('a');
    timers.fireAll();
    q.addRateLimited('a');
    expect(timers.delays()).toEqual([5]);
  });

  // minIntervalMs 100. Each row: steps — `+key` add, `>` hand out the next key (recorded), `<key` done,
  // `tN` the clock moves to N ms and due timers fire — then what was handed out, with the time of each.
  test.each<[string, string[], string[]]>([
    ['a key added again within the interval waits for its remainder, once for any number of adds',
      ['+a', '>', '<a', 't30', '+a', '+a', '>', 't99', '>', 't100', '>'], ['a@0', 'a@100']],
    ['a key changed during its run comes back when the interval has passed, not at once',
      ['+a', '>', 't10', '+a', '<a', '>', 't100', '>'], ['a@0', 'a@100']],
    ['a key added after the interval is handed out at once', ['+a', '>', '<a', 't150', '+a', '>'], ['a@0', 'a@150']],
    ['other keys do not wait for it', ['+a', '>', '<a', '+b', '+a', '>', '>'], ['a@0', 'b@0']],
    ['a run longer than the interval re-runs at once', ['+a', '>', 't10', '+a', 't120', '<a', '>'], ['a@0', 'a@120']],
  ])('minIntervalMs: %s', (_name, steps, expected) => {
    const timers = new ManualTimers();
    const q = new WorkQueue({ clock: timers, minIntervalMs: 100 });
    const out: string[] = [];
    for (const step of steps) {
      if (step === '>') {
        const key = q.get();
        if (key !== undefined) out.push(`${key}@${timers.t}`);
      } else if (step.startsWith('<')) q.done(step.slice(1));
      else if (step.startsWith('+')) q.add(step.slice(1));
      else {
        timers.t = Number(step.slice(1));
        for (const [id, p] of [...timers.pending]) {
          if (p.at <= timers.t) {
            timers.pending.delete(id);
            p.fn();
          }
        }
      }
    }
    expect(out).toEqual(expected);
  });

  test('shutdown drops delayed keys and refuses new ones', () => {
    const timers = new ManualTimers();
    const q = new WorkQueue({ clock: timers });
    q.addAfter('a', 100);
    q.shutdown();
    expect(timers.pending.size).toBe(0);
    q.add('b');
    expect(q.len()).toBe(0);
    expect(q.get()).toBeUndefined();
  });

  test('rejects a nonsensical configuration', () => {
    expect(() => new WorkQueue({ baseDelayMs: 0 })).toThrow(/baseDelayMs/);
    expect(() => new WorkQueue({ baseDelayMs: 10, maxDelayMs: 5 })).toThrow(/maxDelayMs/);
    expect(() => new WorkQueue({ minIntervalMs: -1 })).toThrow(/minIntervalMs/);
  });
});

describe('WorkQueue.run', () => {
  test('never runs one key twice at once, and re-runs a key changed during its run', async () => {
    const q = new WorkQueue();
    const active = new Map<string, number>();
    let maxPerKey = 0;
    const runs: string[] = [];
    const holdFirst = gate();
    const firstStarted = gate();
    const worker = async (key: string) => {
      active.set(key, (active.get(key) ?? 0) + 1);
      maxPerKey = Math.max(maxPerKey, active.get(key)!);
      runs.push(key);
      if (runs.length === 1) {
        firstStarted.open();
        await holdFirst.promise;
      }
      active.set(key, active.get(key)! - 1);
    };
    q.add('a');
    const done = q.run(worker, 4);
    await firstStarted.promise;
    // The object changes three times while its first run is still going.
    q.add('a');
    q.add('a');
    q.add('a');
    await new Promise((r) => setImmediate(r));
    expect(runs).toEqual(['a']);
    holdFirst.open();
    await eventually(() => runs.length === 2 && q.inFlight() === 0, 'the re-run');
    expect(maxPerKey).toBe(1);
    q.shutdown();
    await done;
    expect(runs).toEqual(['a', 'a']);
  });

  test('bounds concurrency across keys', async () => {
    const q = new WorkQueue();
    let active = 0;
    let maxActive = 0;
    let finished = 0;
    const release = gate();
    for (let i = 0; i < 10; i++) q.add(`ns/k${i}`);
    const done = q.run(async () => {
      active++;
      maxActive = Math.max(maxActive, active);
      await release.promise;
      active--;
      finished++;
    }, 3);
    await eventually(() => active === 3, 'three keys in flight');
    expect(q.len()).toBe(7);
    release.open();
    await eventually(() => finished === 10, 'all keys processed');
    expect(maxActive).toBe(3);
    q.shutdown();
    await done;
  });

  test('failures back off with growing delays; success forgets; requeueAfter and RetryAfter schedule as asked', async () => {
    const timers = new ManualTimers();
    const errors: Array<[string, number]> = [];
    const q = new WorkQueue({ clock: timers, baseDelayMs: 5, maxDelayMs: 1000, onError: (k, _e, n) => errors.push([k, n]) });
    const script: Array<() => unknown> = [
      () => { throw new Error('boom'); },
      () => { throw new Error('boom'); },
      () => { throw new Error('boom'); },
      () => ({ requeueAfterMs: 1234 }),
      () => { throw new Error('boom'); },
      () => { throw new RetryAfter(777); },
      () => undefined,
    ];
    let calls = 0;
    const done = q.run(async () => script[calls++]!() as Result | undefined, 2);
    const delays: number[] = [];
    q.add('ns/a');
    for (let i = 0; i < script.length - 1; i++) {
      await eventually(() => timers.pending.size === 1 && q.inFlight() === 0, `timer after call ${i + 1}`);
      delays.push(...timers.delays());
      if (i === 4) expect(q.numRequeues('ns/a')).toBe(1);
      timers.fireAll();
    }
    await eventually(() => calls === script.length && q.inFlight() === 0, 'the last call');
    // 3 failures: 5, 10, 20; success with requeueAfter resets the count; the next failure starts over at 5;
    // RetryAfter is its own delay and does not count as a failure.
    expect(delays).toEqual([5, 10, 20, 1234, 5, 777]);
    expect(errors).toEqual([['ns/a', 1], ['ns/a', 2], ['ns/a', 3], ['ns/a', 1]]);
    expect(timers.pending.size).toBe(0);
    expect(q.numRequeues('ns/a')).toBe(0);
    q.shutdown();
    await done;
  });

  test('requeueAfterMs 0 comes back at once but lets I/O and timers run in between', async () => {
    const q = new WorkQueue();
    let calls = 0;
    let timerFiredAt: number | undefined;
    // A worker that awaits nothing: without a yield it would re-run on microtasks only, and the timer
    // below would never fire while it asks to come back.
    const done = q.run(async () => (++calls < 10_000 && timerFiredAt === undefined ? { requeueAfterMs: 0 } : undefined), 1);
    setTimeout(() => { timerFiredAt = calls; }, 0);
    q.add('ns/a');
    await eventually(() => timerFiredAt !== undefined && q.inFlight() === 0 && q.len() === 0, 'the timer, then the last run');
    expect(timerFiredAt).toBeLessThan(10_000);
    expect(calls).toBeGreaterThan(1);
    q.shutdown();
    await done;
  });

  test('an abort stops handing out keys at once; in-flight runs finish; the rest stay queued', async () => {
    const q = new WorkQueue();
    const ac = new AbortController();
    const started: string[] = [];
    const release = gate();
    for (const k of ['a', 'b', 'c']) q.add(k);
    let resolved = false;
    const done = q.run(async (key) => {
      started.push(key);
      await release.promise;
    }, 1, { signal: ac.signal }).then(() => (resolved = true));
    await eventually(() => started.length === 1, 'first key started');
    ac.abort();
    await new Promise((r) => setImmediate(r));
    expect(resolved).toBe(false);
    release.open();
    await done;
    expect(started).toEqual(['a']);
    expect(q.len()).toBe(2);
    // A later term picks up where the last one stopped.
    const more: string[] = [];
    const second = q.run(async (key) => { more.push(key); }, 1);
    await eventually(() => more.length === 2, 'remaining keys');
    q.shutdown();
    await second;
    expect(more).toEqual(['b', 'c']);
  });

  test('shutdown ends run after in-flight work, and a second concurrent run is refused', async () => {
    const q = new WorkQueue();
    const release = gate();
    let finished = false;
    q.add('a');
    const done = q.run(async () => {
      await release.promise;
      finished = true;
    }, 2);
    await expect(q.run(async () => undefined, 1)).rejects.toThrow(/already running/);
    await eventually(() => q.inFlight() === 1, 'a in flight');
    q.shutdown();
    q.add('b');
    release.open();
    await done;
    expect(finished).toBe(true);
    expect(q.len()).toBe(0);
  });
});
