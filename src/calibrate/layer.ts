/**
 * The WebGPU MoE-layer executor: one real MoE layer end to end in one compute pass — gating
 * (softmax, top-k, counts, sorted order, indirect-dispatch arguments), token shuffle into
 * expert-sorted slots, the FFN of each expert with as many workgroups as its token count needs
 * (none for an inactive expert), and the weighted combine back to token order.
 */
import { storageBuffer, type GpuContext } from "./gpu.js";
import { ExpertFfnBank, fillUniform, type FfnShape } from "./kernels/ffn.js";
import { Gating } from "./kernels/gating.js";
import { DEFAULT_TILE } from "./kernels/matmul.js";
import { RowShuffle } from "./kernels/shuffle.js";
import type { Encode } from "./timing.js";

export interface LayerShape extends FfnShape {
  experts: number;
  topK: number;
}

export const VALIDATION_LAYER: LayerShape = {
  dModel: 512,
  dFf: 1024,
  act: "swiglu",
  dtype: "f32",
  experts: 16,
  topK: 2,
};

export class MoeLayer {
  readonly gating: Gating;
  readonly bank: ExpertFfnBank;
  readonly x: GPUBuffer;
  readonly out: GPUBuffer;
  private readonly dispatch: RowShuffle;
  private readonly combine: RowShuffle;
  private tokens = 0;

  constructor(
    readonly ctx: GpuContext,
    readonly shape: LayerShape,
    readonly maxTokens: number,
  ) {
    if (shape.dtype !== "f32") throw new Error("the layer executor runs f32 (the shuffle kernels move f32 rows)");
    const d = ctx.device;
    const { dModel, topK, experts } = shape;
    this.x = storageBuffer(d, maxTokens * dModel * 4);
    d.queue.writeBuffer(this.x, 0, fillUniform(maxTokens * dModel, 77, 1));
    this.out = storageBuffer(d, maxTokens * dModel * 4);
    const tile = DEFAULT_TILE;
    this.gating = new Gating(ctx, maxTokens, experts, topK, { dModel, dFf: shape.dFf, tile });
    const g = this.gating.buffers;
    this.bank = new ExpertFfnBank(ctx, shape, experts, maxTokens * topK, { route: g.route, tile });
    this.dispatch = new RowShuffle(ctx, "dispatch", dModel, topK, { src: this.x, dst: this.bank.x, index: g.order });
    this.combine = new RowShuffle(ctx, "combine", dModel, topK, {
      src: this.bank.y,
      dst: this.out,
      index: g.slot,
      weights: g.topW,
    });
  }

  /** Sets the batch: `tokens` tokens with router logits [tokens, experts]. */
  setBatch(tokens: number, logits: Float32Array): void {
    this.tokens = tokens;
    this.gating.setTokens(tokens, logits);
    this.dispatch.setRows(tokens * this.shape.topK);
    this.combine.setRows(tokens);
  }

  /** The layer as one timed compute pass. */
  encode(): Encode {
    return (enc, tw) => {
      const pass = enc.beginComputePass({ timestampWrites: tw(true, true) });
      this.gating.encode(pass);
      this.dispatch.encode(pass);
      for (let e = 0; e < this.shape.experts; e++) this.bank.encodeIndirect(pass, e, this.gating.buffers.args, e * 24);
      this.combine.encode(pass);
      pass.end();
    };
  }

  get batchTokens(): number {
    return this.tokens;
  }

  destroy(): void {
    this.gating.destroy();
    this.bank.destroy();
    this.dispatch.destroy();
    this.combine.destroy();
    this.x.destroy();
    this.out.destroy();
  }
}
