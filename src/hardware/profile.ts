/**
 * The cost-model profile format (moesim-profile/v1), shared by `moesim calibrate` (which writes
 * profiles) and the calibrated cost model (which reads them). Documented in docs/calibration.md.
 */

/** Ops a profile can carry a measured curve for. */
export const PROFILE_OPS = [
  "expert_ffn", // x = FLOPs of one expert FFN call (2 matmuls + activation), tokens*d_model*d_ff based
  "gating", // x = tokens (logits -> softmax -> top-k -> counts -> sorted order)
  "shuffle", // x = bytes moved by an on-device gather/scatter (all-to-all stand-in)
  "copy_d2d", // x = bytes, device-to-device buffer copy
  "copy_h2d", // x = bytes, host-to-device through mapped staging buffers
  "copy_d2h", // x = bytes, device-to-host
  "matmul", // x = FLOPs of a plain matmul
] as const;
export type ProfileOp = (typeof PROFILE_OPS)[number];

/** One measured point: the op at size x took medianNs (over reps repetitions). */
export interface ProfilePoint {
  x: number;
  /** The shape that produced x (e.g. {tokens, d_model, d_ff}). */
  shape?: Record<string, number | string>;
  medianNs: number;
  p10Ns?: number;
  p90Ns?: number;
  reps: number;
}

/**
 * A fitted curve: time(x) in ns. "piecewise-linear": linear interpolation between knots sorted by
 * x, the first knot's time below the first x, and the last segment's slope beyond the last x.
 */
export interface PiecewiseLinearFit {
  kind: "piecewise-linear";
  knots: Array<[x: number, ns: number]>;
}
/** time(x) = fixedNs + x / ratePerS * 1e9. */
export interface AffineFit {
  kind: "affine";
  fixedNs: number;
  ratePerS: number;
}
export type CurveFit = PiecewiseLinearFit | AffineFit;

export interface OpCurve {
  /** What x measures. */
  unit: "flops" | "bytes" | "tokens";
  dtype?: string;
  points: ProfilePoint[];
  fit: CurveFit;
}

export interface CostProfile {
  format: "moesim-profile/v1";
  /** The adapter measured: GPUAdapterInfo fields plus whether it is a software fallback. */
  adapter: {
    vendor: string;
    architecture: string;
    device: string;
    description: string;
    isFallbackAdapter: boolean;
    features?: string[];
  };
  /** ISO time the profile was measured (metadata only; never used by the simulation). */
  createdAt: string;
  /** How the sweep was run (token counts, shapes, repetitions, timing method). */
  sweep: Record<string, unknown>;
  ops: Partial<Record<ProfileOp, OpCurve>>;
}

/** Evaluates a fitted curve at x, in ns (never negative). */
export function evaluateFit(fit: CurveFit, x: number): number {
  if (fit.kind === "affine") return Math.max(0, fit.fixedNs + (x / fit.ratePerS) * 1e9);
  const k = fit.knots;
  if (k.length === 0) return 0;
  if (k.length === 1 || x <= k[0][0]) return Math.max(0, k[0][1]);
  let i = 1;
  while (i < k.length - 1 && x > k[i][0]) i++;
  const [x0, y0] = k[i - 1];
  const [x1, y1] = k[i];
  const y = x1 === x0 ? y1 : y0 + ((y1 - y0) * (x - x0)) / (x1 - x0);
  return Math.max(0, y);
}
