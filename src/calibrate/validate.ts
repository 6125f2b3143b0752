/**
 * Validation: runs the real MoE layer (layer.ts) on the local adapter for batch sizes 1..256
 * tokens routed by the routing sample, and compares its measured time with the prediction of the
 * fitted profile (predict.ts).
 */
import type { CostProfile } from "../hardware/profile.js";
import { readBuffer, type GpuContext } from "./gpu.js";
import { MoeLayer, VALIDATION_LAYER, type LayerShape } from "./layer.js";
import { predictLayerNs } from "./predict.js";
import { expertCounts, logitsForPicks, routingSample, type RoutingSample } from "./routing.js";
import { GpuTimer, statOf, summarize, type FitStatistic } from "./timing.js";
import { median } from "./fit.js";

export interface ValidationPoint {
  tokens: number;
  measured_us: number;
  predicted_us: number;
  /** (predicted - measured) / measured. */
  error: number;
  active_experts: number;
  measured_median_us: number;
  measured_p10_us: number;
  measured_p90_us: number;
}

export interface ValidationResult {
  points: ValidationPoint[];
  median_abs_error: number;
  max_abs_error: number;
  layer: LayerShape;
  routing: string;
  timing: string;
  /** The statistic of the reps compared ("min" or "median"). */
  statistic: FitStatistic;
}

export const VALIDATION_TOKENS_QUICK = [1, 2, 4, 8, 16, 32, 64, 128, 256];
export const VALIDATION_TOKENS_FULL = [1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128, 192, 256];

export async function validate(
  ctx: GpuContext,
  profile: CostProfile,
  opts: { quick?: boolean; reps?: number; stat?: FitStatistic; tokens?: number[]; sample?: RoutingSample; onProgress?: (done: number, total: number, label: string) => void } = {},
): Promise<ValidationResult> {
  const shape = (profile as { layer?: LayerShape }).layer ?? VALIDATION_LAYER;
  const sample = opts.sample ?? routingSample(shape.experts, shape.topK);
  const tokensList = opts.tokens ?? (opts.quick ? VALIDATION_TOKENS_QUICK : VALIDATION_TOKENS_FULL);
  const reps = opts.reps ?? (opts.quick ? 5 : 9);
  const maxT = Math.max(...tokensList);
  const stat = opts.stat ?? ((profile.sweep as { fitStatistic?: FitStatistic }).fitStatistic ?? "min");
  const layer = new MoeLayer(ctx, shape, maxT);
  const timer = new GpuTimer(ctx);
  const points: ValidationPoint[] = [];
  try {
    // Interleaved rounds (every batch size once per round), so that load from other processes
    // spreads over all points; then per batch size the chosen statistic of its samples.
    const warmup = opts.quick ? 1 : 2;
    const samples = tokensList.map(() => [] as number[]);
    const logits = tokensList.map((t) => logitsForPicks(sample, t));
    for (let r = 0; r < warmup + reps; r++) {
      for (const [i, t] of tokensList.entries()) {
        layer.setBatch(t, logits[i]);
        const ns = await timer.once(layer.encode());
        if (r >= warmup) samples[i].push(ns);
        if (r === 0) {
          // The gating on the GPU must have routed exactly as the sample says.
          const counts = expertCounts(sample, t);
          const got = new Uint32Array(await readBuffer(ctx.device, layer.gating.buffers.counts, shape.experts * 4));
          if (counts.some((c, e) => c !== got[e]))
            throw new Error(`GPU gating counts ${[...got].join(",")} differ from the routing sample ${counts.join(",")} at ${t} tokens`);
        }
      }
      opts.onProgress?.(r + 1, warmup + reps, `layer round ${r + 1}/${warmup + reps}`);
    }
    for (const [i, t] of tokensList.entries()) {
      const s = summarize(samples[i]);
      const counts = expertCounts(sample, t);
      const pred = predictLayerNs(profile, shape, counts);
      const measured = statOf(s, stat);
      points.push({
        tokens: t,
        measured_us: round(measured / 1e3),
        predicted_us: round(pred.totalNs / 1e3),
        error: round((pred.totalNs - measured) / measured, 4),
        active_experts: counts.filter((c) => c > 0).length,
        measured_median_us: round(s.medianNs / 1e3),
        measured_p10_us: round(s.p10Ns / 1e3),
        measured_p90_us: round(s.p90Ns / 1e3),
      });
    }
  } finally {
    timer.destroy();
    layer.destroy();
  }
  const abs = points.map((p) => Math.abs(p.error));
  return {
    points,
    median_abs_error: round(median(abs), 4),
    max_abs_error: round(Math.max(...abs), 4),
    layer: shape,
    routing: sample.source,
    timing: timer.method,
    statistic: stat,
  };
}

function round(v: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
