import { sparsePlan } from "./common.js";
import type { GatingPolicy } from "./types.js";

/**
 * FastMoE: GPUs exchange per-expert counts, then send exactly the routed rows (variable-size
 * all-to-all, no padding, no drops); the experts of a GPU run one after another.
 */
export const fastmoe: GatingPolicy = {
  name: "fastmoe",
  description: "counts all-to-all, variable all-to-all, no padding or drops, experts launched one by one",
  plan(input, opts = {}) {
    return sparsePlan("fastmoe", input, { countsExchange: true, fixedSize: false, perExpertLoop: true, capacityAllReduce: false }, undefined, opts.reuse);
  },
};
