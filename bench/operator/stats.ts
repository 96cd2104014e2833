// Small helpers the benchmark's phases share: percentiles, medians with their spread, a bounded pool.

export function percentile(values: number[], p: number): number {
  if (!values.length) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export function median(values: number[]): number {
  if (!values.length) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** "median (min–max)" with `digits` decimals; a single value is printed alone. */
export function spread(values: number[], digits = 0): string {
  const ok = values.filter((v) => Number.isFinite(v));
  if (!ok.length) return '-';
  const f = (v: number) => v.toFixed(digits);
  if (ok.length === 1) return f(ok[0]!);
  return `${f(median(ok))} (${f(Math.min(...ok))}–${f(Math.max(...ok))})`;
}

/** Runs `work` over `items` with at most `parallel` in flight. */
export async function runPool<T>(items: T[], parallel: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, items.length) }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}
