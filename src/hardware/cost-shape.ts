/**
 * What bounds a calibrated cost: the work of an op (FLOPs and HBM bytes, from its shape), the
 * physical floor of that work on a GPU (its peak FLOP/s for the op's dtype and its HBM bandwidth,
 * both at 100%), the shapes a profile curve was measured on, and a measured roofline fitted on
 * those shapes (fixed cost + max(FLOPs / compute rate, bytes / memory rate)) that predicts an op
 * outside them. docs/calibration.md describes the model and its sources.
 */
import { DTYPE_BYTES, type Dtype, type GpuSpec } from "./devices.js";
import { evaluateFit, type OpCurve, type ProfileOp } from "./profile.js";

export type Activation = "swiglu" | "gelu" | "relu";

export type CostOp =
  | { kind: "generic"; flops: number; bytes: number; dtype: Dtype }
  | {
      kind: "expert_ffn";
      tokens: number;
      dModel: number;
      dFf: number;
      activation: Activation;
      /** The precision the matmuls compute in (and the activations' bytes). */
      dtype: Dtype;
      /** Bytes per stored weight, scales included (default: dtype's bytes; e.g. FP8 blocks, MXFP4). */
      weightBytesPerParam?: number;
    }
  | { kind: "gating"; tokens: number; dModel: number; experts: number; topK: number; dtype: Dtype }
  | { kind: "shuffle"; bytes: number }
  | { kind: "copy"; bytes: number; direction: "h2d" | "d2h" | "d2d" };

/** An expert FFN call as a cost op. */
export type ExpertFfnOp = Extract<CostOp, { kind: "expert_ffn" }>;

/** FLOPs of one expert FFN call: 2 FLOPs per multiply-add over 3 weight matrices (SwiGLU: gate, up, down) or 2. */
export function expertFfnFlops(tokens: number, dModel: number, dFf: number, activation: Activation): number {
  return tokens * dModel * dFf * 2 * (activation === "swiglu" ? 3 : 2);
}

/** Weight bytes of one expert (3 matrices for SwiGLU, else 2). */
export function expertWeightBytes(dModel: number, dFf: number, activation: Activation, dtype: Dtype): number {
  return dModel * dFf * (activation === "swiglu" ? 3 : 2) * DTYPE_BYTES[dtype];
}

/** The work of an op: FLOPs, bytes through HBM (or through the host link for h2d/d2h copies), dtype. */
export interface OpWork {
  flops: number;
  bytes: number;
  dtype: Dtype;
}

export function opWork(op: CostOp): OpWork {
  switch (op.kind) {
    case "generic":
      return { flops: op.flops, bytes: op.bytes, dtype: op.dtype };
    case "expert_ffn": {
      const b = DTYPE_BYTES[op.dtype];
      // weights once, tokens in and out, the hidden activation written and read once
      const weights =
        op.weightBytesPerParam === undefined
          ? expertWeightBytes(op.dModel, op.dFf, op.activation, op.dtype)
          : op.dModel * op.dFf * (op.activation === "swiglu" ? 3 : 2) * op.weightBytesPerParam;
      const bytes = weights + op.tokens * (2 * op.dModel + 2 * op.dFf) * b;
      return { flops: expertFfnFlops(op.tokens, op.dModel, op.dFf, op.activation), bytes, dtype: op.dtype };
    }
    case "gating": {
      const b = DTYPE_BYTES[op.dtype];
      const flops = 2 * op.tokens * op.dModel * op.experts + op.tokens * op.experts * 8; // logits + softmax/top-k
      const bytes =
        (op.dModel * op.experts + op.tokens * op.dModel + op.tokens * op.experts) * b + op.tokens * op.topK * 8;
      return { flops, bytes, dtype: op.dtype };
    }
    case "shuffle":
      return { flops: 0, bytes: 2 * op.bytes, dtype: "fp32" }; // read + write
    case "copy":
      return { flops: 0, bytes: op.direction === "d2d" ? 2 * op.bytes : op.bytes, dtype: "fp32" };
  }
}

/**
 * The physical floor of an op on a GPU, ns (not rounded): max(FLOPs / peak FLOP/s of its dtype,
 * bytes / peak HBM bandwidth). No kernel, measured or modelled, finishes sooner.
 */
export function peakFloorNs(gpu: GpuSpec, w: OpWork): number {
  return Math.max(w.flops / gpu.flopsPerS[w.dtype], w.bytes / gpu.hbmBytesPerS) * 1e9;
}

/** A profile's dtype names (WGSL's f32 / f16) as the simulator's. */
export function profileDtype(d: unknown): Dtype | undefined {
  if (typeof d !== "string") return undefined;
  const m: Record<string, Dtype> = {
    f32: "fp32",
    fp32: "fp32",
    float32: "fp32",
    f16: "fp16",
    fp16: "fp16",
    float16: "fp16",
    bf16: "bf16",
    bfloat16: "bf16",
    fp8: "fp8",
  };
  return m[d];
}

/** One op of a profile curve, rebuilt from a measured point's shape (undefined: the shape lacks a field). */
function pointOp(
  op: ProfileOp,
  shape: Record<string, number | string>,
  x: number,
  defaults: ShapeDefaults,
): CostOp | undefined {
  const num = (k: string, d?: number): number | undefined => (typeof shape[k] === "number" ? shape[k] : d);
  const dtype = profileDtype(shape.dtype) ?? defaults.dtype ?? "fp32";
  switch (op) {
    case "expert_ffn": {
      const [tokens, dModel, dFf] = [num("tokens"), num("d_model"), num("d_ff")];
      const act = shape.act ?? shape.activation ?? "swiglu";
      if (tokens === undefined || dModel === undefined || dFf === undefined) return undefined;
      if (act !== "swiglu" && act !== "gelu" && act !== "relu") return undefined;
      return { kind: "expert_ffn", tokens, dModel, dFf, activation: act, dtype };
    }
    case "gating": {
      const [tokens, dModel, experts] = [num("tokens"), num("d_model", defaults.dModel), num("experts")];
      if (tokens === undefined || dModel === undefined || experts === undefined) return undefined;
      return { kind: "gating", tokens, dModel, experts, topK: num("top_k", 1)!, dtype };
    }
    case "matmul": {
      const [m, k, n] = [num("m"), num("k"), num("n")];
      if (m === undefined || k === undefined || n === undefined) return undefined;
      return { kind: "generic", flops: 2 * m * k * n, bytes: (m * k + k * n + m * n) * DTYPE_BYTES[dtype], dtype };
    }
    case "shuffle":
      return { kind: "shuffle", bytes: x };
    case "copy_d2d":
    case "copy_h2d":
    case "copy_d2h":
      return { kind: "copy", bytes: x, direction: op === "copy_d2d" ? "d2d" : op === "copy_h2d" ? "h2d" : "d2h" };
  }
}

/** What a profile says about its sweep that its points may leave out (the gating points carry no d_model). */
export interface ShapeDefaults {
  dModel?: number;
  dtype?: Dtype;
}

/** The numeric dimensions an op's range is judged on, and the named (categorical) ones. */
export function opDims(op: CostOp): { num: Record<string, number>; cat: Record<string, string> } {
  switch (op.kind) {
    case "expert_ffn":
      return {
        num: { tokens: op.tokens, d_model: op.dModel, d_ff: op.dFf },
        cat: { activation: op.activation, dtype: op.dtype },
      };
    case "gating":
      return { num: { tokens: op.tokens, d_model: op.dModel, experts: op.experts }, cat: { dtype: op.dtype } };
    case "generic":
      return { num: { flops: op.flops, bytes: op.bytes }, cat: { dtype: op.dtype } };
    case "shuffle":
    case "copy":
      return { num: { bytes: op.bytes }, cat: {} };
  }
}

/** fixed + max(FLOPs / compute, bytes / memory), rates in FLOP/s and bytes/s (Infinity: that term unused). */
export interface MeasuredRoofline {
  fixedNs: number;
  computePerS: number;
  memoryPerS: number;
  /** Median |relative error| of the fit over the measured points. */
  medianAbsError: number;
}

const evalRoofline = (r: Omit<MeasuredRoofline, "medianAbsError">, w: OpWork): number =>
  r.fixedNs + Math.max(w.flops / r.computePerS, w.bytes / r.memoryPerS) * 1e9;

/**
 * Fits fixed + max(F / Rc, B / Rm) to measured (work, ns) pairs: a log grid over the two rates
 * (plus "unused"), then a finer one around the best, the fixed cost in closed form (least squares
 * of relative error, clamped to [0, fastest point]); the score is the sum of squared log errors.
 * Deterministic. Where the points cannot tell two rates apart (one shape measured), the fastest
 * rates that fit win: the floor then keeps them within the hardware.
 */
export function fitMeasuredRoofline(points: { w: OpWork; ns: number }[]): MeasuredRoofline | undefined {
  const pts = points.filter((p) => p.ns > 0 && Number.isFinite(p.ns));
  if (pts.length === 0) return undefined;
  const minNs = Math.min(...pts.map((p) => p.ns));
  const score = (rc: number, rm: number): { s: number; fixed: number } => {
    let num = 0;
    let den = 0;
    for (const p of pts) {
      const v = Math.max(p.w.flops / rc, p.w.bytes / rm) * 1e9;
      const q = minNs / p.ns; // weights 1 / ns^2, scaled by the fastest point's: no underflow at huge times
      num += (p.ns - v) * q * q;
      den += q * q;
    }
    const fixed = Math.min(minNs, Math.max(0, num / den));
    let s = 0;
    for (const p of pts) {
      const pred = fixed + Math.max(p.w.flops / rc, p.w.bytes / rm) * 1e9;
      const e = Math.log(Math.max(pred, 1e-9) / p.ns);
      s += e * e;
    }
    return { s, fixed };
  };
  let best = { s: Infinity, fixed: 0, rc: Infinity, rm: Infinity };
  const search = (lcs: number[], lms: number[]): void => {
    for (const lc of lcs) {
      for (const lm of lms) {
        const rc = 10 ** lc;
        const rm = 10 ** lm;
        const r = score(rc, rm);
        if (r.s < best.s * (1 - 1e-9)) best = { s: r.s, fixed: r.fixed, rc, rm };
      }
    }
  };
  const grid = (lo: number, hi: number, step: number): number[] => {
    const out: number[] = [];
    for (let v = hi; v >= lo - 1e-9; v -= step) out.push(Math.round(v * 1000) / 1000);
    return out;
  };
  // from the fastest rates down (1e19 FLOP/s, 1e16 B/s: far above any GPU, i.e. "unused")
  search(grid(6, 19, 0.1), grid(5, 16, 0.1));
  const [lc, lm] = [Math.log10(best.rc), Math.log10(best.rm)];
  search(grid(lc - 0.1, lc + 0.1, 0.01), grid(lm - 0.1, lm + 0.1, 0.01));
  if (!Number.isFinite(best.s)) return undefined;
  const r = { fixedNs: best.fixed, computePerS: best.rc, memoryPerS: best.rm };
  const errs = pts.map((p) => Math.abs(evalRoofline(r, p.w) - p.ns) / p.ns).sort((a, b) => a - b);
  const mid = errs.length >> 1;
  const median = errs.length % 2 ? errs[mid] : (errs[mid - 1] + errs[mid]) / 2;
  return { ...r, medianAbsError: median };
}

/** Where one op's profile curve was measured, and how it predicts outside that. */
export class ShapeCurve {
  /** Numeric dims: [min, max] over the measured points (or over the fit's x when no point has a shape). */
  readonly range: Record<string, [number, number]> = {};
  /** Categorical dims: the values measured. */
  readonly cats: Record<string, Set<string>> = {};
  readonly model: MeasuredRoofline | undefined;
  /** false: no point carried a usable shape; the range is the fit's x and outside it the curve goes on. */
  readonly shaped: boolean;

  constructor(
    readonly op: ProfileOp,
    readonly curve: OpCurve,
    defaults: ShapeDefaults,
  ) {
    const built: { op: CostOp; ns: number }[] = [];
    for (const p of curve.points) {
      const o = p.shape ? pointOp(op, p.shape, p.x, defaults) : undefined;
      if (o) built.push({ op: o, ns: evaluateFit(curve.fit, p.x) });
    }
    this.shaped = built.length > 0 && built.length === curve.points.length;
    if (this.shaped) {
      for (const b of built) {
        const d = opDims(b.op);
        for (const [k, v] of Object.entries(d.num)) {
          const r = this.range[k];
          this.range[k] = r ? [Math.min(r[0], v), Math.max(r[1], v)] : [v, v];
        }
        for (const [k, v] of Object.entries(d.cat)) (this.cats[k] ??= new Set()).add(v);
      }
      this.model = fitMeasuredRoofline(built.map((b) => ({ w: opWork(b.op), ns: b.ns })));
    } else {
      const xs = curve.fit.kind === "piecewise-linear" ? curve.fit.knots.map((k) => k[0]) : [];
      const pxs = curve.points.map((p) => p.x);
      const all = xs.length > 0 ? xs : pxs;
      this.range.x = all.length > 0 ? [Math.min(...all), Math.max(...all)] : [0, Infinity];
      this.model = undefined;
    }
  }
}

/**
 * A tiled roofline of one expert FFN call, fitted on measured shapes (src/calibrate/shape-fit.ts):
 * the kernel runs each of its two matmuls (X·W_up[,gate] with the activation, then H·W_down) in
 * tiles of `tileTokens` rows x `tileCols` columns, padding the tokens to whole row tiles. Per call:
 *
 *   fixed + max(paddedFlops / compute + spillBytes / spill, memoryBytes / memory)
 *
 * - paddedFlops: the FLOPs of ceil(T / tileTokens) * tileTokens rows (a 1-token call costs a tile);
 * - spillBytes: each of a matmul's ceil(N / tileCols) column tiles re-reads the row tile of its input
 *   (tileTokens x K elements); the part of it beyond `cacheBytes` (the cache that keeps it between
 *   column tiles: L1d per core on a CPU adapter) is read again from the next level, per row tile;
 * - memoryBytes: the weights once plus the tokens' activations (opWork's bytes): what bounds a
 *   1-token call of a big expert on a GPU (its row tiles share the weights through the cache).
 * A rate of null is not used (the points could not tell it: none of them was bound by it).
 */
export interface TiledFfnModel {
  kind: "tiled-ffn";
  dtype: Dtype;
  tileTokens: number;
  tileCols: number;
  cacheBytes: number;
  fixedNs: number;
  computePerS: number;
  spillPerS: number | null;
  memoryPerS: number | null;
  /** The shapes the fit used (d_model x d_ff, activation, token counts). */
  fittedOn: Array<{ d_model: number; d_ff: number; act: Activation; tokens: number[] }>;
  /** Median and max |relative error| over the fitted points. */
  medianAbsError: number;
  maxAbsError: number;
}

/** The three work terms of a tiled FFN call (see TiledFfnModel). */
export interface TiledFfnWork {
  paddedFlops: number;
  spillBytes: number;
  memoryBytes: number;
}

export function tiledFfnWork(
  m: Pick<TiledFfnModel, "tileTokens" | "tileCols" | "cacheBytes">,
  op: Omit<ExpertFfnOp, "kind">,
): TiledFfnWork {
  const tiles = Math.ceil(Math.max(0, op.tokens) / m.tileTokens);
  const b = DTYPE_BYTES[op.dtype];
  const rowTile = (k: number) => m.tileTokens * k * b;
  const spill = (k: number, n: number) => Math.ceil(n / m.tileCols) * Math.max(0, rowTile(k) - m.cacheBytes);
  return {
    paddedFlops: expertFfnFlops(tiles * m.tileTokens, op.dModel, op.dFf, op.activation),
    spillBytes: tiles * (spill(op.dModel, op.dFf) + spill(op.dFf, op.dModel)),
    // the weights as stored (scales included: FP8 blocks, MXFP4), as opWork counts them
    memoryBytes: opWork({ kind: "expert_ffn", ...op }).bytes,
  };
}

/** The model's time of one expert FFN call, ns (0 tokens: 0). */
export function tiledFfnNs(m: TiledFfnModel, op: Omit<ExpertFfnOp, "kind">): number {
  if (op.tokens <= 0) return 0;
  const w = tiledFfnWork(m, op);
  const compute = w.paddedFlops / m.computePerS + (m.spillPerS ? w.spillBytes / m.spillPerS : 0);
  const memory = m.memoryPerS ? w.memoryBytes / m.memoryPerS : 0;
  return m.fixedNs + Math.max(compute, memory) * 1e9;
}
