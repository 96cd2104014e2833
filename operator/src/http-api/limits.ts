// What one token holder may ask of the HTTP API at once: POST /init at a sustained rate with a burst (a
// token bucket), and a number of open status streams (each holds a watch on the API server). Pure, with
// the time passed in, so every limit is a table row. Beyond a limit the API answers 429 with Retry-After.

export type Admission = { ok: true } | { ok: false; retryAfterSeconds: number };

// Refills `ratePerSecond` tokens a second up to `burst`; each request takes one.
export class TokenBucket {
  readonly ratePerSecond: number;
  readonly burst: number;
  #tokens: number;
  #at: number;

  constructor(ratePerSecond: number, burst: number, now: number) {
    if (!(ratePerSecond > 0) || !(burst >= 1)) throw new Error('TokenBucket: need ratePerSecond > 0 and burst >= 1');
    this.ratePerSecond = ratePerSecond;
    this.burst = burst;
    this.#tokens = burst;
    this.#at = now;
  }

  take(now: number): Admission {
    this.#tokens = Math.min(this.burst, this.#tokens + (Math.max(0, now - this.#at) / 1000) * this.ratePerSecond);
    this.#at = now;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return { ok: true };
    }
    // Whole seconds, rounded up: a client that waits that long finds a token.
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - this.#tokens) / this.ratePerSecond)) };
  }
}

// How long a client turned away for too many open streams should wait: streams end when their backend
// goes or their client leaves, which the API cannot foresee; a short, fixed wait keeps retries cheap.
export const STREAM_RETRY_AFTER_SECONDS = 5;

export function admitStream(open: number, max: number): Admission {
  return open < max ? { ok: true } : { ok: false, retryAfterSeconds: STREAM_RETRY_AFTER_SECONDS };
}
