// Reconnect delays for a sidecar that cannot be reached: exponential, capped, with jitter so that a
// node full of backends that lost their streams at once (a sweeper restart, a network blip) does not
// reconnect in lock step.

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  factor: number; // growth per failed attempt, ≥ 1
  jitter: number; // 0..1: fraction of the delay that may be taken off at random
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 250, maxMs: 30_000, factor: 2, jitter: 0.2 };

// `attempt` counts failures since the last success, starting at 0. `random` is in [0, 1).
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: number = Math.random()): number {
  const exponent = Math.max(0, attempt);
  const raw = Math.min(policy.maxMs, policy.initialMs * Math.pow(Math.max(1, policy.factor), exponent));
  const jitter = Math.min(1, Math.max(0, policy.jitter));
  return Math.round(raw * (1 - jitter * random));
}
