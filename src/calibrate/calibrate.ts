/**
 * The calibration sweep: times every op over a range of sizes on the local adapter, fits the
 * curves and returns a moesim-profile/v1 profile (with the extras in profile-ext.ts). The raw
 * points (median, p10, p90, reps) are kept in the profile.
 */
import { availableParallelism } from "node:os";
import type { OpCurve, ProfilePoint } from "../hardware/profile.js";
import { storageBuffer, timingNice, type GpuContext } from "./gpu.js";
import { DeviceToHost, HostToDevice, d2dEncode } from "./kernels/copy.js";
import { ExpertFfnBank, ffnFlops, fillUniform } from "./kernels/ffn.js";
import { Gating } from "./kernels/gating.js";
import { DEFAULT_TILE } from "./kernels/matmul.js";
import { Matmul } from "./kernels/matmul-run.js";
import { RowShuffle, orderFromSizeMatrix } from "./kernels/shuffle.js";
import { VALIDATION_LAYER, type LayerShape } from "./layer.js";
import { fitAffine, fitPiecewise, fitTiles } from "./fit.js";
import type { CalibratedProfile, ExtraCurve } from "./profile-ext.js";
import { rootStream } from "../sim/rng.js";
import { runRounds, type RoundEntry } from "./rounds.js";
import {
  GpuTimer,
  measureHost,
  statOf,
  summarize,
  type Encode,
  type FitStatistic,
  type TimingStats,
} from "./timing.js";

export interface CalibrateOptions {
  quick?: boolean;
  /** Timed repetitions per point (default 5 quick, 9 full). */
  reps?: number;
  shape?: LayerShape;
  /** Statistic of the repetitions that the fits use (default "min"). */
  stat?: FitStatistic;
  /** Called after each measured point. */
  onProgress?: (done: number, total: number, label: string) => void;
  /**
   * Measurements to time in the same interleaved rounds as the FFN sweep (the validation's layer
   * points, from calibrateAndValidate); their samples go to onAlongside.
   */
  alongside?: RoundEntry[];
  onAlongside?: (samples: Map<string, number[]>) => void;
  /** An E-expert bank of the layer's shape to time the FFN points on (the layer's own). */
  ffnBank?: ExpertFfnBank;
}

export interface SweepPlan {
  launch: number[];
  ffnTokens: number[];
  gatingTokens: number[];
  shuffleTokens: number[];
  copyBytes: number[];
  matmulSizes: number[];
}

export function sweepPlan(quick: boolean, shape: LayerShape = VALIDATION_LAYER): SweepPlan {
  const tm = DEFAULT_TILE.tm;
  const maxLayerTokens = 256;
  const ffn: number[] = [];
  for (let t = tm; t <= maxLayerTokens; t += tm) ffn.push(t);
  void shape;
  return quick
    ? {
        launch: [0, 8, 32],
        ffnTokens: [tm, 2 * tm, 4 * tm, 8 * tm],
        gatingTokens: [1, 16, 64, 256],
        shuffleTokens: [1, 16, 64, 256],
        copyBytes: [4096, 262144, 4194304],
        matmulSizes: [64, 256],
      }
    : {
        launch: [0, 2, 8, 16, 32, 64],
        ffnTokens: [...ffn, 384, 512],
        gatingTokens: [1, 4, 16, 64, 128, 256, 512, 1024],
        shuffleTokens: [1, 4, 16, 64, 128, 256, 512, 1024],
        copyBytes: [4096, 65536, 1048576, 4194304, 16777216],
        matmulSizes: [64, 128, 256, 512],
      };
}

/** A measured point; the fits read `fitNs` (the chosen statistic), medianNs/p10/p90 are the spread. */
export type CalPoint = ProfilePoint & { minNs: number; fitNs: number };

let fitStat: FitStatistic = "min";

function point(
  x: number,
  s: TimingStats,
  shape: Record<string, number | string>,
  minusNs = 0,
  stat: FitStatistic = fitStat,
): CalPoint {
  const r = (v: number) => Math.round(Math.max(0, v - minusNs));
  return {
    x,
    shape,
    medianNs: r(s.medianNs),
    p10Ns: r(s.p10Ns),
    p90Ns: r(s.p90Ns),
    minNs: r(s.minNs),
    // the profile schema wants a positive fit time: a tiny op can come out at 0 once the pass
    // overhead is subtracted (under the driver-CPU-time timer a 1-token shuffle costs less than it)
    fitNs: Math.max(1, r(statOf(s, stat))),
    reps: s.reps,
  };
}

function pass(enc: GPUCommandEncoder, tw: Parameters<Encode>[1], body: (p: GPUComputePassEncoder) => void): void {
  const p = enc.beginComputePass({ timestampWrites: tw(true, true) });
  body(p);
  p.end();
}

/**
 * Experts per timed FFN pass: the point's time is (pass time - pass overhead) / FFN_GROUP, the
 * cost of one expert's FFN call following another's, as in the layer; it also makes FFN points
 * about as long as layer points, so that load from other processes stretches both alike.
 */
export const FFN_GROUP = 4;

function perCall(s: TimingStats, passNs: number): TimingStats {
  const f = (v: number) => (v - passNs) / FFN_GROUP;
  return { medianNs: f(s.medianNs), minNs: f(s.minNs), p10Ns: f(s.p10Ns), p90Ns: f(s.p90Ns), reps: s.reps };
}

/** What the measurement phases share: the device, its timer, the repetitions and the pass overhead. */
export interface Measure {
  dev: GPUDevice;
  timer: GpuTimer;
  reps: number;
  warmup: number;
  tick: (label: string) => void;
  shape: LayerShape;
  /** The launch fit's fixed cost of a pass, subtracted from GPU-timed points. */
  passNs: number;
  /** The statistic the points' fitNs take (default: calibrate's --stat). */
  stat?: FitStatistic;
}

/**
 * Expert FFN round entries: T tokens through one expert of a bank of E (the layer's kernels, shape
 * and expert count), dispatched indirectly from host-written arguments exactly as the layer
 * dispatches them from the gating's, each measurement on the next expert in turn so that its
 * weights are not the ones the previous measurement just read (in the layer, consecutive experts
 * have different weights too).
 */
function ffnRoundEntries(
  dev: GPUDevice,
  shape: LayerShape,
  bank: ExpertFfnBank,
  ffnArgs: GPUBuffer,
  tokens: number[],
): RoundEntry[] {
  const { dModel: d, dFf: f, experts: E } = shape;
  const { tm, tn } = DEFAULT_TILE;
  let nextExpert = 0;
  return tokens.map((t) => {
    const group: number[] = [];
    return {
      key: `ffn:${t}`,
      setup: () => {
        // FFN_GROUP consecutive experts (rotating), T tokens each, in one pass: as in the layer,
        // where each expert's FFN follows another expert's with other weights.
        group.length = 0;
        const route = new Uint32Array(E * 2);
        const args = new Uint32Array(E * 6);
        const wy = Math.ceil(t / tm);
        for (let g = 0; g < FFN_GROUP; g++) {
          const e = nextExpert++ % E;
          group.push(e);
          route.set([0, t], 2 * e); // every expert of the group on the same rows, one after the other
          args.set([f / tn, wy, 1, d / tn, wy, 1], 6 * e);
        }
        dev.queue.writeBuffer(bank.route, 0, route);
        dev.queue.writeBuffer(ffnArgs, 0, args);
      },
      encode: (enc, tw) =>
        pass(enc, tw, (p) => {
          for (const e of group) bank.encodeIndirect(p, e, ffnArgs, e * 24);
        }),
    };
  });
}

/** Gating: random logits, E experts, top-k. */
export async function measureGating(ctx: GpuContext, m: Measure, tokens: number[]): Promise<CalPoint[]> {
  const { dModel: d, dFf: f, experts: E, topK: k } = m.shape;
  const maxG = Math.max(...tokens);
  const gating = new Gating(ctx, maxG, E, k, { dModel: d, dFf: f, tile: DEFAULT_TILE });
  const logits = fillUniform(maxG * E, 5, 3);
  const gatingPts: CalPoint[] = [];
  for (const t of tokens) {
    gating.setTokens(t, logits);
    const s = await m.timer.measure((enc, tw) => pass(enc, tw, (p) => gating.encode(p)), m.reps, m.warmup);
    gatingPts.push(point(t, s, { tokens: t, experts: E, top_k: k }, m.passNs, m.stat));
    m.tick(`gating ${t} tokens`);
  }
  gating.destroy();
  return gatingPts;
}

/** Shuffle (dispatch gather, from a size matrix over 4 ranks) and combine (weighted scatter back). */
export async function measureShuffles(
  ctx: GpuContext,
  m: Measure,
  tokens: number[],
): Promise<{ shufflePts: CalPoint[]; combinePts: CalPoint[] }> {
  const { dev, timer, reps, warmup, passNs } = m;
  const { dModel: d, topK: k, dtype } = m.shape;
  const rowBytes = d * (dtype === "f16" ? 2 : 4);
  const maxS = Math.max(...tokens);
  const src = storageBuffer(dev, maxS * k * d * 4);
  dev.queue.writeBuffer(src, 0, fillUniform(maxS * d, 3, 1));
  const dst = storageBuffer(dev, maxS * k * d * 4);
  const index = storageBuffer(dev, maxS * k * 4);
  const weights = storageBuffer(dev, maxS * k * 4);
  dev.queue.writeBuffer(weights, 0, fillUniform(maxS * k, 4, 1));
  const dispatch = new RowShuffle(ctx, "dispatch", d, k, { src, dst, index });
  const combine = new RowShuffle(ctx, "combine", d, k, { src: dst, dst: src, index, weights });
  const rng = rootStream(1).child("calibrate/size-matrix");
  const shufflePts: CalPoint[] = [];
  const combinePts: CalPoint[] = [];
  for (const t of tokens) {
    const rows = t * k;
    // a 4x4 size matrix with random split of the rows (tokens from source s to destination r)
    const ranks = 4;
    const sizes = Array.from({ length: ranks }, () => new Array<number>(ranks).fill(0));
    for (let i = 0; i < rows; i++) sizes[rng.int(ranks)][rng.int(ranks)]++;
    const order = orderFromSizeMatrix(sizes); // source rows; the kernel divides by k
    const idx = order.map((v) => v * k);
    dev.queue.writeBuffer(index, 0, idx);
    dispatch.setRows(rows);
    const s1 = await timer.measure((enc, tw) => pass(enc, tw, (p) => dispatch.encode(p)), reps, warmup);
    shufflePts.push(point(rows * rowBytes, s1, { tokens: t, top_k: k, d_model: d, ranks }, passNs, m.stat));
    m.tick(`shuffle ${rows} rows`);
    const slot = new Uint32Array(rows);
    for (let i = 0; i < rows; i++) slot[order[i]] = i;
    dev.queue.writeBuffer(index, 0, slot);
    combine.setRows(t);
    const s2 = await timer.measure((enc, tw) => pass(enc, tw, (p) => combine.encode(p)), reps, warmup);
    combinePts.push(point(rows * rowBytes, s2, { tokens: t, top_k: k, d_model: d }, passNs, m.stat));
    m.tick(`combine ${t} tokens`);
  }
  for (const b of [src, dst, index, weights]) b.destroy();
  dispatch.destroy();
  combine.destroy();
  return { shufflePts, combinePts };
}

/** Copies: device to device (GPU-timed), host to device and device to host (host-timed). */
async function measureCopies(
  ctx: GpuContext,
  m: Measure,
  sizes: number[],
): Promise<Record<"d2dPts" | "h2dPts" | "d2hPts", CalPoint[]>> {
  const { dev, timer, reps, warmup } = m;
  const d2dPts: CalPoint[] = [];
  const h2dPts: CalPoint[] = [];
  const d2hPts: CalPoint[] = [];
  for (const bytes of sizes) {
    const a = storageBuffer(dev, bytes);
    const b = storageBuffer(dev, bytes);
    const s = await timer.measure(d2dEncode(a, b, bytes), reps, warmup);
    d2dPts.push(point(bytes, s, { bytes }));
    a.destroy();
    b.destroy();
    m.tick(`copy_d2d ${bytes} B`);
    const h2d = new HostToDevice(ctx, bytes);
    const data = new Uint8Array(bytes).fill(7);
    h2dPts.push(point(bytes, await measureHost(() => h2d.run(data), reps, warmup), { bytes }));
    h2d.destroy();
    m.tick(`copy_h2d ${bytes} B`);
    const d2h = new DeviceToHost(ctx, bytes);
    d2hPts.push(point(bytes, await measureHost(() => d2h.run(), reps, warmup), { bytes }));
    d2h.destroy();
    m.tick(`copy_d2h ${bytes} B`);
  }
  return { d2dPts, h2dPts, d2hPts };
}

/** Plain matmul (square, tiled kernel). */
async function measureMatmuls(ctx: GpuContext, m: Measure, sizes: number[]): Promise<CalPoint[]> {
  const mmPts: CalPoint[] = [];
  for (const n of sizes) {
    const mm = new Matmul(ctx, n, n, n, "tiled", m.shape.dtype);
    const s = await m.timer.measure((enc, tw) => pass(enc, tw, (p) => mm.encode(p)), m.reps, m.warmup);
    mmPts.push(point(mm.flops, s, { m: n, k: n, n, dtype: m.shape.dtype }, m.passNs));
    mm.destroy();
    m.tick(`matmul ${n}^3`);
  }
  return mmPts;
}

/** Progress counters: tick() after one measured point, tickN(n) after a fraction n of points (rounds). */
function progressTicks(
  total: number,
  onProgress: CalibrateOptions["onProgress"],
): { tick: (label: string) => void; tickN: (n: number, label: string) => void } {
  let done = 0;
  let frac = 0;
  return {
    tick: (label) => onProgress?.(++done, total, label),
    tickN: (n, label) => {
      frac += n;
      const whole = Math.floor(frac + 1e-9);
      frac -= whole;
      done += whole;
      onProgress?.(Math.min(done, total), total, label);
    },
  };
}

/** The profile's note on its timing statistics. */
function statisticNote(stat: FitStatistic): string {
  return (
    `fits use the ${stat} of the reps (fitNs); medianNs, p10Ns, p90Ns give the spread; ` +
    `GPU-timed ops have the pass overhead (launch fixedNs) subtracted`
  );
}

/** Runs the sweep and returns the fitted profile. */
export async function calibrate(ctx: GpuContext, opts: CalibrateOptions = {}): Promise<CalibratedProfile> {
  const quick = opts.quick ?? false;
  const reps = opts.reps ?? (quick ? 5 : 9);
  const warmup = quick ? 1 : 2;
  fitStat = opts.stat ?? "min";
  const shape = opts.shape ?? VALIDATION_LAYER;
  const plan = sweepPlan(quick, shape);
  const total =
    plan.launch.length +
    plan.ffnTokens.length +
    plan.gatingTokens.length +
    2 * plan.shuffleTokens.length +
    3 * plan.copyBytes.length +
    plan.matmulSizes.length;
  const { tick, tickN } = progressTicks(total, opts.onProgress);
  const timer = new GpuTimer(ctx);
  const dev = ctx.device;
  const { dModel: d, dFf: f, act, dtype, experts: E } = shape;

  // Launch overhead: one pass with n empty (zero-workgroup, indirect) dispatches.
  const emptyArgs = storageBuffer(dev, 64, GPUBufferUsage.INDIRECT);
  const idle = new ExpertFfnBank(ctx, { ...shape, dFf: DEFAULT_TILE.tn, dModel: DEFAULT_TILE.tn }, 1, 1);
  // In the interleaved rounds below (with the FFN points), so that load drifts reach it alike.
  const launchEntries: RoundEntry[] = plan.launch.map((n) => ({
    key: `launch:${n}`,
    encode: (enc, tw) =>
      pass(enc, tw, (p) => {
        for (let i = 0; i < n / 2; i++) idle.encodeIndirect(p, 0, emptyArgs, 0);
      }),
  }));

  // Expert FFN (ffnRoundEntries) in interleaved rounds (every token count once per round,
  // plus the validation's layer points when calibrateAndValidate asks for them), so that load
  // from other processes falls on all points alike.
  // The layer's own bank when validating alongside (same buffers, same weights as the layer runs).
  const ownBank = !opts.ffnBank || opts.ffnBank.capacity < Math.max(...plan.ffnTokens);
  const bank = ownBank ? new ExpertFfnBank(ctx, shape, E, Math.max(...plan.ffnTokens)) : opts.ffnBank!;
  const ffnArgs = storageBuffer(dev, E * 24, GPUBufferUsage.INDIRECT);
  const ffnEntries = ffnRoundEntries(dev, shape, bank, ffnArgs, plan.ffnTokens);
  const alongside = opts.alongside ?? [];
  const ffnReps = opts.reps ?? (quick ? 12 : 16);
  const roundSamples = await runRounds(
    timer,
    [...launchEntries, ...ffnEntries, ...alongside],
    ffnReps,
    warmup,
    (r, n) => tickN(plan.ffnTokens.length / n, `expert_ffn${alongside.length ? " + layer" : ""} round ${r}/${n}`),
  );
  opts.onAlongside?.(new Map(alongside.map((a) => [a.key, roundSamples.get(a.key)!])));
  idle.destroy();
  emptyArgs.destroy();
  const launchPts = plan.launch.map((n) => point(n, summarize(roundSamples.get(`launch:${n}`)!), { dispatches: n }));
  for (const n of plan.launch) tick(`launch ${n}`);
  const launchFit = fitAffine(launchPts);
  const passNs = launchFit.fixedNs;
  const ffnPts: Array<CalPoint & { tokens: number }> = [];
  for (const t of plan.ffnTokens)
    ffnPts.push({
      ...point(ffnFlops(t, d, f, act), perCall(summarize(roundSamples.get(`ffn:${t}`)!), passNs), {
        tokens: t,
        d_model: d,
        d_ff: f,
        act,
        dtype,
        experts_per_pass: FFN_GROUP,
      }),
      tokens: t,
    });
  if (ownBank) bank.destroy();
  ffnArgs.destroy();

  const m: Measure = { dev, timer, reps, warmup, tick, shape, passNs };
  const gatingPts = await measureGating(ctx, m, plan.gatingTokens);
  const { shufflePts, combinePts } = await measureShuffles(ctx, m, plan.shuffleTokens);
  const { d2dPts, h2dPts, d2hPts } = await measureCopies(ctx, m, plan.copyBytes);
  const mmPts = await measureMatmuls(ctx, m, plan.matmulSizes);
  timer.destroy();

  const curve = (unit: OpCurve["unit"], points: ProfilePoint[], fit = fitPiecewise(points)): OpCurve => ({
    unit,
    dtype,
    points,
    fit,
  });
  const extra = (unit: ExtraCurve["unit"], points: ProfilePoint[], fit: ExtraCurve["fit"]): ExtraCurve => ({
    unit,
    points,
    fit,
  });
  return {
    format: "moesim-profile/v1",
    adapter: ctx.info,
    createdAt: new Date().toISOString(),
    sweep: {
      quick,
      reps,
      ffnReps,
      warmup,
      rounds: alongside.length ? "expert_ffn and layer points interleaved" : "expert_ffn points interleaved",
      lpNumThreads: process.env.LP_NUM_THREADS ?? null,
      hostCpus: availableParallelism(),
      nice: timingNice,
      timing: timer.method,
      fitStatistic: fitStat,
      statistic: statisticNote(fitStat),
      layer: shape,
      ffnTile: DEFAULT_TILE,
      plan,
    },
    ops: {
      expert_ffn: curve(
        "flops",
        ffnPts.map(({ tokens: _t, ...p }) => p),
        fitTiles(ffnPts, DEFAULT_TILE.tm, (t) => ffnFlops(t, d, f, act)),
      ),
      gating: curve("tokens", gatingPts),
      shuffle: curve("bytes", shufflePts),
      copy_d2d: curve("bytes", d2dPts),
      copy_h2d: curve("bytes", h2dPts),
      copy_d2h: curve("bytes", d2hPts),
      matmul: curve("flops", mmPts),
    },
    extraOps: {
      combine: extra("bytes", combinePts, fitPiecewise(combinePts)),
      launch: extra("dispatches", launchPts, launchFit),
    },
    ffnTileTokens: DEFAULT_TILE.tm,
    layer: shape,
  };
}
