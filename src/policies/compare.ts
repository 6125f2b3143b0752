/**
 * Whole-trace comparisons behind `moesim cache` and `moesim placement` (also used by the bench and
 * the golden tests): pure functions from a trace and settings to result rows.
 */
import type { RoutingTrace } from "../workload/trace.js";
import { UserError } from "../util/errors.js";
import { staticBatches } from "../workload/batching.js";
import {
  accessSequences,
  activationMatrix,
  expertLoad,
  gpuLoadShares,
  maxShareStats,
  type TokenBatches,
} from "./access.js";
import { simulateCaches, type BufferingPolicy } from "./buffering/index.js";
import type { PlacementPolicy } from "./placement/types.js";
import { getPlacementPolicy } from "./placement/index.js";

export interface CacheRow {
  policy: string;
  slots: number;
  requests: number;
  misses: number;
  miss_rate: number;
  bytes_moved: number;
}

export interface CacheCompareOptions {
  policies: readonly BufferingPolicy[];
  slots: readonly number[];
  gpus: number;
  /** Requests decoding in lock step per batch. */
  batch: number;
  /** Placement deciding which GPU caches which expert (default contiguous). */
  placement?: PlacementPolicy;
  /** Bytes of one expert's weights. */
  expertBytes: number;
  /** Called after each (policy, slots) cell, for progress output. */
  onRow?: (row: CacheRow) => void;
}

function checkGpus(trace: RoutingTrace, gpus: number): void {
  if (!Number.isInteger(gpus) || gpus < 1) throw new UserError(`--gpus must be an integer >= 1, got ${gpus}`);
  if (gpus > trace.experts)
    throw new UserError(`--gpus ${gpus} exceeds the trace's ${trace.experts} experts per layer`);
}

/**
 * One cache per (GPU, MoE layer), each serving the experts that GPU hosts; each row sums all caches
 * of one policy and size. Placement is fitted per layer on the whole trace (for the load-aware
 * policies).
 */
export function compareCachePolicies(trace: RoutingTrace, o: CacheCompareOptions): CacheRow[] {
  checkGpus(trace, o.gpus);
  const batches = staticBatches(trace, o.batch);
  const placement = o.placement ?? getPlacementPolicy("contiguous");
  const expertGpu: Int32Array[] = [];
  for (let l = 0; l < trace.layers; l++) {
    expertGpu.push(
      placement.place({
        experts: trace.experts,
        gpus: o.gpus,
        load: expertLoad(trace, l),
        activations: activationMatrix(trace, batches, l),
      }).expertGpu,
    );
  }
  const seqs = accessSequences(trace, batches, expertGpu, o.gpus).flat();
  const rows: CacheRow[] = [];
  for (const p of o.policies) {
    for (const slots of o.slots) {
      const r = simulateCaches(p, seqs, slots, o.expertBytes);
      const row: CacheRow = {
        policy: p.name,
        slots,
        requests: r.requests,
        misses: r.misses,
        miss_rate: r.miss_rate,
        bytes_moved: r.bytes_moved,
      };
      rows.push(row);
      o.onRow?.(row);
    }
  }
  return rows;
}

export interface PlacementRow {
  policy: string;
  /** Largest share of a (batch, layer)'s token-expert assignments on one GPU, worst over all. */
  worst_max_share: number;
  /** The same, averaged over (batch, layer) pairs. */
  mean_max_share: number;
  /** The perfectly balanced share, 1 / gpus. */
  ideal_share: number;
  /** Batches the policy was judged on (all, or those after the fitting part with fitFraction). */
  batches_judged: number;
}

export interface PlacementCompareOptions {
  policies: readonly PlacementPolicy[];
  gpus: number;
  batch: number;
  replicateHot?: number;
  correlationWeight?: number;
  /** Batches to fit load and correlation on (default: the evaluated batches, i.e. in-sample). */
  fitBatches?: TokenBatches;
  /**
   * Held-out split: fit on the first `fitFraction` of the trace's batches (in trace order), judge
   * on the rest. Overrides fitBatches. Default: fit and judge on all batches (in-sample).
   */
  fitFraction?: number;
}

/** Per policy: the max per-GPU load share of each (batch, layer), worst and mean. */
export function comparePlacements(trace: RoutingTrace, o: PlacementCompareOptions): PlacementRow[] {
  checkGpus(trace, o.gpus);
  let batches: TokenBatches = staticBatches(trace, o.batch);
  let fit = o.fitBatches ?? batches;
  if (o.fitFraction !== undefined) {
    const f = o.fitFraction;
    const cut = Math.floor(batches.length * f);
    if (!(f > 0 && f < 1) || cut < 1 || cut >= batches.length) {
      throw new UserError(
        `fit fraction ${f}: expected a number in (0, 1) leaving at least one of the ` +
          `trace's ${batches.length} batches to fit on and one to judge on`,
      );
    }
    fit = batches.slice(0, cut);
    batches = batches.slice(cut);
  }
  const loads = Array.from({ length: trace.layers }, (_, l) => expertLoad(trace, l, fit));
  const acts = Array.from({ length: trace.layers }, (_, l) => activationMatrix(trace, fit, l));
  return o.policies.map((p) => {
    let worst = 0;
    let sum = 0;
    let n = 0;
    for (let l = 0; l < trace.layers; l++) {
      const pl = p.place({
        experts: trace.experts,
        gpus: o.gpus,
        load: loads[l],
        activations: acts[l],
        replicateHot: o.replicateHot,
        correlationWeight: o.correlationWeight,
      });
      const st = maxShareStats(gpuLoadShares(trace, batches, l, pl, o.gpus), o.gpus);
      if (st.worst > worst) worst = st.worst;
      sum += st.mean * st.batches;
      n += st.batches;
    }
    return {
      policy: p.name,
      worst_max_share: worst,
      mean_max_share: n === 0 ? 0 : sum / n,
      ideal_share: 1 / o.gpus,
      batches_judged: batches.length,
    };
  });
}

/** Vega-Lite spec: miss rate vs cache slots per policy, Belady drawn as the bound. */
export function cacheMissRateSpec(rows: readonly CacheRow[], title: string): Record<string, unknown> {
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title,
    description: "Expert-cache miss rate per policy and cache size; Belady MIN (dashed) is the offline lower bound.",
    width: 480,
    height: 300,
    data: {
      values: rows.map((r) => ({
        policy: r.policy,
        slots: r.slots,
        miss_rate: r.miss_rate,
        bound: r.policy === "belady" ? "Belady MIN (bound)" : "online policy",
      })),
    },
    layer: [
      {
        mark: { type: "line", point: true },
        encoding: {
          x: {
            field: "slots",
            type: "quantitative",
            title: "cache slots per GPU per MoE layer",
            axis: { tickMinStep: 1 },
          },
          y: { field: "miss_rate", type: "quantitative", title: "miss rate", scale: { domain: [0, 1] } },
          color: { field: "policy", type: "nominal", title: "policy" },
          strokeDash: {
            field: "bound",
            type: "nominal",
            title: "",
            scale: {
              domain: ["online policy", "Belady MIN (bound)"],
              range: [
                [1, 0],
                [6, 4],
              ],
            },
          },
          strokeWidth: { condition: { test: "datum.policy === 'belady'", value: 3 }, value: 1.5 },
        },
      },
    ],
  };
}
