import { loadPlan, sparsePlan } from "./common.js";
import { COUNTS_THEN_DISPATCH, type GatingPolicy } from "./types.js";

/**
 * FastMoE: GPUs exchange per-expert counts, then send exactly the routed rows (variable-size
 * all-to-all, no padding, no drops); the experts of a GPU run one after another.
 */
export const fastmoe: GatingPolicy = {
  name: "fastmoe",
  description: "counts all-to-all, variable all-to-all, no padding or drops, experts launched one by one",
  plan(input, opts = {}) {
    return sparsePlan("fastmoe", input, { exchange: COUNTS_THEN_DISPATCH, perExpertLoop: true }, undefined, opts.reuse);
  },
  planFromLoads(input, opts = {}) {
    return loadPlan("fastmoe", input, { exchange: COUNTS_THEN_DISPATCH, perExpertLoop: true }, undefined, opts.reuse);
  },
};
