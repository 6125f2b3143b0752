/**
 * The MoE simulation's entry point: builds a run (state.ts), drives its steps (driver.ts, step.ts)
 * on a fresh engine and cluster, and assembles the result.
 */
import { rebalanceOf } from "./rebalance.js";
import type { MemoryCategory } from "../hardware/memory.js";
import type { RequestStats } from "../workload/batching.js";
import { countsMatrix } from "./exchange.js";
import { driver } from "./driver.js";
import { Run } from "./state.js";
import type { MoeSimConfig, MoeSimResult } from "./types.js";

export { PHASES } from "./types.js";
export type { LayerCacheStats, MoeSimConfig, MoeSimResult, Phase, PhaseName, StepRecord } from "./types.js";

const CATEGORIES: MemoryCategory[] = ["weights", "expert_cache", "activations", "all_to_all", "kv_cache", "workspace"];

/**
 * Simulates MoE inference step by step. Per step, per layer: attention (and the dense FFN of
 * non-MoE layers) on each GPU for its share of the tokens, then on MoE layers gating, the gate's
 * exchange phases (Tutel's capacity all-reduce, the all-to-all of counts, the dispatch all-to-all),
 * expert compute (only experts with tokens, each waiting for its weights when buffering missed),
 * and the combine all-to-all. Expert weights that miss the cache are copied from CPU memory over
 * PCIe, one copy stream per GPU, starting as soon as gating has decided, so the copies overlap the
 * dispatch all-to-all as in the paper. Collectives synchronise the GPUs, so each layer ends when
 * its slowest GPU does.
 */
export function simulateMoe(cfg: MoeSimConfig): MoeSimResult {
  const run = makeRun(cfg);
  run.c.sim.process(driver(run), "driver");
  run.c.sim.run();
  return results(run);
}

function makeRun(cfg: MoeSimConfig): Run {
  const run = new Run(cfg);
  const { c, x } = run;
  // First-time work done now rather than inside the first layer (docs/performance.md, "MoE step"):
  // the MoE all-to-all's routes, and the per-expert counts matrix dynamic gates exchange.
  if (c.moeLayers.length > 0) {
    c.cluster.prepareAllToAll(c.group);
    countsMatrix(c, x, c.E);
    // A plan of no tokens to start from: sparse gates write the first layer's plan into its
    // arrays (GatingOptions.reuse) as they do every later layer's.
    const input = {
      tokens: 0,
      topK: c.K,
      experts: c.E,
      gpus: c.D,
      picks: new Int32Array(0),
      tokenGpu: new Int32Array(0),
      expertGpu: c.placements[0].expertGpu,
      tokenBytes: c.tokenBytes,
    };
    x.lastPlan = c.gatingPolicy.plan(input, { capacityFactor: c.capacityFactor, blockSize: cfg.gating.blockSize });
  }
  return run;
}

/** The run's result, once the simulation has ended. */
function results(run: Run): MoeSimResult {
  const { c, t } = run;
  const { cfg, sim, cluster } = c;
  const steps = t.steps;
  const memory = c.group.map((g) => {
    const pool = cluster.memory(g);
    const peak: Record<string, number> = {};
    for (const cat of CATEGORIES) peak[cat] = pool.peak(cat);
    const rec = {
      gpu: g,
      capacity_bytes: cfg.clusterSpec.node.gpu.hbmBytes,
      peak_bytes: pool.peak(),
      peak_by_category: peak,
      timeline: [] as MoeSimResult["memory"][number]["timeline"],
    };
    // Built on first use (most runs write no timeline): an enumerable getter, so it still
    // serialises like a plain field.
    let timeline: MoeSimResult["memory"][number]["timeline"] | null = null;
    Object.defineProperty(rec, "timeline", {
      enumerable: true,
      get: () =>
        (timeline ??= pool.timeline().map((r) => ({ time_ns: r.timeNs, category: r.category, bytes: r.bytes }))),
    });
    return rec;
  });
  return {
    name: cfg.name,
    completedSteps: steps.length,
    totalSteps: cfg.steps ? Math.min(cfg.steps.length, cfg.maxSteps ?? Infinity) : null,
    tokens: t.tokensDone,
    simulatedNs: sim.now,
    oom: t.oom,
    steps,
    phaseTotalsNs: t.phaseTotals,
    inactiveExperts: c.moeLayers.map((_, j) => ({
      layer: j,
      mean_inactive: steps.length ? t.inactiveSum[j] / steps.length : 0,
      experts: c.E,
    })),
    cache: t.cacheStats,
    memory,
    links: cluster.linkTraffic().map((l) => ({ link: l.link, kind: l.kind, bytes: l.bytes })),
    requestLatencyNs: requestLatencies(run),
    events: sim.eventCount,
    eventLog: sim.log ? sim.log.toJSONL() : null,
    gpuBusyNs: Array.from(t.gpuBusy),
    placement: c.placements,
    window: run.w.record,
    ...(rebalanceOf(run) ? { rebalance: rebalanceOf(run) } : {}),
  };
}

/** Request latency: arrival to last token under continuous batching; else first step to last. */
function requestLatencies(run: Run): number[] {
  const t = run.t;
  const reqLat: number[] = [];
  if (t.batcherStats) {
    const st: RequestStats = t.batcherStats;
    for (let i = 0; i < st.endNs.length; i++) {
      if (Number.isFinite(st.endNs[i])) reqLat.push(st.endNs[i] - st.arrivalNs[i]);
    }
  } else {
    for (let i = 0; i < t.requests; i++) {
      const q = t.requestOrder[i];
      reqLat.push(t.requestEnd[q] - t.requestStart[q]);
    }
  }
  return reqLat;
}
