/**
 * Gating of a MoE layer: the layer's picks for the step's tokens (through the hot-expert copies
 * when experts are replicated), the gating policy's plan, the gate's time per GPU, the count of
 * inactive experts, and the dispatch buffers allocated.
 */
import type { GatingPlan } from "../policies/gating/index.js";
import { alloc } from "./memory.js";
import { expertLists, replicate } from "./experts.js";
import { traceLayerOf } from "./prepare.js";
import { rememberRoutes } from "./exchange.js";
import { loadLayerPlan } from "./load-gating.js";
import { NO_EXPERT } from "../workload/trace.js";
import type { LayerScratch, RunConstants, RunTallies, StepScratch } from "./state.js";

/** A layer's plan, and the owner (real expert) of each virtual expert when hot experts are replicated. */
export interface GatedLayer {
  plan: GatingPlan;
  owner: Int32Array | null;
}

/**
 * Gating of MoE layer j for the step's tokens: the plan, the gate's time per GPU (cur.gateMax),
 * the inactive-expert count, the layer's active experts (and per-GPU lists of them unless experts
 * are computed in one pass), and the dispatch buffers allocated.
 */
export function gateLayer(
  c: RunConstants,
  s: StepScratch,
  x: LayerScratch,
  t: RunTallies,
  j: number,
  tokens: Int32Array,
): GatedLayer {
  const n = tokens.length;
  if (c.trace.loads) return finishGate(c, s, x, t, j, loadLayerPlan(c, s, x, j, n), c.placements[j].expertGpu, null);
  const place = c.placements[j];
  const picks = layerPicks(c, s, j, tokens);
  const r = place.replicas ? replicate(picks, place, s.tokenGpu, c.K) : null;
  const routed = r ? r.picks : picks;
  const expertGpu = r ? r.expertGpu : place.expertGpu;
  const nVirtual = r ? r.experts : c.E;
  const owner = r ? r.owner : null;
  const input = {
    tokens: n,
    topK: c.K,
    experts: nVirtual,
    gpus: c.D,
    picks: routed,
    tokenGpu: s.tokenGpu,
    expertGpu,
    tokenBytes: c.tokenBytes,
  };
  const plan: GatingPlan = c.gatingPolicy.plan(input, {
    capacityFactor: c.capacityFactor,
    blockSize: c.cfg.gating.blockSize,
    reuse: x.lastPlan,
  });
  rememberRoutes(c, plan, routed, s.tokenGpu, expertGpu);
  return finishGate(c, s, x, t, j, plan, expertGpu, owner);
}

/** The gate's time, drops, padding, active experts and buffers of a layer's plan (from picks or from loads). */
function finishGate(
  c: RunConstants,
  s: StepScratch,
  x: LayerScratch,
  t: RunTallies,
  j: number,
  plan: GatingPlan,
  expertGpu: Int32Array,
  owner: Int32Array | null,
): GatedLayer {
  const nVirtual = plan.expertRows.length;
  s.cur.gateMax = gateTime(c, s, t, plan);
  s.cur.dropped += plan.dropped;
  s.cur.padded += plan.padded;
  // The experts with rows (sparse gates list them; others are scanned once); expertCompute works
  // from them, or from per-GPU lists of them (expertLists).
  let active = plan.activeExperts;
  if (active === undefined) {
    let k = 0;
    for (let e = 0; e < nVirtual; e++) if (plan.expertRows[e] > 0) x.activeBuf[k++] = e;
    active = x.activeBuf.subarray(0, k);
  }
  t.inactiveSum[j] += c.E - touchedExperts(x, active, plan.expertTokens, owner);
  x.layerActive = active;
  x.layerExpertGpu = expertGpu;
  if (!c.flatExperts) expertLists(c, x, active, plan.expertTokens, expertGpu);
  for (let g = 0; g < c.D; g++) alloc(c, g, "all_to_all", plan.bufferBytesPerGpu[g]);
  return { plan, owner };
}

/** This layer's picks for the step's tokens (a scratch buffer: the plan does not keep it). */
function layerPicks(c: RunConstants, s: StepScratch, j: number, tokens: Int32Array): Int32Array {
  const n = tokens.length;
  const K = c.K;
  const picks = s.picksBuf.length === n * K ? s.picksBuf : s.picksBuf.subarray(0, n * K);
  const tp = c.trace.picks;
  const stride = c.trace.layers * K;
  const base = traceLayerOf(c.trace, j) * K;
  for (let i = 0, q = 0; i < n; i++) {
    const off = tokens[i] * stride + base;
    // NO_EXPERT (a layer the trace has no record for, under incomplete: empty): -1, no expert.
    for (let k = 0; k < K; k++) {
      const e = tp[off + k];
      picks[q++] = e === NO_EXPERT ? -1 : e;
    }
  }
  return picks;
}

/**
 * The gate (router matmul, softmax, top-k) per GPU, counted in each GPU's busy time; static-capacity
 * gates (GShard einsum) also build the S x E x capacity dispatch mask and run the dispatch and
 * combine einsums over it. Returns the slowest GPU's time.
 */
function gateTime(c: RunConstants, s: StepScratch, t: RunTallies, plan: GatingPlan): number {
  const m = c.m;
  let gateMax = 0;
  for (let g = 0; g < c.D; g++) {
    if (s.dispatchTokens[g] === 0) continue;
    let tg = s.gateNs[g];
    if (tg < 0) {
      const tokens = s.dispatchTokens[g];
      const op = { kind: "gating", tokens, dModel: m.dModel, experts: c.E, topK: c.K, dtype: m.dtype } as const;
      tg = s.gateNs[g] = c.cost.timeNs(op);
    }
    if (plan.einsumCellsPerGpu && plan.einsumCellsPerGpu[g] > 0) {
      const cells = plan.einsumCellsPerGpu[g];
      const bytes = 2 * cells * 4 + 2 * s.dispatchTokens[g] * c.tokenBytes;
      tg += c.cost.timeNs({ kind: "generic", flops: 2 * 2 * cells * m.dModel, bytes, dtype: m.dtype });
    }
    t.gpuBusy[g] += tg;
    if (tg > gateMax) gateMax = tg;
  }
  return gateMax;
}

/**
 * Real experts with a token on any of their copies. An expert with tokens has rows (kept <= rows),
 * so only the listed active experts can have tokens.
 */
function touchedExperts(x: LayerScratch, active: Int32Array, et: Int32Array, owner: Int32Array | null): number {
  const st0 = ++x.stampNow;
  const stamp = x.stamp;
  let touched = 0;
  for (let i = 0; i < active.length; i++) {
    const e = active[i];
    if (et[e] === 0) continue;
    const o = owner ? owner[e] : e;
    if (stamp[o] !== st0) {
      stamp[o] = st0;
      touched++;
    }
  }
  return touched;
}
