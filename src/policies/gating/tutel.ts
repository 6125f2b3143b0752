import { assemblePlan, countBySourceAndExpert } from "./common.js";
import { CAPACITY_THEN_DISPATCH, type GatingPolicy } from "./types.js";

/**
 * Tutel's dynamic capacity: capacity = the largest count of any (source GPU, expert) pair, agreed by
 * an all-reduce (max); nothing is dropped, buffers are still padded to that capacity and the
 * all-to-all is fixed-size. Tutel encodes/decodes with sparse kernels: no dense combine tensor.
 */
export const tutel: GatingPolicy = {
  name: "tutel",
  description: "capacity = max load (all-reduced), no drops, padded, fixed-size all-to-all",
  plan(input) {
    const n = countBySourceAndExpert(input);
    let capacity = 0;
    for (let i = 0; i < n.length; i++) if (n[i] > capacity) capacity = n[i];
    const rows = new Int32Array(n.length).fill(capacity);
    return assemblePlan("tutel", input, rows, n, { exchange: CAPACITY_THEN_DISPATCH, perExpertLoop: false, capacity });
  },
};
