import type { RoutingTrace } from "../workload/trace.js";
import type { AccessSequence } from "../policies/buffering/index.js";
import type { Placement } from "../policies/placement/index.js";
import type { MoeSimConfig } from "./simulate.js";

/** The trace layer that drives the simulated model's j-th MoE layer (cycling when the model has more). */
export function traceLayerOf(trace: RoutingTrace, j: number): number {
  return j % trace.layers;
}

/** layerLoad per trace and layer (a pure function of the trace): computed once for all the runs of a process that share the trace. */
const loadCache = new WeakMap<RoutingTrace, Map<number, Float64Array>>();

/**
 * Tokens per expert at one trace layer, over the whole trace (the "historical load"); computed
 * once per trace and layer (the array is shared: do not write to it).
 */
export function layerLoad(trace: RoutingTrace, tl: number): Float64Array {
  let byLayer = loadCache.get(trace);
  if (byLayer === undefined) loadCache.set(trace, (byLayer = new Map()));
  let load = byLayer.get(tl);
  if (load === undefined) byLayer.set(tl, (load = computeLayerLoad(trace, tl)));
  return load;
}

function computeLayerLoad(trace: RoutingTrace, tl: number): Float64Array {
  const load = new Float64Array(trace.experts);
  const K = trace.topK;
  for (let t = 0; t < trace.tokens; t++) {
    const off = (t * trace.layers + tl) * K;
    for (let k = 0; k < K; k++) load[trace.picks[off + k]]++;
  }
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

/** Which experts were active (picked by >= 1 token) in each batch, at one trace layer. */
export function activationMatrix(trace: RoutingTrace, batches: Int32Array[], tl: number): { batches: number; active: Uint8Array } {
  const E = trace.experts;
  const K = trace.topK;
  const active = new Uint8Array(batches.length * E);
  batches.forEach((b, bi) => {
    for (let i = 0; i < b.length; i++) {
      const off = (b[i] * trace.layers + tl) * K;
      for (let k = 0; k < K; k++) active[bi * E + trace.picks[off + k]] = 1;
    }
  });
  return { batches: batches.length, active };
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
      };
      p = cfg.placement.policy.place(input);
      cache.set(tl, p);
    }
    out.push(p);
  }
  return out;
}

/** Each (GPU, MoE layer)'s stream of expert requests over the static steps, for policies that need the future. */
export function buildAccessSequences(cfg: MoeSimConfig, placements: Placement[], moeLayerCount: number, gpus: number): AccessSequence[][] {
  const trace = cfg.trace;
  const steps = cfg.steps!;
  const E = trace.experts;
  const K = trace.topK;
  const out: AccessSequence[][] = [];
  const seen = new Uint8Array(E);
  const reqs: number[][][] = Array.from({ length: gpus }, () => Array.from({ length: moeLayerCount }, () => []));
  const starts: number[][][] = Array.from({ length: gpus }, () => Array.from({ length: moeLayerCount }, () => []));
  const limit = Math.min(steps.length, cfg.maxSteps ?? Infinity);
  for (let j = 0; j < moeLayerCount; j++) {
    const tl = traceLayerOf(trace, j);
    const eg = placements[j].expertGpu;
    for (let s = 0; s < limit; s++) {
      seen.fill(0);
      const b = steps[s];
      for (let i = 0; i < b.length; i++) {
        const off = (b[i] * trace.layers + tl) * K;
        for (let k = 0; k < K; k++) seen[trace.picks[off + k]] = 1;
      }
      for (let g = 0; g < gpus; g++) starts[g][j].push(reqs[g][j].length);
      for (let e = 0; e < E; e++) if (seen[e]) reqs[eg[e]][j].push(e);
    }
  }
  for (let g = 0; g < gpus; g++) {
    out.push(
      reqs[g].map((r, j) => ({
        requests: Int32Array.from(r),
        batchStart: Int32Array.from([...starts[g][j], r.length]),
        experts: E,
      })),
    );
  }
  return out;
}
