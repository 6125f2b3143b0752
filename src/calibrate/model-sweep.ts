/**
 * `moesim calibrate --model PRESET`: times a model preset's own shapes on the local adapter —
 * its expert FFN (d_model x d_ff, its activation; f32, and f16 where the adapter has shader-f16),
 * its router and top-k gating (its experts and top-k), its attention projection (tokens x d_model
 * x heads * head_dim) — at token counts that fit a time budget. Real shapes are slow on a software
 * adapter, so the token counts are chosen from a probe of one tile and said (`scaled`). The
 * profile records the shapes it covers (`sweep.covers`), and a tiled FFN model per dtype fitted on
 * the measured token counts (`shapeModels`). With validation, a MoE layer at the model's d_model x
 * d_ff runs for a few batch sizes (with fewer experts than the model where their weights would
 * not fit the memory budget, said in `layer`).
 */
import { availableParallelism } from "node:os";
import { profileDtype, type TiledFfnModel } from "../hardware/cost-shape.js";
import type { OpCurve, ProfilePoint } from "../hardware/profile.js";
import { measureGating, measureShuffles, type Measure } from "./calibrate.js";
import { hostL1dBytes } from "./cpu-time.js";
import { fitAffine, fitPiecewise, fitTiles, median } from "./fit.js";
import { storageBuffer, type GpuContext } from "./gpu.js";
import { ffnRoundEntry } from "./ffn-round.js";
import { ExpertFfnBank, ffnFlops, type FfnShape } from "./kernels/ffn.js";
import { DEFAULT_TILE, type Dtype } from "./kernels/matmul.js";
import { Matmul } from "./kernels/matmul-run.js";
import type { LayerShape } from "./layer.js";
import type { CalibratedProfile } from "./profile-ext.js";
import { predictLayerNs } from "./predict.js";
import { runRounds, type RoundEntry } from "./rounds.js";
import { expertCounts, routingSample } from "./routing.js";
import { fitTiledFfn } from "./shape-fit.js";
import { GpuTimer, summarize } from "./timing.js";
import { LayerBench } from "./validate.js";
import { tiledFfnNs } from "../hardware/cost-shape.js";
import { UserError } from "../util/errors.js";

/** What the sweep reads of a model preset (workload/model.ts ModelSpec; calibrate does not import workload). */
export interface ModelSpec {
  name: string;
  dModel: number;
  dFf: number;
  experts: number;
  topK: number;
  heads: number;
  headDim?: number;
  activation: "swiglu" | "gelu" | "relu";
}

export interface ModelSweepOptions {
  /** Seconds the measurements may take (the budget the token counts are chosen for). */
  maxSeconds: number;
  validate?: boolean;
  onProgress?: (done: number, total: number, what: string) => void;
}

export interface ModelValidation {
  layer: LayerShape & { note: string };
  points: Array<{ tokens: number; measured_us: number; predicted_us: number; error: number; active_experts: number }>;
  median_abs_error: number;
  max_abs_error: number;
}

/** Weight memory the sweep allows itself for one expert bank (bytes). */
const BANK_BYTES = 1 << 30;
const REPS = 3;

/** The kernel's activation for the model's (ReLU runs as GELU: the same two matmuls, elementwise cost aside). */
function kernelAct(a: ModelSpec["activation"]): FfnShape["act"] {
  return a === "swiglu" ? "swiglu" : "gelu";
}

function checkDims(spec: ModelSpec): void {
  const { tn, tk } = DEFAULT_TILE;
  for (const [k, v] of [
    ["dModel", spec.dModel],
    ["dFf", spec.dFf],
  ] as const)
    if (v % tn || v % tk)
      throw new UserError(
        `model ${spec.name}: ${k} ${v} is not a multiple of ${tn}, which the WGSL FFN kernel's tiles need`,
        "moesim calibrate --model",
      );
}

/** Token counts 1, 32, 64, 128, ... whose summed tiles x tile cost x reps fit the budget (at least 1 and 32). */
function tokensFor(tileNs: number, budgetNs: number, tm: number, maxTokens = 4096): number[] {
  const out = [1, tm];
  let tiles = 2;
  for (let t = 2 * tm; t <= maxTokens; t *= 2) {
    const add = t / tm;
    if ((tiles + add) * tileNs * (REPS + 1) > budgetNs) break;
    tiles += add;
    out.push(t);
  }
  return out;
}

function pt(x: number, ns: number[], shape: Record<string, number | string>, minus = 0): ProfilePoint {
  const s = summarize(ns.map((v) => Math.max(0, v - minus)));
  return {
    x,
    shape,
    medianNs: Math.round(s.medianNs),
    p10Ns: Math.round(s.p10Ns),
    p90Ns: Math.round(s.p90Ns),
    reps: s.reps,
  };
}

interface FfnPhase {
  tokens: number[];
  tileWallNs: number;
  launchPts: ProfilePoint[];
  launchFit: ReturnType<typeof fitAffine>;
  curves: Partial<Record<Dtype, OpCurve>>;
  shapeModels: TiledFfnModel[];
}

/** The expert FFN at the model's shape, each dtype, token counts chosen from a probe of one tile. */
async function measureModelFfn(
  ctx: GpuContext,
  spec: ModelSpec,
  timer: GpuTimer,
  budgetNs: number,
  notes: string[],
  destroy: Array<() => void>,
): Promise<FfnPhase> {
  const dev = ctx.device;
  const { tm, tn } = DEFAULT_TILE;
  const act = kernelAct(spec.activation);
  const dtypes: Dtype[] = ctx.hasF16 ? ["f32", "f16"] : ["f32"];
  const expertBytes = spec.dModel * spec.dFf * (act === "swiglu" ? 3 : 2) * 4;
  const bankExperts = Math.max(1, Math.min(4, Math.floor(BANK_BYTES / expertBytes)));
  // token rows the activation buffers hold (X, H, Y: at most 256 MiB)
  const cap = Math.max(
    tm,
    Math.min(4096, 2 ** Math.floor(Math.log2((256 * 2 ** 20) / ((2 * spec.dModel + spec.dFf) * 4)))),
  );
  const banks = dtypes.map((dtype) => {
    const b = new ExpertFfnBank(ctx, { dModel: spec.dModel, dFf: spec.dFf, act, dtype }, bankExperts, cap);
    destroy.push(() => b.destroy());
    return b;
  });
  const args = storageBuffer(dev, bankExperts * 24, GPUBufferUsage.INDIRECT);
  destroy.push(() => args.destroy());
  const ffnEntry = (bank: ExpertFfnBank, t: number, key: string): RoundEntry =>
    ffnRoundEntry(dev, bank, args, bankExperts, spec, t, key);
  // probe: one tile of the f32 FFN (after a warm-up run), wall clock: the budget is wall time
  const probe = ffnEntry(banks[0], 1, "probe");
  probe.setup?.();
  await timer.once(probe.encode);
  probe.setup?.();
  const p0 = process.hrtime.bigint();
  await timer.once(probe.encode);
  const tileWallNs = Number(process.hrtime.bigint() - p0);
  const tokens = tokensFor(tileWallNs * dtypes.length, budgetNs, tm, cap);
  if (tokens[tokens.length - 1] < 4096)
    notes.push(
      `token counts scaled down to ${tokens.join(", ")} to fit --max-seconds ` +
        `(one ${spec.dModel}x${spec.dFf} tile took ${(tileWallNs / 1e6).toFixed(1)} ms here` +
        `${ctx.software ? " on a software adapter" : ""})`,
    );
  const idle = new ExpertFfnBank(ctx, { dModel: tn, dFf: tn, act, dtype: "f32" }, 1, 1);
  const emptyArgs = storageBuffer(dev, 64, GPUBufferUsage.INDIRECT);
  destroy.push(() => (idle.destroy(), emptyArgs.destroy()));
  const launch: RoundEntry[] = [0, 16].map((n) => ({
    key: `launch:${n}`,
    encode: (enc, tw) => {
      const p = enc.beginComputePass({ timestampWrites: tw(true, true) });
      for (let i = 0; i < n / 2; i++) idle.encodeIndirect(p, 0, emptyArgs, 0);
      p.end();
    },
  }));
  const ffnEntries = dtypes.flatMap((dt, i) => tokens.map((t) => ffnEntry(banks[i], t, `ffn:${dt}:${t}`)));
  const samples = await runRounds(timer, [...launch, ...ffnEntries], REPS, 1);
  const launchPts = [0, 16].map((n) => pt(n, samples.get(`launch:${n}`)!, { dispatches: n }));
  const launchFit = fitAffine(launchPts);
  const geo = { tileTokens: tm, tileCols: tn, cacheBytes: ctx.software ? (hostL1dBytes() ?? 0) : 0 };
  const curves: FfnPhase["curves"] = {};
  const shapeModels: TiledFfnModel[] = [];
  for (const dt of dtypes) {
    const flops = (t: number) => ffnFlops(t, spec.dModel, spec.dFf, act);
    const pts = tokens.map((t) => {
      const shape = { tokens: t, d_model: spec.dModel, d_ff: spec.dFf, act, dtype: dt };
      return { ...pt(flops(t), samples.get(`ffn:${dt}:${t}`)!, shape, launchFit.fixedNs), tokens: t };
    });
    curves[dt] = {
      unit: "flops",
      dtype: dt,
      points: pts.map(({ tokens: _t, ...p }) => p),
      fit: fitTiles(pts, tm, flops),
    };
    const dtype = profileDtype(dt) ?? "fp32";
    const fitPts = pts.map((p) => ({ ...spec, act, dtype, tokens: p.tokens, ns: Math.max(1, p.medianNs) }));
    shapeModels.push(fitTiledFfn(fitPts, geo));
  }
  return { tokens, tileWallNs, launchPts, launchFit, curves, shapeModels };
}

/** Gating, shuffle and combine at the model's experts and top-k, the attention q projection as a matmul. */
async function measureModelSmallOps(
  ctx: GpuContext,
  spec: ModelSpec,
  timer: GpuTimer,
  passNs: number,
  tokens: number[],
  notes: string[],
): Promise<{ layer: LayerShape; ops: CalibratedProfile["ops"]; combine: ProfilePoint[]; covers: object }> {
  const { tn } = DEFAULT_TILE;
  const topK = Math.min(spec.topK, 8);
  if (topK < spec.topK) notes.push(`gating timed at top-${topK} (the WGSL top-k kernel's limit), not ${spec.topK}`);
  const experts = Math.min(spec.experts, 256);
  if (experts < spec.experts)
    notes.push(`gating timed over ${experts} experts (the kernel's limit), not ${spec.experts}`);
  const act = kernelAct(spec.activation);
  const layer: LayerShape = { dModel: spec.dModel, dFf: spec.dFf, act, dtype: "f32", experts, topK };
  const dev = ctx.device;
  const m: Measure = { dev, timer, reps: REPS, warmup: 1, tick: () => {}, shape: layer, passNs, stat: "median" };
  const small = tokens.filter((t) => t <= 256);
  const gating = await measureGating(ctx, m, small);
  const { shufflePts, combinePts } = await measureShuffles(ctx, m, small);
  const headDim = spec.headDim ?? spec.dModel / spec.heads;
  const qDim = Math.ceil((spec.heads * headDim) / tn) * tn;
  const mm: ProfilePoint[] = [];
  for (const t of small) {
    const mat = new Matmul(ctx, t, spec.dModel, qDim, "tiled", "f32");
    const body = (enc: GPUCommandEncoder, tw: Parameters<RoundEntry["encode"]>[1]) => {
      const p = enc.beginComputePass({ timestampWrites: tw(true, true) });
      mat.encode(p);
      p.end();
    };
    const s = await timer.measure(body, REPS, 1);
    const shape = { m: t, k: spec.dModel, n: qDim, dtype: "f32", what: "attention q projection" };
    mm.push(pt(mat.flops, [s.medianNs], shape, passNs));
    mat.destroy();
  }
  return {
    layer,
    ops: {
      gating: { unit: "tokens", points: gating, fit: fitPiecewise(gating) },
      shuffle: { unit: "bytes", points: shufflePts, fit: fitPiecewise(shufflePts) },
      matmul: { unit: "flops", dtype: "f32", points: mm, fit: fitPiecewise(mm) },
    },
    combine: combinePts,
    covers: {
      gating: { experts, top_k: topK, tokens: small },
      matmul: { what: "attention q projection", m: small, k: spec.dModel, n: qDim },
      shuffle: { d_model: spec.dModel, top_k: topK, tokens: small },
    },
  };
}

/**
 * Times the model's shapes; returns the profile and, with `validate`, the layer's errors. The
 * budget: the FFN points 45% (all dtypes), the layer validation 45%, the rest for the small ops.
 */
export async function modelSweep(
  ctx: GpuContext,
  spec: ModelSpec,
  opts: ModelSweepOptions,
): Promise<{ profile: CalibratedProfile; validation?: ModelValidation; notes: string[] }> {
  checkDims(spec);
  const budgetNs = opts.maxSeconds * 1e9;
  const timer = new GpuTimer(ctx);
  const act = kernelAct(spec.activation);
  const notes: string[] = [];
  if (act !== spec.activation) notes.push(`activation ${spec.activation} timed with the ${act} kernel (two matmuls)`);
  const destroy: Array<() => void> = [() => timer.destroy()];
  try {
    opts.onProgress?.(0, 3, "expert FFN");
    const ffnShare = opts.validate ? 0.45 : 0.85;
    const ffn = await measureModelFfn(ctx, spec, timer, budgetNs * ffnShare, notes, destroy);
    for (const d of destroy.splice(1).reverse()) d();
    opts.onProgress?.(1, 3, "gating and attention");
    const small = await measureModelSmallOps(ctx, spec, timer, ffn.launchFit.fixedNs, ffn.tokens, notes);
    const main = ffn.curves.f16 ?? ffn.curves.f32!;
    const profile: CalibratedProfile & { shapeModels: TiledFfnModel[] } = {
      format: "moesim-profile/v1",
      adapter: ctx.info,
      createdAt: new Date().toISOString(),
      sweep: {
        model: spec.name,
        timing: timer.method,
        fitStatistic: "median",
        reps: REPS,
        hostCpus: availableParallelism(),
        lpNumThreads: process.env.LP_NUM_THREADS ?? null,
        maxSeconds: opts.maxSeconds,
        notes,
        ffnTile: DEFAULT_TILE,
        covers: {
          expert_ffn: Object.keys(ffn.curves).map((dt) => ({
            d_model: spec.dModel,
            d_ff: spec.dFf,
            act,
            dtype: dt,
            tokens: ffn.tokens,
          })),
          ...small.covers,
        },
        // the f32 curve beside the f16 one in ops (the layer executor runs f32)
        ...(ffn.curves.f16 && ffn.curves.f32 ? { expertFfnF32: ffn.curves.f32 } : {}),
      },
      ops: { expert_ffn: main, ...small.ops },
      extraOps: {
        combine: { unit: "bytes", points: small.combine, fit: fitPiecewise(small.combine) },
        launch: { unit: "dispatches", points: ffn.launchPts, fit: ffn.launchFit },
      },
      ffnTileTokens: DEFAULT_TILE.tm,
      shapeModels: ffn.shapeModels,
    };
    opts.onProgress?.(2, 3, "layer");
    const f32Model = ffn.shapeModels.find((m) => m.dtype === "fp32")!;
    const validation = opts.validate
      ? await validateLayer(ctx, spec, small.layer, profile, f32Model, ffn.tileWallNs, budgetNs * 0.45)
      : undefined;
    opts.onProgress?.(3, 3, "done");
    return { profile, validation, notes };
  } finally {
    for (const d of destroy.reverse()) d();
  }
}

/** A MoE layer at the model's d_model x d_ff, experts capped by memory, batches fitting the time left. */
async function validateLayer(
  ctx: GpuContext,
  spec: ModelSpec,
  shape: LayerShape,
  profile: CalibratedProfile,
  f32Model: TiledFfnModel,
  tileWallNs: number,
  budgetNs: number,
): Promise<ModelValidation> {
  const expertBytes = spec.dModel * spec.dFf * (shape.act === "swiglu" ? 3 : 2) * 4;
  const experts = Math.max(2, Math.min(spec.experts, 16, Math.floor(BANK_BYTES / expertBytes)));
  const topK = Math.min(shape.topK, experts - 1);
  const layer: LayerShape = { ...shape, experts, topK };
  const op = { dModel: spec.dModel, dFf: spec.dFf, activation: shape.act, dtype: "fp32" as const };
  // batch sizes whose tiles (about one per active expert while batches are small) fit the budget,
  // REPS + 2 runs each (routing check, warm-up, timed); at least the 1-token batch
  const tokens: number[] = [];
  let spent = 0;
  for (const t of [1, 4, 16, 64, 256]) {
    const cost = Math.min(experts, t * topK) * tileWallNs * (REPS + 2);
    if (tokens.length >= 1 && spent + cost > budgetNs) break;
    tokens.push(t);
    spent += cost;
  }
  const sample = routingSample(experts, topK);
  const bench = new LayerBench(ctx, layer, tokens, sample);
  const timer = new GpuTimer(ctx);
  try {
    await bench.checkRouting(timer);
    const samples = await runRounds(timer, bench.entries, REPS, 1);
    const points = tokens.map((t) => {
      const counts = expertCounts(sample, t);
      const pred = predictLayerNs(profile, layer, counts, (c) => tiledFfnNs(f32Model, { ...op, tokens: c })).totalNs;
      const measured = summarize(samples.get(`layer:${t}`)!).medianNs;
      return {
        tokens: t,
        measured_us: Math.round(measured / 100) / 10,
        predicted_us: Math.round(pred / 100) / 10,
        error: Math.round(((pred - measured) / measured) * 1e4) / 1e4,
        active_experts: counts.filter((c) => c > 0).length,
      };
    });
    const abs = points.map((p) => Math.abs(p.error));
    const note =
      experts < spec.experts || topK < spec.topK
        ? `${experts} experts, top-${topK} (the model has ${spec.experts}, top-${spec.topK}: ` +
          `the layer's f32 weights are capped at ${BANK_BYTES / 2 ** 30} GiB), f32`
        : "the model's experts and top-k, f32";
    return { layer: { ...layer, note }, points, median_abs_error: median(abs), max_abs_error: Math.max(...abs) };
  } finally {
    timer.destroy();
    bench.destroy();
  }
}
