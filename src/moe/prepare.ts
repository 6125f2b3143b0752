/**
 * What the simulation derives from the trace before its first step: each MoE layer's placement
 * (from the trace's historical load and co-activation) and, for policies that need it, each
 * cache's future. The trace -> policy bridges themselves are src/policies/access.ts.
 */
import type { RoutingTrace } from "../workload/trace.js";
import type { AccessSequence } from "../policies/buffering/index.js";
import type { Placement } from "../policies/placement/index.js";
import { accessSequences, activationMatrix, expertLoad } from "../policies/access.js";
import type { MoeSimConfig } from "./types.js";

/** The trace layer that drives the simulated model's j-th MoE layer (cycling when the model has more). */
export function traceLayerOf(trace: RoutingTrace, j: number): number {
  return j % trace.layers;
}

/**
 * layerLoad per trace and layer (a pure function of the trace): computed once for all the runs
 * of a process that share the trace.
 */
const loadCache = new WeakMap<RoutingTrace, Map<number, Float64Array>>();

/**
 * Tokens per expert at one trace layer, over the whole trace (the "historical load"); computed
 * once per trace and layer (the array is shared: do not write to it).
 */
export function layerLoad(trace: RoutingTrace, tl: number): Float64Array {
  let byLayer = loadCache.get(trace);
  if (byLayer === undefined) loadCache.set(trace, (byLayer = new Map<number, Float64Array>()));
  let load = byLayer.get(tl);
  if (load === undefined) byLayer.set(tl, (load = expertLoad(trace, tl)));
  return load;
}

/** Batches used for co-activation statistics: the scenario's steps, or chunks of 16 tokens. */
function statBatches(cfg: MoeSimConfig): Int32Array[] {
  if (cfg.steps) return cfg.steps;
  const out: Int32Array[] = [];
  for (let t = 0; t < cfg.trace.tokens; t += 16) {
    out.push(Int32Array.from({ length: Math.min(16, cfg.trace.tokens - t) }, (_, i) => t + i));
  }
  return out;
}

export function buildPlacements(cfg: MoeSimConfig, moeLayerCount: number, gpus: number): Placement[] {
  const trace = cfg.trace;
  let stat: Int32Array[] | undefined;
  const batches = (): Int32Array[] => (stat ??= statBatches(cfg));
  const cache = new Map<number, Placement>();
  const out: Placement[] = [];
  for (let j = 0; j < moeLayerCount; j++) {
    const tl = traceLayerOf(trace, j);
    let p = cache.get(tl);
    if (!p) {
      // Co-activation statistics only for the policies that read them (a scan of every batch).
      // The load only for those that read it too (a pass over the whole trace).
      let activations: ReturnType<typeof activationMatrix> | undefined;
      const input = {
        experts: trace.experts,
        gpus,
        slotsPerGpu: Math.ceil(trace.experts / gpus),
        get load() {
          return layerLoad(trace, tl);
        },
        get activations() {
          return (activations ??= activationMatrix(trace, batches(), tl));
        },
        replicateHot: cfg.placement.replicateHot,
        redundantExperts: cfg.placement.redundantExperts,
        nodes: cfg.placement.nodes,
        groups: cfg.placement.groups,
      };
      p = cfg.placement.policy.place(input);
      cache.set(tl, p);
    }
    out.push(p);
  }
  return out;
}

/**
 * Each (GPU, MoE layer)'s stream of expert requests over the static steps the run simulates, for
 * policies that need the future: result indexed [gpu][MoE layer].
 */
export function buildAccessSequences(
  cfg: MoeSimConfig,
  placements: Placement[],
  moeLayerCount: number,
  gpus: number,
): AccessSequence[][] {
  const steps = cfg.steps!;
  const limit = Math.min(steps.length, cfg.maxSteps ?? Infinity);
  const batches = limit < steps.length ? steps.slice(0, limit) : steps;
  const traceLayers = Array.from({ length: moeLayerCount }, (_, j) => traceLayerOf(cfg.trace, j));
  const expertGpu = placements.slice(0, moeLayerCount).map((p) => p.expertGpu);
  const byLayer = accessSequences(cfg.trace, batches, expertGpu, gpus, traceLayers);
  return Array.from({ length: gpus }, (_, g) => byLayer.map((perGpu) => perGpu[g]));
}
