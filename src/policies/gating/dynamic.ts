import { loadPlan, sparsePlan } from "./common.js";
import { COUNTS_THEN_DISPATCH, type GatingPolicy } from "./types.js";

/**
 * The seed paper's dynamic gating: top-k, sort the assignments by expert, bincount, all-to-all of
 * the counts, then a variable-size all-to-all of exactly the routed rows. No drops, no padding;
 * all local experts run as one batched launch.
 */
export const dynamic: GatingPolicy = {
  name: "dynamic",
  description: "the paper's: sort, bincount, counts all-to-all, variable all-to-all; no drops, no padding",
  plan(input, opts = {}) {
    return sparsePlan(
      "dynamic",
      input,
      { exchange: COUNTS_THEN_DISPATCH, perExpertLoop: false },
      undefined,
      opts.reuse,
    );
  },
  planFromLoads(input, opts = {}) {
    return loadPlan("dynamic", input, { exchange: COUNTS_THEN_DISPATCH, perExpertLoop: false }, undefined, opts.reuse);
  },
};
