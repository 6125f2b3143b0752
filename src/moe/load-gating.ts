/**
 * The gate under load-level routing (workload.routing: load, workload/load-routing.ts): each MoE layer's per-expert
 * token counts for the step's tokens are drawn from the trace's inclusion probabilities, and the gating policy plans
 * from them (GatingPolicy.planFromLoads); no per-token picks exist.
 */
import type { GatingPlan } from "../policies/gating/index.js";
import { rootStream, type RandomStream } from "../sim/rng.js";
import { drawExpertLoads } from "../workload/load-routing.js";
import { traceLayerOf } from "./prepare.js";
import type { LayerScratch, RunConstants, StepScratch } from "./state.js";

/** A run's draw stream and buffers (one per RunConstants: one run). */
interface LoadScratch {
  rng: RandomStream;
  loads: Int32Array;
}
const scratchOf = new WeakMap<RunConstants, LoadScratch>();

/** The plan of MoE layer j for the step's n tokens (s.dispatchTokens per GPU), from drawn per-expert counts. */
export function loadLayerPlan(c: RunConstants, s: StepScratch, x: LayerScratch, j: number, n: number): GatingPlan {
  const routing = c.trace.loads!;
  let sc = scratchOf.get(c);
  if (sc === undefined) {
    sc = { rng: rootStream(routing.seed), loads: new Int32Array(c.E) };
    scratchOf.set(c, sc);
  }
  drawExpertLoads(sc.rng, routing.inclusion[traceLayerOf(c.trace, j)], n, c.K, sc.loads);
  const input = {
    tokens: n,
    topK: c.K,
    experts: c.E,
    gpus: c.D,
    // assignTokens counted the step's (or micro-batch's) tokens per GPU before gating
    tokensPerGpu: s.dispatchTokens,
    expertLoads: sc.loads,
    expertGpu: c.placements[j].expertGpu,
    tokenBytes: c.tokenBytes,
    // the exchanges take the plan's factors (exchange.ts): no gpus x gpus matrix per layer
    sendMatrix: false,
  };
  return c.gatingPolicy.planFromLoads!(input, {
    capacityFactor: c.capacityFactor,
    blockSize: c.cfg.gating.blockSize,
    reuse: x.lastPlan,
  });
}
