/** Small, dependency-free statistics used by the simulation's metrics. */

/** Nearest-rank percentile of a sorted copy of `xs` (q in [0, 1]). */
export function percentile(xs: ArrayLike<number>, q: number): number {
  const n = xs.length;
  if (n === 0) return 0;
  const a = Float64Array.from(xs).sort();
  const idx = Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1));
  return a[idx];
}

export function mean(xs: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  return xs.length > 0 ? s / xs.length : 0;
}

export function summarize(xs: ArrayLike<number>): { mean: number; p50: number; p90: number; p99: number; max: number } {
  let max = 0;
  for (let i = 0; i < xs.length; i++) if (xs[i] > max) max = xs[i];
  return { mean: mean(xs), p50: percentile(xs, 0.5), p90: percentile(xs, 0.9), p99: percentile(xs, 0.99), max };
}

/** Rounds to `digits` significant decimals for stable, readable JSON. */
export function round(x: number, digits = 6): number {
  if (!Number.isFinite(x)) return x;
  return Number(x.toPrecision(digits));
}
