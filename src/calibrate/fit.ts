/** Fitting measured points to the profile's curve kinds (pure functions). */
import type { AffineFit, PiecewiseLinearFit, ProfilePoint } from "../hardware/profile.js";

/** The time a fit reads from a point: `fitNs` when the sweep set it (its chosen statistic), else the median. */
export function timeOf(p: ProfilePoint & { fitNs?: number }): number {
  return p.fitNs ?? p.medianNs;
}

/** Non-decreasing least-squares fit of ys (pool adjacent violators), for times that grow with size. */
export function isotonic(ys: readonly number[]): number[] {
  const blocks: Array<{ sum: number; n: number }> = [];
  for (const y of ys) {
    blocks.push({ sum: y, n: 1 });
    while (blocks.length > 1) {
      const b = blocks[blocks.length - 1];
      const a = blocks[blocks.length - 2];
      if (a.sum / a.n <= b.sum / b.n) break;
      blocks.pop();
      a.sum += b.sum;
      a.n += b.n;
    }
  }
  const out: number[] = [];
  for (const b of blocks) for (let i = 0; i < b.n; i++) out.push(b.sum / b.n);
  return out;
}

/** Knots through the medians (made non-decreasing), sorted by x; equal xs are merged. */
export function fitPiecewise(points: readonly ProfilePoint[]): PiecewiseLinearFit {
  const byX = new Map<number, number[]>();
  for (const p of points) byX.set(p.x, [...(byX.get(p.x) ?? []), timeOf(p)]);
  const xs = [...byX.keys()].sort((a, b) => a - b);
  const ys = isotonic(xs.map((x) => median(byX.get(x) as number[])));
  return { kind: "piecewise-linear", knots: xs.map((x, i) => [x, round(ys[i])]) };
}

/**
 * A staircase for kernels whose work is padded to whole tiles of `step` tokens: points measured
 * at token counts that are multiples of `step`; every count in (T_prev, T] costs what T costs.
 * `xOf` maps a token count to the curve's x (e.g. FLOPs). Where consecutive measured counts are
 * more than one tile apart, the curve interpolates linearly between them.
 */
export function fitStaircase(
  points: ReadonlyArray<ProfilePoint & { tokens: number }>,
  step: number,
  xOf: (tokens: number) => number,
): PiecewiseLinearFit {
  const sorted = [...points].sort((a, b) => a.tokens - b.tokens);
  const ys = isotonic(sorted.map((p) => timeOf(p)));
  const knots: Array<[number, number]> = [];
  sorted.forEach((p, i) => {
    const prevT = i === 0 ? 0 : sorted[i - 1].tokens;
    if (p.tokens - prevT <= step && p.tokens > 1) knots.push([xOf(prevT + 1), round(ys[i])]);
    knots.push([xOf(p.tokens), round(ys[i])]);
  });
  return { kind: "piecewise-linear", knots };
}

/** Least-squares time = fixed + x / rate. */
export function fitAffine(points: readonly ProfilePoint[]): AffineFit {
  const n = points.length;
  const mx = points.reduce((a, p) => a + p.x, 0) / n;
  const my = points.reduce((a, p) => a + timeOf(p), 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const p of points) {
    sxy += (p.x - mx) * (timeOf(p) - my);
    sxx += (p.x - mx) ** 2;
  }
  const slope = sxx === 0 ? 0 : Math.max(sxy / sxx, 1e-12);
  const fixed = Math.max(0, my - slope * mx);
  return { kind: "affine", fixedNs: round(fixed), ratePerS: 1e9 / slope };
}

export function median(v: readonly number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function round(ns: number): number {
  return Math.round(ns * 10) / 10;
}

/**
 * The tiled FFN's time model: a + b * ceil(T / step) (whole tiles of `step` tokens), fitted by
 * Theil-Sen (median of pairwise slopes, then median intercept) so that a few repetitions slowed
 * by other processes do not bend it; returned as a staircase of piecewise-linear knots up to the
 * largest measured T (beyond it, the last step's slope continues).
 */
export function fitTiles(
  points: ReadonlyArray<ProfilePoint & { tokens: number }>,
  step: number,
  xOf: (tokens: number) => number,
): PiecewiseLinearFit & { perTileNs: number; fixedNs: number } {
  const pts = points.map((p) => ({ n: Math.ceil(p.tokens / step), y: timeOf(p) }));
  const slopes: number[] = [];
  for (let i = 0; i < pts.length; i++)
    for (let j = i + 1; j < pts.length; j++)
      if (pts[j].n !== pts[i].n) slopes.push((pts[j].y - pts[i].y) / (pts[j].n - pts[i].n));
  const b = slopes.length ? Math.max(0, median(slopes)) : 0;
  const a = Math.max(0, median(pts.map((p) => p.y - b * p.n)));
  const maxTiles = Math.max(...pts.map((p) => p.n));
  const knots: Array<[number, number]> = [];
  for (let k = 1; k <= maxTiles; k++) {
    const y = round(a + b * k);
    knots.push([xOf((k - 1) * step + 1), y], [xOf(k * step), y]);
  }
  return { kind: "piecewise-linear", knots, perTileNs: round(b), fixedNs: round(a) };
}
