/**
 * The transfer test of the shape model: times expert FFN calls at several shapes (1 token, a
 * padded tile, up to several tiles; small and large d_model and d_ff) and one MoE layer at a shape
 * none of them has, in the same interleaved rounds; fits the tiled roofline (shape-fit.ts) on all
 * shapes (in-sample errors), on all but one for each shape (leave-one-shape-out: held-out errors),
 * and predicts the layer from the all-shapes fit plus its gating, shuffle and combine curves.
 */
import type { TiledFfnModel } from "../hardware/cost-shape.js";
import { profileDtype, tiledFfnNs } from "../hardware/cost-shape.js";
import type { CostProfile } from "../hardware/profile.js";
import { measureGating, measureShuffles, type Measure } from "./calibrate.js";
import { hostL1dBytes } from "./cpu-time.js";
import { fitAffine, fitPiecewise, median } from "./fit.js";
import { storageBuffer, type GpuContext } from "./gpu.js";
import { ffnRoundEntry } from "./ffn-round.js";
import { ExpertFfnBank } from "./kernels/ffn.js";
import { DEFAULT_TILE } from "./kernels/matmul.js";
import type { LayerShape } from "./layer.js";
import { predictLayerNs } from "./predict.js";
import { runRounds, type RoundEntry } from "./rounds.js";
import { expertCounts, routingSample } from "./routing.js";
import { inSample, leaveOneShapeOut, shapeKey, type FfnShapePoint, type TransferSummary } from "./shape-fit.js";
import { GpuTimer, statOf, summarize, type FitStatistic, type TimingMethod } from "./timing.js";
import { LayerBench } from "./validate.js";

export interface FfnDims {
  dModel: number;
  dFf: number;
}

export interface TransferPlan {
  /** Expert FFN shapes (SwiGLU, f32), at least four. */
  shapes: FfnDims[];
  tokens: number[];
  /** The layer validated at a shape not in `shapes`. */
  layer: LayerShape;
  layerTokens: number[];
  reps: number;
  warmup: number;
  /** Statistic of the repetitions (default "median"). */
  stat?: FitStatistic;
}

/** The held-out layer: 384 x 768 (between the fitted shapes, none of them), 16 experts, top-2. */
export const TRANSFER_LAYER: LayerShape = { dModel: 384, dFf: 768, act: "swiglu", dtype: "f32", experts: 16, topK: 2 };

/**
 * Quick: 256x512 (small), 512x1024 (the calibration's layer), 2048x256 (large d_model: a 1-token
 * call is bound by its weights on a GPU) and 1024x1024 (most FLOPs per token), 1..128 tokens.
 * Full: four more shapes and 256 tokens.
 */
export function transferPlan(quick: boolean): TransferPlan {
  const base = [
    { dModel: 256, dFf: 512 },
    { dModel: 512, dFf: 1024 },
    { dModel: 2048, dFf: 256 },
    { dModel: 1024, dFf: 1024 },
  ];
  return quick
    ? {
        shapes: base,
        tokens: [1, 32, 64, 128],
        layer: TRANSFER_LAYER,
        layerTokens: [1, 16, 64, 256],
        reps: 7,
        warmup: 1,
      }
    : {
        shapes: [
          ...base,
          { dModel: 512, dFf: 256 },
          { dModel: 256, dFf: 1024 },
          { dModel: 1024, dFf: 512 },
          { dModel: 2048, dFf: 512 },
        ],
        tokens: [1, 32, 64, 128, 256],
        layer: TRANSFER_LAYER,
        layerTokens: [1, 4, 16, 64, 128, 256],
        reps: 7,
        warmup: 1,
      };
}

export interface TransferResult {
  timing: TimingMethod;
  statistic: FitStatistic;
  reps: number;
  /** Cache size the model's re-read term assumes (host L1d on a CPU adapter, else 0). */
  cache_bytes: number;
  points: Array<{
    d_model: number;
    d_ff: number;
    tokens: number;
    measured_us: number;
    p10_us: number;
    p90_us: number;
  }>;
  in_sample: { model: TiledFfnModel; median_abs_error: number; max_abs_error: number };
  held_out: TransferSummary;
  layer: {
    shape: LayerShape;
    points: Array<{
      tokens: number;
      measured_us: number;
      predicted_us: number;
      error: number;
      active_experts: number;
      ffn_us: number;
    }>;
    median_abs_error: number;
    max_abs_error: number;
  };
}

/** Experts per shape bank: consecutive points run on different experts (other weights), as in a layer. */
const BANK = 4;

function ffnEntries(ctx: GpuContext, plan: TransferPlan, destroy: Array<() => void>): RoundEntry[] {
  const dev = ctx.device;
  const out: RoundEntry[] = [];
  for (const s of plan.shapes) {
    const bank = new ExpertFfnBank(ctx, { ...s, act: "swiglu", dtype: "f32" }, BANK, Math.max(...plan.tokens));
    const args = storageBuffer(dev, BANK * 24, GPUBufferUsage.INDIRECT);
    destroy.push(() => (bank.destroy(), args.destroy()));
    const cursor = { next: 0 };
    for (const t of plan.tokens)
      out.push(ffnRoundEntry(dev, bank, args, BANK, s, t, `ffn:${shapeKey(s)}:${t}`, cursor));
  }
  return out;
}

/** Passes of 0 and 32 empty (zero-workgroup, indirect) dispatches: the pass and per-dispatch costs. */
function launchEntries(ctx: GpuContext, layer: LayerShape, destroy: Array<() => void>): RoundEntry[] {
  const idle = new ExpertFfnBank(ctx, { ...layer, dModel: DEFAULT_TILE.tn, dFf: DEFAULT_TILE.tn }, 1, 1);
  const emptyArgs = storageBuffer(ctx.device, 64, GPUBufferUsage.INDIRECT);
  destroy.push(() => (idle.destroy(), emptyArgs.destroy()));
  return [0, 32].map((n) => ({
    key: `launch:${n}`,
    encode: (enc, tw) => {
      const p = enc.beginComputePass({ timestampWrites: tw(true, true) });
      for (let i = 0; i < n / 2; i++) idle.encodeIndirect(p, 0, emptyArgs, 0);
      p.end();
    },
  }));
}

/** Runs the transfer test on the local adapter. */
export async function transferValidate(
  ctx: GpuContext,
  opts: { quick?: boolean; plan?: TransferPlan; onProgress?: (done: number, total: number, what: string) => void } = {},
): Promise<TransferResult> {
  const plan = opts.plan ?? transferPlan(opts.quick ?? false);
  if (plan.shapes.some((s) => shapeKey(s) === shapeKey(plan.layer)))
    throw new Error("transferValidate: the layer's shape must not be one of the fitted shapes");
  const geo = {
    tileTokens: DEFAULT_TILE.tm,
    tileCols: DEFAULT_TILE.tn,
    cacheBytes: ctx.software ? (hostL1dBytes() ?? 0) : 0,
  };
  const timer = new GpuTimer(ctx);
  const stat = plan.stat ?? "median";
  const destroy: Array<() => void> = [() => timer.destroy()];
  try {
    const bench = new LayerBench(ctx, plan.layer, plan.layerTokens, routingSample(plan.layer.experts, plan.layer.topK));
    destroy.push(() => bench.destroy());
    await bench.checkRouting(timer);
    const launch = launchEntries(ctx, plan.layer, destroy);
    const ffn = ffnEntries(ctx, plan, destroy);
    const samples = await runRounds(timer, [...launch, ...ffn, ...bench.entries], plan.reps, plan.warmup, (r, n) =>
      opts.onProgress?.(r, n + 1, `transfer round ${r}/${n}`),
    );
    const med = (k: string) => summarize(samples.get(k)!);
    const launchPts = [0, 32].map((n) => ({ x: n, medianNs: statOf(med(`launch:${n}`), stat), reps: plan.reps }));
    const launchFit = fitAffine(launchPts);
    const passNs = launchFit.fixedNs;
    // FFN points: the call's own time (the pass overhead subtracted, as calibrate does)
    const points: TransferResult["points"] = [];
    const fitPts: FfnShapePoint[] = [];
    for (const s of plan.shapes)
      for (const t of plan.tokens) {
        const st = med(`ffn:${shapeKey(s)}:${t}`);
        const ns = Math.max(1, statOf(st, stat) - passNs);
        fitPts.push({ ...s, act: "swiglu", dtype: "fp32", tokens: t, ns });
        points.push({
          d_model: s.dModel,
          d_ff: s.dFf,
          tokens: t,
          measured_us: r1(ns / 1e3),
          p10_us: r1((st.p10Ns - passNs) / 1e3),
          p90_us: r1((st.p90Ns - passNs) / 1e3),
        });
      }
    // a call's fixed cost: its two dispatches (launch slope), measured apart (MOESIM_FIT_FIXED=1: fitted)
    const fixed = process.env.MOESIM_FIT_FIXED === "1" ? {} : { fixedNs: 2 * (1e9 / launchFit.ratePerS) };
    const all = inSample(fitPts, geo, fixed);
    const heldOut = leaveOneShapeOut(fitPts, geo, fixed);

    // the layer's other parts at its own experts, top-k and d_model
    const m: Measure = {
      dev: ctx.device,
      timer,
      reps: plan.reps,
      warmup: plan.warmup,
      tick: () => {},
      shape: plan.layer,
      passNs,
      stat,
    };
    const gating = await measureGating(ctx, m, plan.layerTokens);
    const { shufflePts, combinePts } = await measureShuffles(ctx, m, plan.layerTokens);
    opts.onProgress?.(plan.reps + plan.warmup + 1, plan.reps + plan.warmup + 1, "gating and shuffle");
    const parts = {
      format: "moesim-profile/v1",
      ops: {
        gating: { unit: "tokens", points: gating, fit: fitPiecewise(gating) },
        shuffle: { unit: "bytes", points: shufflePts, fit: fitPiecewise(shufflePts) },
      },
      extraOps: {
        combine: { unit: "bytes", points: combinePts, fit: fitPiecewise(combinePts) },
        launch: { unit: "dispatches", points: [], fit: launchFit },
      },
    } as unknown as CostProfile;
    const dtype = profileDtype(plan.layer.dtype) ?? "fp32";
    const layerPoints = plan.layerTokens.map((t) => {
      const counts = expertCounts(bench.sample, t);
      const pred = predictLayerNs(parts, plan.layer, counts, (c) =>
        tiledFfnNs(all.model, {
          tokens: c,
          dModel: plan.layer.dModel,
          dFf: plan.layer.dFf,
          activation: "swiglu",
          dtype,
        }),
      );
      const measured = statOf(med(`layer:${t}`), stat);
      return {
        tokens: t,
        measured_us: r1(measured / 1e3),
        predicted_us: r1(pred.totalNs / 1e3),
        error: Math.round(((pred.totalNs - measured) / measured) * 1e4) / 1e4,
        active_experts: counts.filter((c) => c > 0).length,
        ffn_us: r1(pred.parts.ffnNs / 1e3),
      };
    });
    const abs = layerPoints.map((p) => Math.abs(p.error));
    return {
      timing: timer.method,
      statistic: stat,
      reps: plan.reps,
      cache_bytes: geo.cacheBytes,
      points,
      in_sample: all,
      held_out: heldOut,
      layer: {
        shape: plan.layer,
        points: layerPoints,
        median_abs_error: median(abs),
        max_abs_error: Math.max(...abs),
      },
    };
  } finally {
    for (const d of destroy.reverse()) d();
  }
}

function r1(v: number): number {
  return Math.round(v * 10) / 10;
}
