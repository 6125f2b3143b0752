import { UserError } from "../../util/errors.js";
import { assemblePlan, countBySourceAndExpert, tokensPerGpu } from "./common.js";
import { DISPATCH_ONLY, type GatingPolicy } from "./types.js";

/**
 * Static gating (GShard / fairseq style, the seed paper's baseline). Every source GPU reserves
 * `capacity` rows per expert, capacity = ceil(C * k * S / E) with S the largest token shard of a
 * GPU, k = topK (the GShard/DeepSpeed top-k convention; k = 1 gives the paper's ceil(C*S/E)), or an
 * explicit opts.capacity. Assignments over capacity are dropped (which ones does not change any
 * count); buffers are padded to capacity, so the all-to-all has a fixed size. The einsum
 * formulation also materialises a dense S x E x capacity combine tensor (fp32) per GPU, counted
 * in the buffer memory: that is where static gating's memory goes at large batches.
 */
export const staticGating: GatingPolicy = {
  name: "static",
  description: "fixed capacity ceil(C*k*S/E) per expert: drops over capacity, pads to capacity, fixed-size all-to-all",
  plan(input, opts = {}) {
    const n = countBySourceAndExpert(input);
    const { experts, gpus, topK } = input;
    const shard = tokensPerGpu(input);
    const smax = Math.max(0, ...shard);
    let capacity: number;
    if (opts.capacity !== undefined) {
      if (!Number.isInteger(opts.capacity) || opts.capacity < 0)
        throw new UserError(`static gating: capacity must be an integer >= 0, got ${opts.capacity}`);
      capacity = opts.capacity;
    } else {
      const c = opts.capacityFactor ?? 1;
      if (!(c > 0)) throw new UserError(`static gating: capacity factor must be > 0, got ${c}`);
      capacity = Math.ceil((c * topK * smax) / experts);
    }
    const rows = new Int32Array(n.length).fill(capacity);
    const kept = new Int32Array(n.length);
    for (let i = 0; i < n.length; i++) kept[i] = Math.min(n[i], capacity);
    const mask = new Float64Array(gpus);
    for (let g = 0; g < gpus; g++) mask[g] = shard[g] * experts * capacity * 4;
    const shape = { exchange: DISPATCH_ONLY, perExpertLoop: false, capacity };
    const plan = assemblePlan("static", input, rows, kept, shape, undefined, mask);
    plan.einsumCellsPerGpu = Float64Array.from(shard, (s) => s * experts * capacity);
    return plan;
  },
};
