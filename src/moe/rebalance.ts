/**
 * Periodic expert rebalancing during a run (policies.placement.rebalance_every): before every N-th step each MoE
 * layer's placement is recomputed from the last `window` steps' load, and the copies a GPU gains are sent to it
 * over the cluster's links (point-to-point transfers, counted in the link counters); the next step waits for them,
 * and their time is added to that step's latency as weight_transfer. A GPU holds each copy it gains (HBM, as
 * weights) from the moment its transfer starts, and frees the copies it gives up once all of that layer's new copies
 * have arrived (SGLang's expert_location_updater receives into temporary buffers and overwrites the old weights
 * after the layer's transfers), so peak memory includes the copies in flight. Balancedness (max/mean GPU load per
 * MoE layer, per step) is tallied both under the starting placement and under the placements in effect.
 */
import { SimEvent, type ProcessGenerator } from "../sim/engine.js";
import { expertLoad } from "../policies/access.js";
import { alignPlacement, copyMoves, gpuLoads, maxOverMean, placeFromWindow } from "../policies/placement/rebalance.js";
import type { Placement } from "../policies/placement/index.js";
import { alloc, copiesPerGpu, free } from "./memory.js";
import { traceLayerOf } from "./prepare.js";
import type { Run } from "./state.js";
import type { RebalanceResult } from "./types.js";

export class Rebalancer {
  private readonly history: Int32Array[] = [];
  private readonly initial: Placement[];
  private readonly before: Float64Array;
  private readonly after: Float64Array;
  private counted = 0;
  private pendingNs = 0;
  readonly result: RebalanceResult;

  constructor(
    private readonly run: Run,
    private readonly every: number,
    private readonly window: number,
  ) {
    const c = run.c;
    this.initial = c.placements.slice();
    this.before = new Float64Array(c.placements.length);
    this.after = new Float64Array(c.placements.length);
    this.result = {
      rebalances: 0,
      moved_copies: 0,
      moved_bytes: 0,
      local_copies: 0,
      time_ns: 0,
      balancedness: [],
    };
  }

  /** Before step s: rebalance when due (a process step: yields until the copies have arrived). */
  *beforeStep(s: number): ProcessGenerator<void> {
    this.pendingNs = 0;
    if (s === 0 || s % this.every !== 0 || this.history.length === 0) return;
    const { c } = this.run;
    const cfg = c.cfg;
    const opts = {
      policy: cfg.placement.policy,
      gpus: c.D,
      every: this.every,
      window: this.window,
      input: {
        slotsPerGpu: Math.ceil(c.E / c.D),
        replicateHot: cfg.placement.replicateHot,
        redundantExperts: cfg.placement.redundantExperts,
        nodes: cfg.placement.nodes,
        groups: cfg.placement.groups,
      },
    };
    const perNode = Math.min(cfg.clusterSpec.node.gpusPerNode, c.D);
    const fitted = new Map<number, Placement>();
    let pending = 0;
    const done = new SimEvent<void>(c.sim, "rebalance");
    const t0 = c.sim.now;
    for (let j = 0; j < c.placements.length; j++) {
      const tl = traceLayerOf(c.trace, j);
      let next = fitted.get(tl);
      if (!next) fitted.set(tl, (next = placeFromWindow(c.trace, this.history, tl, opts)));
      // The new GPU contents onto the GPUs that already hold most of them (within a node when groups stay on nodes).
      const block = (cfg.placement.groups ?? 1) > 1 && (cfg.placement.nodes ?? 1) > 1 ? perNode : c.D;
      next = alignPlacement(next, c.placements[j], c.D, block);
      const moves = copyMoves(c.placements[j], next, c.D, perNode);
      const release = this.released(c.placements[j], next, moves);
      // The destination holds a new copy from the start of its transfer (an out-of-memory ends the run here).
      for (const m of moves) alloc(c, m.dst, "weights", c.eBytes);
      let layerPending = 0;
      const layerDone = (): void => {
        for (let g = 0; g < c.D; g++) free(c, g, "weights", release[g]);
      };
      for (const m of moves) {
        if (m.src === m.dst) {
          this.result.local_copies++;
          continue;
        }
        pending++;
        layerPending++;
        this.result.moved_copies++;
        this.result.moved_bytes += c.eBytes;
        c.cluster.transfer({ gpu: m.src }, { gpu: m.dst }, c.eBytes, () => {
          if (--layerPending === 0) layerDone();
          if (--pending === 0) done.succeed();
        });
      }
      if (layerPending === 0) layerDone();
      c.placements[j] = next;
    }
    this.result.rebalances++;
    if (pending > 0) yield done;
    this.pendingNs = c.sim.now - t0;
    this.result.time_ns += this.pendingNs;
  }

  /**
   * Bytes of weights each GPU frees once a layer's new copies are in: the copies it gives up, i.e. the copies it
   * gains less the growth of its copy count from `before` to `after`.
   */
  private released(before: Placement, after: Placement, moves: { dst: number }[]): Float64Array {
    const D = this.run.c.D;
    const had = copiesPerGpu(before, D);
    const has = copiesPerGpu(after, D);
    const out = new Float64Array(D);
    for (const m of moves) out[m.dst]++;
    for (let g = 0; g < D; g++) out[g] = (out[g] - (has[g] - had[g])) * this.run.c.eBytes;
    return out;
  }

  /** After step s ran on `toks`: its balancedness, its record charged with the rebalance before it. */
  afterStep(toks: Int32Array): void {
    const { c, t } = this.run;
    this.history.push(toks);
    if (this.history.length > this.window) this.history.shift();
    if (this.pendingNs > 0) {
      const rec = t.steps[t.steps.length - 1];
      if (rec) {
        rec.start_ns -= this.pendingNs;
        rec.latency_ns += this.pendingNs;
        rec.phases_ns.weight_transfer += this.pendingNs;
      }
      t.phaseTotals.weight_transfer += this.pendingNs;
    }
    if (toks.length === 0) return;
    const loads = new Map<number, Float64Array>();
    for (let j = 0; j < c.placements.length; j++) {
      const tl = traceLayerOf(c.trace, j);
      let load = loads.get(tl);
      if (!load) loads.set(tl, (load = expertLoad(c.trace, tl, [toks])));
      this.before[j] += maxOverMean(gpuLoads(this.initial[j], load, c.D));
      this.after[j] += maxOverMean(gpuLoads(c.placements[j], load, c.D));
    }
    this.counted++;
  }

  finish(): RebalanceResult {
    const n = this.counted || 1;
    this.result.balancedness = Array.from(this.before, (b, j) => ({
      layer: j,
      before: this.counted ? b / n : 1,
      after: this.counted ? this.after[j] / n : 1,
    }));
    return this.result;
  }
}

const results = new WeakMap<Run, RebalanceResult>();

/** The run's rebalancing result, when it rebalanced. */
export function rebalanceOf(run: Run): RebalanceResult | undefined {
  return results.get(run);
}

export function recordRebalance(run: Run, r: RebalanceResult): void {
  results.set(run, r);
}
