/**
 * Dispatch and combine: the collectives of a MoE layer (the gate's exchange phases, the combine
 * all-to-all) and the tensor-parallel collectives of the dense blocks, each as an engine event
 * that succeeds when the collective completes.
 */
import type { SimEvent } from "../sim/engine.js";
import type { ExchangePhase, GatingPlan, SendFactors } from "../policies/gating/index.js";
import type { LayerScratch, RunConstants } from "./state.js";
import { routesFromPicks, type TokenRoutes } from "../hardware/collectives/index.js";
import { ProductSizes } from "../hardware/network/index.js";

/** Per-token routes of the plans whose dispatch deduplicates per token (deepep-*), set by the gate. */
const planRoutes = new WeakMap<GatingPlan, TokenRoutes>();

/** Keeps a plan's per-token routes for its dispatch and combine, when the dispatch algorithm uses them. */
export function rememberRoutes(
  c: RunConstants,
  plan: GatingPlan,
  picks: Int32Array,
  tokenGpu: Int32Array,
  eg: Int32Array,
) {
  if (c.cfg.dispatchAlgorithm?.startsWith("deepep") !== true) return;
  planRoutes.set(plan, routesFromPicks(picks, c.K, tokenGpu, eg, c.tokenBytes));
}

export function a2a(
  c: RunConstants,
  sizes: Float64Array | ProductSizes,
  algorithm?: string,
  routes?: TokenRoutes,
): SimEvent<void> {
  const ev = c.sim.event<void>("all_to_all");
  c.cluster.allToAll(
    c.group,
    sizes,
    () => {
      ev.succeed();
    },
    { hierarchical: c.cfg.hierarchicalAllToAll === true, algorithm, routes },
  );
  return ev;
}

/** One of the plan's exchange phases, started now over the expert-parallel group. */
export function exchangePhase(
  c: RunConstants,
  x: LayerScratch,
  plan: GatingPlan,
  phase: ExchangePhase,
): SimEvent<void> {
  if (phase === "dispatch") {
    const f = plan.sendFactors;
    return a2a(c, f ? sendProduct(f) : plan.sendBytes, c.cfg.dispatchAlgorithm, planRoutes.get(plan));
  }
  if (phase === "counts") return a2a(c, countsMatrix(c, x, plan.expertRows.length));
  const ev = c.sim.event<void>("capacity_all_reduce");
  c.cluster.allReduce(c.group, 4, () => {
    ev.succeed();
  });
  return ev;
}

/** The combine all-to-all: the dispatch's transpose, in rows of the combine's precision. */
export function combine(c: RunConstants, x: LayerScratch, plan: GatingPlan): SimEvent<void> {
  const r = planRoutes.get(plan);
  const routes = r && { ...r, tokenBytes: c.combineTokenBytes, direction: "combine" as const };
  const f = plan.sendFactors;
  const back = f ? backProduct(c, f) : transposeInto(c, x.backBuf, plan.sendBytes);
  return a2a(c, back, c.cfg.dispatchAlgorithm, routes);
}

/** A load-level plan's send matrix as its factors (the same numbers: ProductSizes). */
function sendProduct(f: SendFactors): ProductSizes {
  return new ProductSizes(f.share, f.recv, f.tokenBytes, 1, false);
}

/** The combine's sizes, sendProduct transposed: receivers' rows back to their senders at the combine's row bytes. */
function backProduct(c: RunConstants, f: SendFactors): ProductSizes {
  return new ProductSizes(f.recv, f.share, f.tokenBytes, c.combineTokenBytes / c.tokenBytes, false);
}

/**
 * The plan's dispatch and combine as collectives to start later (micro-batch overlap builds every
 * layer's stages before running them): the send matrix and per-token routes are taken now, since
 * the next layer's plan reuses the plan's arrays. Both run with the scenario's dispatch algorithm,
 * as exchangePhase and combine do.
 */
export function deferredExchange(
  c: RunConstants,
  plan: GatingPlan,
): { send: Float64Array | ProductSizes; dispatch: () => SimEvent<void>; combine: () => SimEvent<void> } {
  const f = plan.sendFactors;
  if (f) {
    // copies: the plan's factors are rewritten by the next layer's gate
    const kept = { share: Float64Array.from(f.share), recv: Float64Array.from(f.recv), tokenBytes: f.tokenBytes };
    const send = sendProduct(kept);
    const back = backProduct(c, kept);
    const alg = c.cfg.dispatchAlgorithm;
    return { send, dispatch: () => a2a(c, send, alg), combine: () => a2a(c, back, alg) };
  }
  const send = Float64Array.from(plan.sendBytes);
  const back = transposeInto(c, new Float64Array(c.D * c.D), send); // as combine() makes it
  const alg = c.cfg.dispatchAlgorithm;
  const r = planRoutes.get(plan);
  const routesBack = r && { ...r, tokenBytes: c.combineTokenBytes, direction: "combine" as const };
  return { send, dispatch: () => a2a(c, send, alg, r), combine: () => a2a(c, back, alg, routesBack) };
}

/** The plan's dispatch matrix, bytes (from its factors where it has them: sendMatrix false). */
export function sendBytesOf(plan: GatingPlan): Float64Array {
  const f = plan.sendFactors;
  return f && plan.sendBytes.length === 0 ? sendProduct(f).dense() : plan.sendBytes;
}

/**
 * The all-to-all of per-expert counts (4 bytes per expert to every other GPU), as a product
 * (1 x 4 nVirtual off the diagonal); never written again once made.
 */
export function countsMatrix(c: RunConstants, x: LayerScratch, nVirtual: number): ProductSizes {
  const D = c.D;
  let counts = x.countsBySize.get(nVirtual);
  if (counts === undefined) {
    counts = new ProductSizes(new Float64Array(D).fill(1), new Float64Array(D).fill(4 * nVirtual), 1, 1, true, true);
    x.countsBySize.set(nVirtual, counts);
  }
  return counts;
}

/**
 * The transpose of the dispatch, rescaled from dispatch rows to combine rows, in a buffer reused
 * from layer to layer (a collective has read it when it completes).
 */
function transposeInto(c: RunConstants, back: Float64Array, send: Float64Array): Float64Array {
  const D = c.D;
  const k = c.combineTokenBytes / c.tokenBytes;
  for (let s = 0; s < D; s++) for (let d = 0; d < D; d++) back[d * D + s] = send[s * D + d] * k;
  return back;
}

/** All-reduce (or all-gather) of `bytesPerGroup[k]` within every tensor-parallel group at once. */
export function tpCollective(
  c: RunConstants,
  bytesPerGroup: Float64Array,
  kind: "allReduce" | "allGather",
): SimEvent<unknown[]> {
  const evs: SimEvent<unknown>[] = [];
  for (let k = 0; k < c.DP; k++) {
    if (bytesPerGroup[k] <= 0) continue;
    const ev = c.sim.event<unknown>(`tp_${kind}`);
    if (kind === "allReduce")
      c.cluster.allReduce(c.tpGroups[k], bytesPerGroup[k], () => {
        ev.succeed();
      });
    else
      c.cluster.allGather(c.tpGroups[k], bytesPerGroup[k] / c.T, () => {
        ev.succeed();
      });
    evs.push(ev);
  }
  return c.sim.allOf(evs);
}
