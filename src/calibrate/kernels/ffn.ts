/**
 * The expert FFN on WebGPU: H = act(X·W1 [, X·W3]) then Y = H·W2, two dispatches of the tiled
 * matmul kernel per expert. Rows of X/H/Y are the expert-sorted token slots; each expert's slice
 * (row offset, rows) is read from the `route` buffer, written by the host for a calibration call
 * or by the gating kernel in a MoE layer (with indirect dispatch).
 */
import { bindGroup, bufferFrom, computePipeline, storageBuffer, uniformBuffer, type GpuContext } from "../gpu.js";
import { toHalfArray } from "../f16.js";
import {
  DEFAULT_TILE,
  tiledMatmulWgsl,
  tiledWorkgroups,
  type Activation,
  type Dtype,
  type TileConfig,
} from "./matmul.js";

export interface FfnShape {
  dModel: number;
  dFf: number;
  act: Exclude<Activation, "none">;
  dtype: Dtype;
}

/** FLOPs of one expert FFN call on `tokens` tokens (the x of the expert_ffn curve). */
export function ffnFlops(tokens: number, dModel: number, dFf: number, act: string): number {
  return tokens * dModel * dFf * 2 * (act === "swiglu" ? 3 : 2);
}

export function bytesPerElement(dtype: Dtype): number {
  return dtype === "f16" ? 2 : 4;
}

/** Deterministic pseudo-random fill in [-scale, scale) (xorshift32; data for kernels, not simulation draws). */
export function fillUniform(n: number, seed: number, scale: number): Float32Array {
  const out = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = ((s / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

export function upload(ctx: GpuContext, data: Float32Array, dtype: Dtype, usage = 0): GPUBuffer {
  return bufferFrom(ctx.device, dtype === "f16" ? toHalfArray(data) : data, usage);
}

export interface ExpertWeights {
  w1: Float32Array;
  w3: Float32Array | null;
  w2: Float32Array;
}

export function makeExpertWeights(shape: FfnShape, seed: number): ExpertWeights {
  const { dModel: d, dFf: f } = shape;
  return {
    w1: fillUniform(d * f, seed * 3 + 1, 1 / Math.sqrt(d)),
    w3: shape.act === "swiglu" ? fillUniform(d * f, seed * 3 + 2, 1 / Math.sqrt(d)) : null,
    w2: fillUniform(f * d, seed * 3 + 3, 1 / Math.sqrt(f)),
  };
}

/** A bank of experts sharing X/H/Y buffers of `capacity` rows. */
export class ExpertFfnBank {
  readonly up: GPUComputePipeline;
  readonly down: GPUComputePipeline;
  readonly x: GPUBuffer;
  readonly h: GPUBuffer;
  readonly y: GPUBuffer;
  readonly route: GPUBuffer;
  private readonly upGroups: GPUBindGroup[] = [];
  private readonly downGroups: GPUBindGroup[] = [];
  private readonly owned: GPUBuffer[] = [];

  constructor(
    readonly ctx: GpuContext,
    readonly shape: FfnShape,
    readonly experts: number,
    readonly capacity: number,
    opts: { weights?: ExpertWeights[]; x?: GPUBuffer; y?: GPUBuffer; route?: GPUBuffer; tile?: TileConfig } = {},
  ) {
    const dev = ctx.device;
    const { dModel: d, dFf: f, dtype, act } = shape;
    const tile = opts.tile ?? DEFAULT_TILE;
    this.tile = tile;
    if (d % tile.tn || f % tile.tn || d % tile.tk || f % tile.tk)
      throw new Error(`d_model ${d} and d_ff ${f} must be multiples of ${tile.tn} and ${tile.tk}`);
    const eb = bytesPerElement(dtype);
    this.up = computePipeline(dev, tiledMatmulWgsl(dtype, act, tile), `ffn-up-${act}-${dtype}`);
    this.down = computePipeline(dev, tiledMatmulWgsl(dtype, "none", tile), `ffn-down-${dtype}`);
    const own = (b: GPUBuffer) => (this.owned.push(b), b);
    this.x = opts.x ?? own(storageBuffer(dev, capacity * d * eb));
    this.h = own(storageBuffer(dev, capacity * f * eb));
    this.y = opts.y ?? own(storageBuffer(dev, capacity * d * eb));
    this.route = opts.route ?? own(storageBuffer(dev, experts * 8));
    for (let e = 0; e < experts; e++) {
      const w = opts.weights?.[e] ?? makeExpertWeights(shape, e + 1);
      const w1 = own(upload(ctx, w.w1, dtype));
      const w2 = own(upload(ctx, w.w2, dtype));
      const pu = own(uniformBuffer(dev, [e, d, f, 0]));
      const pd = own(uniformBuffer(dev, [e, f, d, 0]));
      const upBufs = [this.x, w1, this.h, this.route, pu];
      if (act === "swiglu") upBufs.push(own(upload(ctx, w.w3 as Float32Array, dtype)));
      this.upGroups.push(bindGroup(dev, this.up, upBufs));
      this.downGroups.push(bindGroup(dev, this.down, [this.h, w2, this.y, this.route, pd]));
    }
  }

  readonly tile: TileConfig;

  /** Writes the route table: expert e owns rows [offsets[e], offsets[e] + counts[e]). */
  setRoute(offsets: ArrayLike<number>, counts: ArrayLike<number>): void {
    const r = new Uint32Array(this.experts * 2);
    for (let e = 0; e < this.experts; e++) {
      r[2 * e] = offsets[e];
      r[2 * e + 1] = counts[e];
    }
    this.ctx.device.queue.writeBuffer(this.route, 0, r);
  }

  /** Encodes expert e's FFN for `rows` rows (direct dispatch; the route table must say the same). */
  encode(pass: GPUComputePassEncoder, e: number, rows: number): void {
    if (rows <= 0) return;
    pass.setPipeline(this.up);
    pass.setBindGroup(0, this.upGroups[e]);
    pass.dispatchWorkgroups(...tiledWorkgroups(rows, this.shape.dFf, this.tile));
    pass.setPipeline(this.down);
    pass.setBindGroup(0, this.downGroups[e]);
    pass.dispatchWorkgroups(...tiledWorkgroups(rows, this.shape.dModel, this.tile));
  }

  /**
   * Encodes expert e's FFN with workgroup counts read from `args` (two indirect dispatches:
   * 3 u32 each at byte offsets argsOffset and argsOffset + 12), written on the GPU from the counts.
   */
  encodeIndirect(pass: GPUComputePassEncoder, e: number, args: GPUBuffer, argsOffset: number): void {
    pass.setPipeline(this.up);
    pass.setBindGroup(0, this.upGroups[e]);
    pass.dispatchWorkgroupsIndirect(args, argsOffset);
    pass.setPipeline(this.down);
    pass.setBindGroup(0, this.downGroups[e]);
    pass.dispatchWorkgroupsIndirect(args, argsOffset + 12);
  }

  destroy(): void {
    for (const b of this.owned) b.destroy();
  }
}
