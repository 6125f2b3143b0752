/**
 * Kernel cost models: how long an op takes on one GPU, in integer ns. The roofline default needs
 * only the GPU's peak numbers; the calibrated model reads curves measured by `moesim calibrate`
 * (profile format in profile.ts, docs/cost-profile.md) and falls back to another model for ops the
 * profile has no curve for.
 */
import { secondsToNs } from "../sim/time.js";
import { UserError } from "../util/errors.js";
import { DTYPE_BYTES, type Dtype, type GpuSpec } from "./devices.js";
import { evaluateFit, type CostProfile, type ProfileOp } from "./profile.js";

export type CostOp =
  | { kind: "generic"; flops: number; bytes: number; dtype: Dtype }
  | {
      kind: "expert_ffn";
      tokens: number;
      dModel: number;
      dFf: number;
      activation: "swiglu" | "gelu" | "relu";
      dtype: Dtype;
    }
  | { kind: "gating"; tokens: number; dModel: number; experts: number; topK: number; dtype: Dtype }
  | { kind: "shuffle"; bytes: number }
  | { kind: "copy"; bytes: number; direction: "h2d" | "d2h" | "d2d" };

export interface CostModel {
  readonly name: string;
  /** Time of one op, integer ns (>= 0). */
  timeNs(op: CostOp): number;
}

/** FLOPs of one expert FFN call: 2 FLOPs per multiply-add over 3 weight matrices (SwiGLU: gate, up, down) or 2. */
export function expertFfnFlops(
  tokens: number,
  dModel: number,
  dFf: number,
  activation: "swiglu" | "gelu" | "relu",
): number {
  return tokens * dModel * dFf * 2 * (activation === "swiglu" ? 3 : 2);
}

/** Weight bytes of one expert (3 matrices for SwiGLU, else 2). */
export function expertWeightBytes(
  dModel: number,
  dFf: number,
  activation: "swiglu" | "gelu" | "relu",
  dtype: Dtype,
): number {
  return dModel * dFf * (activation === "swiglu" ? 3 : 2) * DTYPE_BYTES[dtype];
}

export interface RooflineOptions {
  /** Fraction of peak FLOP/s reached (default 0.7). */
  computeEfficiency?: number;
  /** Fraction of peak HBM bandwidth reached (default 0.8). */
  memoryEfficiency?: number;
  /** Per-op launch overhead, ns (default gpu.launchOverheadNs). */
  launchNs?: number;
  /** Host-to-device / device-to-host copy rates for "copy" ops, bytes/s (default 25e9, PCIe 4). */
  h2dBytesPerS?: number;
  d2hBytesPerS?: number;
}

/** Roofline: max(FLOPs / (peak x efficiency), bytes / (HBM x efficiency)) + launch overhead. */
export class RooflineCostModel implements CostModel {
  readonly name: string;
  private readonly ce: number;
  private readonly me: number;
  private readonly launchNs: number;
  private readonly h2d: number;
  private readonly d2h: number;

  constructor(
    readonly gpu: GpuSpec,
    opts: RooflineOptions = {},
  ) {
    this.ce = opts.computeEfficiency ?? 0.7;
    this.me = opts.memoryEfficiency ?? 0.8;
    this.launchNs = opts.launchNs ?? gpu.launchOverheadNs;
    this.h2d = opts.h2dBytesPerS ?? 25e9;
    this.d2h = opts.d2hBytesPerS ?? 25e9;
    for (const [k, v] of Object.entries({ computeEfficiency: this.ce, memoryEfficiency: this.me })) {
      if (!(v > 0 && v <= 1)) throw new UserError(`roofline ${k} must be in (0, 1], got ${v}`);
    }
    this.name = `roofline(${gpu.name})`;
  }

  private roofline(flops: number, bytes: number, dtype: Dtype): number {
    const tCompute = flops / (this.gpu.flopsPerS[dtype] * this.ce);
    const tMemory = bytes / (this.gpu.hbmBytesPerS * this.me);
    return secondsToNs(Math.max(tCompute, tMemory)) + this.launchNs;
  }

  timeNs(op: CostOp): number {
    switch (op.kind) {
      case "generic":
        return this.roofline(op.flops, op.bytes, op.dtype);
      case "expert_ffn": {
        const b = DTYPE_BYTES[op.dtype];
        // weights once, tokens in and out, the hidden activation written and read once
        const bytes =
          expertWeightBytes(op.dModel, op.dFf, op.activation, op.dtype) + op.tokens * (2 * op.dModel + 2 * op.dFf) * b;
        return this.roofline(expertFfnFlops(op.tokens, op.dModel, op.dFf, op.activation), bytes, op.dtype);
      }
      case "gating": {
        const b = DTYPE_BYTES[op.dtype];
        const flops = 2 * op.tokens * op.dModel * op.experts + op.tokens * op.experts * 8; // logits + softmax/top-k
        const bytes =
          (op.dModel * op.experts + op.tokens * op.dModel + op.tokens * op.experts) * b + op.tokens * op.topK * 8;
        return this.roofline(flops, bytes, op.dtype);
      }
      case "shuffle":
        return this.roofline(0, 2 * op.bytes, "fp32"); // read + write
      case "copy":
        if (op.direction === "d2d") return this.roofline(0, 2 * op.bytes, "fp32");
        return secondsToNs(op.bytes / (op.direction === "h2d" ? this.h2d : this.d2h)) + this.launchNs;
    }
  }
}

/**
 * Measured curves first, the fallback for ops without one. x per op: expert_ffn -> FLOPs
 * (expertFfnFlops), gating -> tokens, shuffle -> bytes, copy -> bytes (copy_h2d / copy_d2h /
 * copy_d2d), generic -> FLOPs on the "matmul" curve.
 */
export class CalibratedCostModel implements CostModel {
  readonly name: string;
  constructor(
    readonly profile: CostProfile,
    readonly fallback: CostModel,
  ) {
    this.name = `calibrated(${profile.adapter.description || profile.adapter.device || profile.adapter.vendor}; fallback ${fallback.name})`;
  }

  private curve(op: ProfileOp, x: number): number | undefined {
    const c = this.profile.ops[op];
    if (c === undefined) return undefined;
    return Math.ceil(evaluateFit(c.fit, x) - 1e-6);
  }

  timeNs(op: CostOp): number {
    let t: number | undefined;
    switch (op.kind) {
      case "expert_ffn":
        t = this.curve("expert_ffn", expertFfnFlops(op.tokens, op.dModel, op.dFf, op.activation));
        break;
      case "gating":
        t = this.curve("gating", op.tokens);
        break;
      case "shuffle":
        t = this.curve("shuffle", op.bytes);
        break;
      case "copy":
        t = this.curve(
          op.direction === "h2d" ? "copy_h2d" : op.direction === "d2h" ? "copy_d2h" : "copy_d2d",
          op.bytes,
        );
        break;
      case "generic":
        t = this.curve("matmul", op.flops);
        break;
    }
    return t ?? this.fallback.timeNs(op);
  }
}
