import { byLoadDesc, loadOf, replicateHot, slotsOf } from "./common.js";
import type { PlacementPolicy } from "./types.js";

/**
 * The seed paper's greedy balancing: experts sorted by historical load, heaviest first; each goes to
 * the GPU with the least total load that still has a free slot (ties: lowest GPU id).
 */
export const greedy: PlacementPolicy = {
  name: "greedy",
  description: "heaviest expert first onto the least loaded GPU with room (historical load)",
  place(input) {
    const slots = slotsOf(input);
    const gpus = input.gpus;
    const load = loadOf(input);
    const expertGpu = new Int32Array(input.experts);
    const used = new Int32Array(gpus);
    const total = new Float64Array(gpus);
    for (const e of byLoadDesc(load)) {
      let best = -1;
      for (let g = 0; g < gpus; g++) {
        if (used[g] >= slots) continue;
        if (best < 0 || total[g] < total[best]) best = g;
      }
      expertGpu[e] = best;
      used[best]++;
      total[best] += load[e];
    }
    return replicateHot({ expertGpu }, input);
  },
};
