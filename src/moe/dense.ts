/**
 * Attention and the dense parts: attention (with cross-attention in an encoder-decoder's
 * decoder), the dense FFN of non-MoE layers or the shared experts of MoE layers, and the output
 * head, each per GPU for its share of the step's tokens and sequences (1/T of the work per rank
 * with tensor parallelism). Costs that do not change from layer to layer are memoised per step.
 */
import type { Cost } from "../workload/model.js";
import { attentionOnGpu, denseFfnCost, embeddingCost, genericOp, sharedExpertCost } from "./costs.js";
import type { RunConstants, RunTallies, StepScratch } from "./state.js";

/**
 * Attention (+ the dense FFN of non-MoE layers, or the shared experts of MoE layers) per GPU, in
 * parallel: sets cur.attnMax / cur.denseMax and each GPU's times (attnGpu / denseGpu).
 */
export function denseParts(c: RunConstants, s: StepScratch, t: RunTallies, l: number, moe: boolean): void {
  const m = c.m;
  let attnMax = 0;
  let denseMax = 0;
  const cross = c.layers[l].crossAttention;
  const aNs = s.attnNs[cross ? 1 : 0];
  // 0: dense FFN of the model, 1: the dense equivalent of a MoE layer, 2: shared experts
  const dk = !moe ? (c.layers[l].moe ? 1 : 0) : (m.sharedExperts ?? 0) > 0 ? 2 : -1;
  const dNs = dk >= 0 ? s.denseNs[dk] : null;
  s.attnGpu.fill(0);
  s.denseGpu.fill(0);
  for (let g = 0; g < c.D; g++) {
    if (s.perGpuTokens[g] === 0) continue;
    let ta = aNs[g];
    if (ta < 0) {
      const op = attentionOnGpu(m, s.gpuSeqs[g], c.ctx, cross, c.cfg.contextTokens, c.standardAttention);
      ta = aNs[g] = c.cost.timeNs(genericOp(m, shard(op, c.T)));
    }
    let td = 0;
    if (dNs !== null) {
      td = dNs[g];
      if (td < 0) {
        const n = s.perGpuTokens[g];
        const op = dk === 2 ? sharedExpertCost(m, n) : denseFfnCost(dk === 1 ? c.denseEqSpec : m, n);
        td = dNs[g] = c.cost.timeNs(genericOp(m, shard(op, c.T)));
      }
    }
    t.gpuBusy[g] += ta + td;
    s.attnGpu[g] = ta;
    s.denseGpu[g] = td;
    if (ta > attnMax) attnMax = ta;
    if (td > denseMax) denseMax = td;
  }
  s.cur.attnMax = attnMax;
  s.cur.denseMax = denseMax;
}

/** The output head, once per step: its time on the slowest GPU (0 where the phase has none: c.outputHead). */
export function headNs(c: RunConstants, s: StepScratch, t: RunTallies): number {
  if (!c.outputHead) return 0;
  let headMax = 0;
  for (let g = 0; g < c.D; g++) {
    const n = s.perGpuTokens[g];
    const th = n > 0 ? c.cost.timeNs(genericOp(c.m, shard(embeddingCost(c.m, n), c.T))) : 0;
    t.gpuBusy[g] += th;
    if (th > headMax) headMax = th;
  }
  return headMax;
}

/** A rank's share of a tensor-parallel op: 1/T of its FLOPs, weights and activations. */
function shard(op: Cost, T: number): Cost {
  if (T === 1) return op;
  return { flops: op.flops / T, weightBytes: op.weightBytes / T, activationBytes: op.activationBytes / T };
}
