import { replicateHot, slotsOf } from "./common.js";
import type { PlacementPolicy } from "./types.js";

export const roundRobin: PlacementPolicy = {
  name: "round-robin",
  tokenFree: true,
  description: "expert e on GPU e mod D",
  place(input) {
    slotsOf(input);
    const expertGpu = new Int32Array(input.experts);
    for (let e = 0; e < input.experts; e++) expertGpu[e] = e % input.gpus;
    return replicateHot({ expertGpu }, input);
  },
};
