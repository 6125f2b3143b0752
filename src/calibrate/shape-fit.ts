/**
 * Fitting the tiled FFN roofline (hardware/cost-shape.ts TiledFfnModel) to measured expert FFN
 * calls at several shapes, and the leave-one-shape-out test of how it transfers: fit on all shapes
 * but one, predict the one left out. Pure functions.
 */
import type { Dtype } from "../hardware/devices.js";
import {
  tiledFfnNs,
  tiledFfnWork,
  type Activation,
  type TiledFfnModel,
  type TiledFfnWork,
} from "../hardware/cost-shape.js";
import { median } from "./fit.js";

/** One measured expert FFN call: its shape, token count and time (ns). */
export interface FfnShapePoint {
  dModel: number;
  dFf: number;
  act: Activation;
  dtype: Dtype;
  tokens: number;
  ns: number;
}

/** The kernel's tiling and the cache size the model assumes (TiledFfnModel). */
export interface TileGeometry {
  tileTokens: number;
  tileCols: number;
  cacheBytes: number;
}

export const shapeKey = (p: { dModel: number; dFf: number }): string => `${p.dModel}x${p.dFf}`;

const opOf = (p: FfnShapePoint) => ({
  tokens: p.tokens,
  dModel: p.dModel,
  dFf: p.dFf,
  activation: p.act,
  dtype: p.dtype,
});

/** Solves the small dense system a·x = b (Gaussian elimination, partial pivoting); null when singular. */
function solve(a: number[][], b: number[]): number[] | null {
  const n = b.length;
  const m = a.map((r, i) => [...r, b[i]]);
  for (let i = 0; i < n; i++) {
    let p = i;
    for (let k = i + 1; k < n; k++) if (Math.abs(m[k][i]) > Math.abs(m[p][i])) p = k;
    if (Math.abs(m[p][i]) < 1e-300) return null;
    [m[i], m[p]] = [m[p], m[i]];
    for (let k = 0; k < n; k++) {
      if (k === i) continue;
      const f = m[k][i] / m[i][i];
      for (let j = i; j <= n; j++) m[k][j] -= f * m[i][j];
    }
  }
  return m.map((r, i) => r[n] / r[i]);
}

/**
 * Non-negative least squares of relative error: minimises sum(((x·c - y) / y)^2) over c >= 0,
 * by trying every subset of the columns (three here) and keeping the best feasible one.
 * `required` columns are in every subset.
 */
function nnlsRelative(xs: number[][], ys: number[], required: number[], rel: number[] = ys): number[] | null {
  const n = xs[0].length;
  let best: { c: number[]; s: number } | null = null;
  for (let mask = 0; mask < 1 << n; mask++) {
    if (required.some((r) => !(mask & (1 << r)))) continue;
    const cols = [...Array(n).keys()].filter((j) => mask & (1 << j));
    // scale the columns to unit size so that FLOPs (~1e9) and ns constants (~1) solve alike
    const scale = cols.map((j) => Math.max(...xs.map((x) => Math.abs(x[j]))) || 1);
    const a = cols.map(() => new Array<number>(cols.length).fill(0));
    const b = new Array<number>(cols.length).fill(0);
    xs.forEach((x, i) => {
      const w = 1 / (rel[i] * rel[i]);
      cols.forEach((j, u) => {
        b[u] += (w * x[j] * ys[i]) / scale[u];
        cols.forEach((k, v) => (a[u][v] += (w * x[j] * x[k]) / (scale[u] * scale[v])));
      });
    });
    const sol = solve(a, b);
    if (!sol || sol.some((v) => !(v >= 0))) continue;
    const c = new Array<number>(n).fill(0);
    cols.forEach((j, u) => (c[j] = sol[u] / scale[u]));
    let s = 0;
    xs.forEach((x, i) => (s += ((x.reduce((acc, v, j) => acc + v * c[j], 0) - ys[i]) / rel[i]) ** 2));
    if (!best || s < best.s) best = { c, s };
  }
  return best?.c ?? null;
}

function errorsOf(m: TiledFfnModel, pts: readonly FfnShapePoint[]): number[] {
  return pts.map((p) => (tiledFfnNs(m, opOf(p)) - p.ns) / p.ns);
}

/**
 * Fits the tiled roofline: the compute branch (fixed + paddedFlops / compute + spillBytes / spill)
 * by non-negative least squares of relative error; the memory rate by a log-grid search
 * (1e8..1e14 B/s) in which each candidate refits the compute branch on the points it leaves
 * compute-bound. The memory rate is kept only where it lowers the error by more than 1%
 * (else null: no point was bound by memory). All points must share one dtype.
 */
export function fitTiledFfn(
  points: readonly FfnShapePoint[],
  geo: TileGeometry,
  opts: { fixedNs?: number } = {},
): TiledFfnModel {
  const pts = points.filter((p) => p.ns > 0 && Number.isFinite(p.ns) && p.tokens > 0);
  if (pts.length < 2) throw new Error("fitTiledFfn: need at least two measured points");
  const dtype = pts[0].dtype;
  if (pts.some((p) => p.dtype !== dtype)) throw new Error("fitTiledFfn: points of more than one dtype");
  const work: TiledFfnWork[] = pts.map((p) => tiledFfnWork(geo, opOf(p)));
  const build = (c: number[], memoryPerS: number | null): TiledFfnModel => {
    const fittedOn = new Map<string, TiledFfnModel["fittedOn"][number]>();
    for (const p of pts) {
      const k = `${shapeKey(p)}/${p.act}`;
      const e = fittedOn.get(k) ?? { d_model: p.dModel, d_ff: p.dFf, act: p.act, tokens: [] };
      if (!e.tokens.includes(p.tokens)) e.tokens.push(p.tokens);
      fittedOn.set(k, e);
    }
    for (const e of fittedOn.values()) e.tokens.sort((a, b) => a - b);
    const m: TiledFfnModel = {
      kind: "tiled-ffn",
      dtype,
      ...geo,
      fixedNs: c[0],
      computePerS: 1e9 / c[1],
      spillPerS: c[2] > 0 ? 1e9 / c[2] : null,
      memoryPerS,
      fittedOn: [...fittedOn.values()],
      medianAbsError: 0,
      maxAbsError: 0,
    };
    const abs = errorsOf(m, pts).map(Math.abs);
    return { ...m, medianAbsError: median(abs), maxAbsError: Math.max(...abs) };
  };
  const computeFit = (use: boolean[]): number[] | null => {
    if (opts.fixedNs === undefined) {
      const xs = work.filter((_, i) => use[i]).map((w) => [1, w.paddedFlops, w.spillBytes]);
      return xs.length >= 2 ? nnlsRelative(xs, ys(use), [1]) : null;
    }
    // the fixed cost measured apart: fit the rates to the time beyond it
    const f = opts.fixedNs;
    const xs = work.filter((_, i) => use[i]).map((w) => [w.paddedFlops, w.spillBytes]);
    const y = ys(use);
    const c =
      xs.length >= 1
        ? nnlsRelative(
            xs,
            y.map((v) => v - f),
            [0],
            y,
          )
        : null;
    return c ? [f, ...c] : null;
  };
  const ys = (use: boolean[]) => pts.filter((_, i) => use[i]).map((p) => p.ns);
  const score = (m: TiledFfnModel) => errorsOf(m, pts).reduce((s, e) => s + e * e, 0);
  const c0 = computeFit(pts.map(() => true));
  if (!c0) throw new Error("fitTiledFfn: the points do not determine a compute rate");
  let best = build(c0, null);
  const base = score(best);
  let bestScore = base;
  for (let lg = 8; lg <= 14 + 1e-9; lg += 0.05) {
    const rm = 10 ** lg;
    // points the memory branch would bind at this rate (with the fixed cost of the all-points fit)
    const use = work.map((w, i) => w.memoryBytes / rm < (pts[i].ns - c0[0]) / 1e9);
    const c = computeFit(use);
    if (!c) continue;
    const m = build(c, rm);
    const s = score(m);
    if (s < bestScore) [best, bestScore] = [m, s];
  }
  return bestScore < base * 0.99 ? best : build(c0, null);
}

/** One fold of leave-one-shape-out: the model fitted without `heldOut`, and its errors on it. */
export interface TransferFold {
  held_out: string;
  model: TiledFfnModel;
  errors: Array<{ tokens: number; measured_us: number; predicted_us: number; error: number }>;
}

export interface TransferSummary {
  folds: TransferFold[];
  median_abs_error: number;
  max_abs_error: number;
}

/** Fits on every shape but one and predicts that one, for each shape; the errors pooled over the folds. */
export function leaveOneShapeOut(
  points: readonly FfnShapePoint[],
  geo: TileGeometry,
  opts: { fixedNs?: number } = {},
): TransferSummary {
  const shapes = [...new Set(points.map(shapeKey))];
  if (shapes.length < 3) throw new Error("leaveOneShapeOut: need at least three shapes");
  const folds: TransferFold[] = shapes.map((s) => {
    const model = fitTiledFfn(
      points.filter((p) => shapeKey(p) !== s),
      geo,
      opts,
    );
    const test = points.filter((p) => shapeKey(p) === s);
    return {
      held_out: s,
      model,
      errors: test.map((p) => {
        const pred = tiledFfnNs(model, opOf(p));
        return {
          tokens: p.tokens,
          measured_us: round(p.ns / 1e3, 1),
          predicted_us: round(pred / 1e3, 1),
          error: round((pred - p.ns) / p.ns, 4),
        };
      }),
    };
  });
  const abs = folds.flatMap((f) => f.errors.map((e) => Math.abs(e.error)));
  return { folds, median_abs_error: round(median(abs), 4), max_abs_error: round(Math.max(...abs), 4) };
}

/** The in-sample errors: one model on every point. */
export function inSample(
  points: readonly FfnShapePoint[],
  geo: TileGeometry,
  opts: { fixedNs?: number } = {},
): { model: TiledFfnModel; median_abs_error: number; max_abs_error: number } {
  const model = fitTiledFfn(points, geo, opts);
  return { model, median_abs_error: round(model.medianAbsError, 4), max_abs_error: round(model.maxAbsError, 4) };
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
