import { describe, expect, test } from '@jest/globals';
import { formatEvent, formatRetry, HEARTBEAT, throttleDelay } from '../src/events.ts';
import { probeInterval } from '../src/readiness.ts';

describe('SSE wire format', () => {
  test('an event is one data line with the JSON in contract order, then a blank line', () => {
    expect(formatEvent({ active_connections: 2, seconds_inactive: 0, listening: true, ready: false })).toBe(
      'data: {"active_connections":2,"seconds_inactive":0,"listening":true,"ready":false}\n\n',
    );
  });
  test('the heartbeat is a comment, which EventSource ignores', () => {
    expect(HEARTBEAT).toBe(': heartbeat\n\n');
  });
  test('the retry hint', () => {
    expect(formatRetry(1000)).toBe('retry: 1000\n\n');
  });
});

describe('throttleDelay', () => {
  test.each([
    { now: 1000, last: undefined, min: 100, delay: 0 },
    { now: 1000, last: 900, min: 100, delay: 0 },
    { now: 1000, last: 950, min: 100, delay: 50 },
    { now: 1000, last: 1000, min: 100, delay: 100 },
    { now: 1000, last: 1000, min: 0, delay: 0 },
    { now: 1000, last: 5000, min: 100, delay: 4100 },
  ])('now=$now last=$last min=$min → $delay', ({ now, last, min, delay }) => {
    expect(throttleDelay(now, last, min)).toBe(delay);
  });
});

describe('probeInterval', () => {
  test.each([
    { listening: false, expected: 100 },
    { listening: true, expected: 2000 },
  ])('listening=$listening → $expected ms', ({ listening, expected }) => {
    expect(probeInterval(listening, { fastMs: 100, slowMs: 2000 })).toBe(expected);
  });
});
