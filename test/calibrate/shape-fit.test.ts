/** The tiled FFN model, its fit and leave-one-shape-out, and the cost model's use of it (no GPU needed). */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fitTiledFfn, leaveOneShapeOut, type FfnShapePoint } from "../../src/calibrate/shape-fit.js";
import { CalibratedCostModel, RooflineCostModel, type CostOp } from "../../src/hardware/cost.js";
import { opWork, peakFloorNs, tiledFfnNs, tiledFfnWork, type TiledFfnModel } from "../../src/hardware/cost-shape.js";
import { H200_SXM_141GB } from "../../src/hardware/presets.js";
import { profile } from "../hardware/profile-fixture.js";

const geo = { tileTokens: 32, tileCols: 64, cacheBytes: 48 * 1024 };
const truth: TiledFfnModel = {
  kind: "tiled-ffn",
  dtype: "fp32",
  ...geo,
  fixedNs: 500_000,
  computePerS: 4e9,
  spillPerS: 1.5e8,
  memoryPerS: null,
  fittedOn: [],
  medianAbsError: 0,
  maxAbsError: 0,
};
const shapes = [
  [256, 512],
  [512, 1024],
  [2048, 256],
  [1024, 1024],
];
const points = (m: TiledFfnModel): FfnShapePoint[] =>
  shapes.flatMap(([d, f]) =>
    [1, 32, 64, 128].map((tokens) => {
      const p = { dModel: d, dFf: f, act: "swiglu" as const, dtype: "fp32" as const, tokens };
      return { ...p, ns: tiledFfnNs(m, { ...p, activation: "swiglu" }) };
    }),
  );

describe("tiled FFN model", () => {
  it("pads tokens to whole row tiles: 1..32 tokens cost one tile, 33 two", () => {
    const op = { dModel: 512, dFf: 1024, activation: "swiglu" as const, dtype: "fp32" as const };
    const w1 = tiledFfnWork(geo, { ...op, tokens: 1 });
    expect(w1.paddedFlops).toBe(32 * 512 * 1024 * 6);
    expect(tiledFfnWork(geo, { ...op, tokens: 32 }).paddedFlops).toBe(w1.paddedFlops);
    expect(tiledFfnWork(geo, { ...op, tokens: 33 }).paddedFlops).toBe(2 * w1.paddedFlops);
    // the input row tile (32 x 512 x 4 B = 64 KiB) exceeds 48 KiB by 16 KiB, re-read by each of
    // the 16 column tiles of the up projection; the down projection's (32 x 1024 x 4 B) by 80 KiB, 8 times
    expect(w1.spillBytes).toBe(16 * 16 * 1024 + 8 * 80 * 1024);
  });

  it("reads the weights as stored: FP8 blocks with their float32 scales (hand count), as opWork does", () => {
    const fp8 = 1 + 4 / (128 * 128);
    const op = { tokens: 1, dModel: 7168, dFf: 2048, activation: "swiglu" as const, dtype: "fp8" as const };
    const w = tiledFfnWork(geo, { ...op, weightBytesPerParam: fp8 });
    // 3 matrices of 7168 x 2048 at 1 + 4/16384 bytes, and 1 token in and out plus its hidden row at 1 byte
    expect(w.memoryBytes).toBeCloseTo(3 * 7168 * 2048 * fp8 + (2 * 7168 + 2 * 2048), 3);
    expect(w.memoryBytes).toBe(opWork({ kind: "expert_ffn", ...op, weightBytesPerParam: fp8 }).bytes);
  });

  it("recovers the constants it was generated with, and predicts a held-out shape exactly", () => {
    const m = fitTiledFfn(points(truth), geo);
    expect(m.fixedNs / truth.fixedNs).toBeCloseTo(1, 3);
    expect(m.computePerS / truth.computePerS).toBeCloseTo(1, 3);
    expect(m.spillPerS! / truth.spillPerS!).toBeCloseTo(1, 3);
    expect(m.memoryPerS).toBeNull();
    expect(m.fittedOn.map((s) => `${s.d_model}x${s.d_ff}`)).toEqual(shapes.map(([d, f]) => `${d}x${f}`));
    const loso = leaveOneShapeOut(points(truth), geo);
    expect(loso.folds).toHaveLength(4);
    expect(loso.max_abs_error).toBeLessThan(1e-3);
  });

  it("finds a memory rate where 1-token calls of big experts are bound by their weights", () => {
    const gpuLike: TiledFfnModel = { ...truth, fixedNs: 5_000, computePerS: 5e13, spillPerS: null, memoryPerS: 2e12 };
    const m = fitTiledFfn(points(gpuLike), { ...geo, cacheBytes: 0 });
    expect(m.memoryPerS).not.toBeNull();
    expect(m.memoryPerS! / 2e12).toBeCloseTo(1, 1);
    expect(m.maxAbsError).toBeLessThan(0.02);
  });

  it("a wrong model fails the held-out check: the same points with 2048x256 twice as slow", () => {
    const pts = points(truth).map((p) => (p.dModel === 2048 ? { ...p, ns: 2 * p.ns } : p));
    expect(leaveOneShapeOut(pts, geo).max_abs_error).toBeGreaterThan(0.25);
  });
});

describe("CalibratedCostModel with a profile's tiled FFN model", () => {
  const shape = (tokens: number) => ({ tokens, d_model: 512, d_ff: 1024, act: "swiglu", dtype: "f32" });
  const xs = [32, 64].map((t) => t * 512 * 1024 * 6);
  const p = {
    ...profile({
      expert_ffn: {
        unit: "flops",
        dtype: "f32",
        points: xs.map((x, i) => ({ x, shape: shape([32, 64][i]), medianNs: 9_000_000 * (i + 1), reps: 3 })),
        fit: { kind: "piecewise-linear", knots: xs.map((x, i) => [x, 9_000_000 * (i + 1)] as [number, number]) },
      },
    }),
    shapeModels: [{ ...truth, fittedOn: [{ d_model: 512, d_ff: 1024, act: "swiglu" as const, tokens: [32, 64] }] }],
  };
  const gpu = H200_SXM_141GB;
  const m = new CalibratedCostModel(p, new RooflineCostModel(gpu));
  const ffn = (tokens: number, dModel: number, dFf: number, dtype: "fp32" | "bf16" = "fp32"): CostOp => ({
    kind: "expert_ffn",
    tokens,
    dModel,
    dFf,
    activation: "swiglu",
    dtype,
  });

  it("reads the curve in range and the tiled model outside it, and names it in the extrapolations", () => {
    expect(m.timeNs(ffn(64, 512, 1024))).toBe(18_000_000);
    const op = ffn(1, 2048, 256);
    expect(m.timeNs(op)).toBe(Math.ceil(tiledFfnNs(truth, { ...op, activation: "swiglu" } as never) - 1e-6));
    const x = m.extrapolations().find((e) => e.op === "expert_ffn")!;
    expect(x.model).toMatch(/^tiled FFN model \(fp32: fitted on 1 shapes/);
  });

  it("never beats the GPU's peak, even with a model faster than the hardware", () => {
    const fastProfile = { ...p, shapeModels: [{ ...truth, fixedNs: 0, computePerS: 1e18, spillPerS: null }] };
    const fast = new CalibratedCostModel(fastProfile, new RooflineCostModel(gpu));
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8192 }),
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 1, max: 256 }),
        (tokens, d, f) => {
          const op = ffn(tokens, d * 64, f * 64);
          expect(fast.timeNs(op)).toBeGreaterThanOrEqual(Math.floor(peakFloorNs(gpu, opWork(op))));
        },
      ),
      { numRuns: 300, seed: 18 },
    );
  });
});
