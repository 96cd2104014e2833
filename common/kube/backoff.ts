// One backoff policy for every retry: the work queue's per-key requeues, the sweeper's reconnects to an
// unreachable sidecar and its failed sweeps. Exponential, capped, with optional jitter so that many
// clients that failed at once (a restart, a network blip) do not retry in lock step.

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  factor: number; // growth per failed attempt, ≥ 1
  jitter: number; // 0..1: fraction of the delay that may be taken off at random (0: none)
}

// `attempt` counts failures since the last success, starting at 0. `random` is in [0, 1).
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: number = Math.random()): number {
  const exponent = Math.max(0, attempt);
  // factor^exponent overflows to Infinity for large attempts; the cap holds.
  const raw = Math.min(policy.maxMs, policy.initialMs * Math.pow(Math.max(1, policy.factor), exponent));
  const jitter = Math.min(1, Math.max(0, policy.jitter));
  return jitter === 0 ? raw : Math.round(raw * (1 - jitter * random));
}
