import { UserError } from "../../util/errors.js";
import { activationCorrelation, byLoadDesc, loadOf, replicateHot, slotsOf } from "./common.js";
import type { PlacementPolicy } from "./types.js";

/**
 * The seed paper's anti-correlation balancing: as greedy, but when placing expert a the cost of GPU
 * g is sum over experts m already on g of (load_m + w * S_am), S the Pearson correlation of expert
 * activations over batches and w = 0.5. Loads are taken relative to the mean expert load (so a
 * typical expert weighs 1 and the correlation term, in [-w, w], is on the same scale).
 */
export const antiCorrelation: PlacementPolicy = {
  name: "anti-correlation",
  description: "greedy, plus 0.5 x Pearson correlation of activations with the experts already on the GPU",
  place(input) {
    const slots = slotsOf(input);
    const { experts, gpus } = input;
    const load = loadOf(input);
    if (input.activations === undefined) {
      throw new UserError("anti-correlation placement needs activations (batches x experts)");
    }
    const w = input.correlationWeight ?? 0.5;
    const corr = activationCorrelation(experts, input.activations);
    let sum = 0;
    for (let e = 0; e < experts; e++) sum += load[e];
    const mean = sum / experts;
    const rel = (e: number): number => (mean > 0 ? load[e] / mean : 0);
    const expertGpu = new Int32Array(experts).fill(-1);
    const used = new Int32Array(gpus);
    const total = new Float64Array(gpus);
    const cost = new Float64Array(gpus);
    for (const a of byLoadDesc(load)) {
      cost.set(total);
      for (let m = 0; m < experts; m++) {
        const g = expertGpu[m];
        if (g >= 0) cost[g] += w * corr[a * experts + m];
      }
      let best = -1;
      for (let g = 0; g < gpus; g++) {
        if (used[g] >= slots) continue;
        if (best < 0 || cost[g] < cost[best]) best = g;
      }
      expertGpu[a] = best;
      used[best]++;
      total[best] += rel(a);
    }
    return replicateHot({ expertGpu }, input);
  },
};
