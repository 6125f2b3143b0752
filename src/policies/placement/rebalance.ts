/**
 * Periodic rebalancing (EPLB as deployed): every `every` steps the placement is recomputed from the load of the
 * last `window` steps, and the expert copies a GPU gains are copied to it from a GPU that held them. Pure
 * functions of a trace and its steps; the simulator's driver (src/moe/driver.ts) sends the copies over the links.
 * Balancedness follows SGLang's expert distribution recorder: per layer, the GPUs' token counts' max over mean,
 * a token routed to an expert with several copies counting 1/copies on each copy's GPU.
 */
import type { RoutingTrace } from "../../workload/trace.js";
import { expertLoad } from "../access.js";
import type { Placement, PlacementInput, PlacementPolicy } from "./types.js";

/** Tokens (picks) per GPU under a placement, an expert's load split evenly over its copies. */
export function gpuLoads(place: Placement, load: ArrayLike<number>, gpus: number): Float64Array {
  const out = new Float64Array(gpus);
  const E = place.expertGpu.length;
  for (let e = 0; e < E; e++) {
    const reps = place.replicas?.[e];
    const n = 1 + (reps?.length ?? 0);
    out[place.expertGpu[e]] += load[e] / n;
    if (reps) for (const g of reps) out[g] += load[e] / n;
  }
  return out;
}

/** max / mean of the GPUs' loads (1 = perfectly balanced; 1 when there is no load). */
export function maxOverMean(loads: ArrayLike<number>): number {
  let max = 0;
  let sum = 0;
  for (let i = 0; i < loads.length; i++) {
    sum += loads[i];
    if (loads[i] > max) max = loads[i];
  }
  return sum > 0 ? max / (sum / loads.length) : 1;
}

/** An expert copy a GPU must receive: from a GPU that held the expert before. */
export interface CopyMove {
  expert: number;
  src: number;
  dst: number;
}

function copiesPerGpu(place: Placement, gpus: number): Map<number, number>[] {
  const out = Array.from({ length: gpus }, () => new Map<number, number>());
  const add = (g: number, e: number): void => void out[g].set(e, (out[g].get(e) ?? 0) + 1);
  place.expertGpu.forEach((g, e) => add(g, e));
  place.replicas?.forEach((r, e) => r?.forEach((g) => add(g, e)));
  return out;
}

/**
 * The copies each GPU gains going from `before` to `after` (copies it held already stay; counts per GPU, so a
 * second copy on one GPU moves too). The source is the lowest-numbered GPU of the destination's node that held the
 * expert, else the lowest-numbered GPU anywhere that held it. Deterministic.
 */
export function copyMoves(before: Placement, after: Placement, gpus: number, gpusPerNode: number): CopyMove[] {
  const had = copiesPerGpu(before, gpus);
  const has = copiesPerGpu(after, gpus);
  const holders = new Map<number, number[]>();
  had.forEach((m, g) => m.forEach((_, e) => holders.set(e, [...(holders.get(e) ?? []), g])));
  const moves: CopyMove[] = [];
  for (let g = 0; g < gpus; g++) {
    for (const [e, n] of [...has[g]].sort((a, b) => a[0] - b[0])) {
      const gain = n - (had[g].get(e) ?? 0);
      if (gain <= 0) continue;
      const hs = holders.get(e) ?? [];
      const node = Math.floor(g / gpusPerNode);
      const src = hs.find((h) => h !== g && Math.floor(h / gpusPerNode) === node) ?? hs.find((h) => h !== g) ?? g;
      for (let i = 0; i < gain; i++) moves.push({ expert: e, src, dst: g });
    }
  }
  return moves;
}

/**
 * `next` with its GPUs relabelled so that as many copies as possible stay where `prev` had them: a GPU's set of
 * copies is what the balance depends on, not its number, so within each block of `block` consecutive GPUs (a node
 * when groups must stay on nodes, else all GPUs) the new GPU contents are matched greedily to the old GPU that
 * shares the most experts with them (ties: lowest numbers). Balance is unchanged; fewer weights move.
 */
export function alignPlacement(next: Placement, prev: Placement, gpus: number, block: number): Placement {
  const had = copiesPerGpu(prev, gpus);
  const has = copiesPerGpu(next, gpus);
  const label = new Int32Array(gpus);
  for (let b0 = 0; b0 < gpus; b0 += block) {
    const b1 = Math.min(gpus, b0 + block);
    const pairs: [number, number, number][] = [];
    for (let n = b0; n < b1; n++) {
      for (let o = b0; o < b1; o++) {
        let shared = 0;
        for (const [e, k] of has[n]) shared += Math.min(k, had[o].get(e) ?? 0);
        pairs.push([shared, n, o]);
      }
    }
    pairs.sort((a, b) => b[0] - a[0] || a[1] - b[1] || a[2] - b[2]);
    const usedN = new Set<number>();
    const usedO = new Set<number>();
    for (const [, n, o] of pairs) {
      if (usedN.has(n) || usedO.has(o)) continue;
      usedN.add(n);
      usedO.add(o);
      label[n] = o;
    }
  }
  const relabel = (a: Int32Array): Int32Array => a.map((g) => label[g]);
  const out: Placement = { expertGpu: relabel(next.expertGpu) };
  if (next.replicas) out.replicas = next.replicas.map((r) => relabel(r));
  return out;
}

/** The rebalancing settings: placement inputs besides the load. */
export interface RebalanceOptions {
  policy: PlacementPolicy;
  gpus: number;
  /** Recompute every this many steps (>= 1). */
  every: number;
  /** Steps of recent load the recomputation reads (>= 1). */
  window: number;
  input?: Omit<PlacementInput, "experts" | "gpus" | "load" | "activations">;
}

/** Per-layer balancedness over a run: the steps' mean of max/mean GPU load, without and with rebalancing. */
export interface BalanceReport {
  layer: number;
  /** Under the static placement the run starts with. */
  before: number;
  /** Under the placements in effect step by step (rebalanced every `every` steps). */
  after: number;
}

/** The placement recomputed from the load of `batches` at trace layer `tl`. */
export function placeFromWindow(
  trace: RoutingTrace,
  batches: Int32Array[],
  tl: number,
  opts: RebalanceOptions,
): Placement {
  const load = expertLoad(trace, tl, batches);
  return opts.policy.place({ ...opts.input, experts: trace.experts, gpus: opts.gpus, load });
}

/**
 * Out-of-sample balancedness of rebalancing, without the simulator: at each step the placement in effect is the
 * initial one until the first rebalance, then the one fitted on the `window` steps before the last rebalance.
 * `initial` gives each trace layer's starting placement.
 */
export function rollingBalance(
  trace: RoutingTrace,
  steps: Int32Array[],
  initial: (tl: number) => Placement,
  opts: RebalanceOptions,
): BalanceReport[] {
  const out: BalanceReport[] = [];
  for (let tl = 0; tl < trace.layers; tl++) {
    const start = initial(tl);
    let cur = start;
    let before = 0;
    let after = 0;
    let counted = 0;
    for (let s = 0; s < steps.length; s++) {
      if (s > 0 && s % opts.every === 0) {
        cur = placeFromWindow(trace, steps.slice(Math.max(0, s - opts.window), s), tl, opts);
      }
      const load = expertLoad(trace, tl, [steps[s]]);
      if (steps[s].length === 0) continue;
      before += maxOverMean(gpuLoads(start, load, opts.gpus));
      after += maxOverMean(gpuLoads(cur, load, opts.gpus));
      counted++;
    }
    out.push({ layer: tl, before: counted ? before / counted : 1, after: counted ? after / counted : 1 });
  }
  return out;
}
