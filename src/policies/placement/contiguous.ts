import { replicateHot, slotsOf } from "./common.js";
import type { PlacementPolicy } from "./types.js";

export const contiguous: PlacementPolicy = {
  name: "contiguous",
  tokenFree: true,
  description: "experts in id order, ceil(E/D) per GPU: GPU g holds a block of consecutive ids",
  place(input) {
    slotsOf(input);
    const per = Math.ceil(input.experts / input.gpus);
    const expertGpu = new Int32Array(input.experts);
    for (let e = 0; e < input.experts; e++) expertGpu[e] = Math.floor(e / per);
    return replicateHot({ expertGpu }, input);
  },
};
