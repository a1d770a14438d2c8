/** Order statistics of a sample: median, p95, p99, max (nearest-rank on the sorted sample). */

export interface Summary {
  n: number;
  median: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
  min: number | null;
  mean: number | null;
}

/** Nearest-rank percentile (p in 0..100) of an ascending array; null when empty. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  if (p <= 0) return sorted[0]!;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** Median with the usual mean of the two middle values for an even count. */
export function median(sorted: readonly number[]): number | null {
  const n = sorted.length;
  if (n === 0) return null;
  return n % 2 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
}

export function summarize(values: ReadonlyArray<number | null | undefined>): Summary {
  const v = values.filter((x): x is number => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  return {
    n: v.length,
    median: median(v),
    p95: percentile(v, 95),
    p99: percentile(v, 99),
    max: v.length ? v[v.length - 1]! : null,
    min: v.length ? v[0]! : null,
    mean: v.length ? v.reduce((a, b) => a + b, 0) / v.length : null,
  };
}
