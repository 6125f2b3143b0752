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
import { runRounds, type RoundEntry } from "./rounds.js";
import { calibrate, type CalibrateOptions } from "./calibrate.js";
import type { CalibratedProfile } from "./profile-ext.js";
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
  /** Full 32-token FFN tiles the active experts run (tile padding: a 1-token expert costs a tile). */
  ffn_tiles: number;
  /** The prediction's parts (predict.ts), us. */
  predicted_parts_us: Record<string, number>;
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

/** The layer points of a validation: one MoE layer executor, one round entry per batch size. */
export class LayerBench {
  readonly layer: MoeLayer;
  readonly entries: RoundEntry[];

  constructor(
    readonly ctx: GpuContext,
    readonly shape: LayerShape,
    readonly tokensList: readonly number[],
    readonly sample: RoutingSample,
  ) {
    this.layer = new MoeLayer(ctx, shape, Math.max(...tokensList));
    this.entries = tokensList.map((t) => {
      const logits = logitsForPicks(sample, t);
      return { key: `layer:${t}`, setup: () => this.layer.setBatch(t, logits), encode: this.layer.encode() };
    });
  }

  /** Runs every batch once and checks that the GPU's gating routed exactly as the sample says. */
  async checkRouting(timer: GpuTimer): Promise<void> {
    for (const [i, t] of this.tokensList.entries()) {
      this.entries[i].setup?.();
      await timer.once(this.entries[i].encode);
      const counts = expertCounts(this.sample, t);
      const got = new Uint32Array(
        await readBuffer(this.ctx.device, this.layer.gating.buffers.counts, this.shape.experts * 4),
      );
      if (counts.some((c, e) => c !== got[e]))
        throw new Error(
          `GPU gating counts ${[...got].join(",")} differ from the routing sample ${counts.join(",")} at ${t} tokens`,
        );
    }
  }

  /** Measured (the statistic of each batch's samples) against the profile's prediction. */
  result(profile: CostProfile, samples: Map<string, number[]>, stat: FitStatistic, timing: string): ValidationResult {
    const points: ValidationPoint[] = [];
    for (const t of this.tokensList) {
      const s = summarize(samples.get(`layer:${t}`) ?? []);
      const counts = expertCounts(this.sample, t);
      const pred = predictLayerNs(profile, this.shape, counts);
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
        ffn_tiles: counts.reduce((a, c) => a + Math.ceil(c / this.layer.bank.tile.tm), 0),
        predicted_parts_us: Object.fromEntries(
          Object.entries(pred.parts).map(([k, v]) => [k.replace(/Ns$/, ""), round(v / 1e3)]),
        ),
      });
    }
    const abs = points.map((p) => Math.abs(p.error));
    return {
      points,
      median_abs_error: round(median(abs), 4),
      max_abs_error: round(Math.max(...abs), 4),
      layer: this.shape,
      routing: this.sample.source,
      timing,
      statistic: stat,
    };
  }

  destroy(): void {
    this.layer.destroy();
  }
}

export interface ValidateOptions {
  quick?: boolean;
  reps?: number;
  stat?: FitStatistic;
  tokens?: number[];
  sample?: RoutingSample;
  onProgress?: (done: number, total: number, label: string) => void;
}

function layerSetup(profileLayer: LayerShape | undefined, opts: ValidateOptions) {
  const shape = profileLayer ?? VALIDATION_LAYER;
  return {
    shape,
    sample: opts.sample ?? routingSample(shape.experts, shape.topK),
    tokensList: opts.tokens ?? (opts.quick ? VALIDATION_TOKENS_QUICK : VALIDATION_TOKENS_FULL),
  };
}

/** Validates a stored profile: times the layer (interleaved rounds) and compares with the prediction. */
export async function validate(
  ctx: GpuContext,
  profile: CostProfile,
  opts: ValidateOptions = {},
): Promise<ValidationResult> {
  const { shape, sample, tokensList } = layerSetup((profile as { layer?: LayerShape }).layer, opts);
  const reps = opts.reps ?? (opts.quick ? 12 : 16);
  const stat = opts.stat ?? (profile.sweep as { fitStatistic?: FitStatistic }).fitStatistic ?? "min";
  const bench = new LayerBench(ctx, shape, tokensList, sample);
  const timer = new GpuTimer(ctx);
  try {
    await bench.checkRouting(timer);
    const samples = await runRounds(timer, bench.entries, reps, opts.quick ? 1 : 2, (r, n) =>
      opts.onProgress?.(r, n, `layer round ${r}/${n}`),
    );
    return bench.result(profile, samples, stat, timer.method);
  } finally {
    timer.destroy();
    bench.destroy();
  }
}

/**
 * Calibration and validation in one go: the validation's layer points are timed in the same
 * interleaved rounds as the calibration's FFN points (the FFN is nearly all of the layer's time
 * on lavapipe), so that a drift of the machine's load between a calibration and a later
 * validation does not show up as model error.
 */
export async function calibrateAndValidate(
  ctx: GpuContext,
  opts: CalibrateOptions & Omit<ValidateOptions, "onProgress"> = {},
): Promise<{ profile: CalibratedProfile; validation: ValidationResult }> {
  const { shape, sample, tokensList } = layerSetup(opts.shape, opts);
  const bench = new LayerBench(ctx, shape, tokensList, sample);
  const timer = new GpuTimer(ctx);
  try {
    await bench.checkRouting(timer);
    let samples = new Map<string, number[]>();
    const profile = await calibrate(ctx, {
      ...opts,
      shape,
      alongside: bench.entries,
      ffnBank: bench.layer.bank,
      onAlongside: (s) => (samples = s),
    });
    const validation = bench.result(
      profile,
      samples,
      opts.stat ?? (profile.sweep.fitStatistic as FitStatistic),
      timer.method,
    );
    return { profile, validation };
  } finally {
    timer.destroy();
    bench.destroy();
  }
}

function round(v: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
