/**
 * The calibrated cost model is never faster than the GPU it runs on: each op's time is at least its
 * floor at the preset's peak FLOP/s (for the op's dtype) and HBM bandwidth, outside the shapes a
 * profile measured it predicts from a roofline fitted on those shapes, and it says which ops it
 * extrapolated and how far.
 */
import { readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CalibratedCostModel, RooflineCostModel, extrapolationNotes } from "../../src/hardware/cost.js";
import { fitMeasuredRoofline, opWork, peakFloorNs, type CostOp } from "../../src/hardware/cost-shape.js";
import { DTYPES } from "../../src/hardware/devices.js";
import { H200_SXM_141GB, NODE_PRESETS } from "../../src/hardware/presets.js";
import { loadProfile } from "../../src/hardware/profile-schema.js";
import { parseScenario } from "../../src/scenario/load.js";
import { runScenario } from "../../src/scenario/run.js";
import { profile } from "./profile-fixture.js";

const ROOT = resolve(import.meta.dirname, "..", "..");
const PROFILES = join(ROOT, "profiles");
const shipped = readdirSync(PROFILES).filter((f) => /^[a-z0-9-]+\.json$/.test(f));

const ACTS = ["swiglu", "gelu", "relu"] as const;
const opArb: fc.Arbitrary<CostOp> = fc.oneof(
  fc.record({
    kind: fc.constant("expert_ffn" as const),
    tokens: fc.integer({ min: 1, max: 65536 }),
    dModel: fc.integer({ min: 16, max: 16384 }),
    dFf: fc.integer({ min: 16, max: 32768 }),
    activation: fc.constantFrom(...ACTS),
    dtype: fc.constantFrom(...DTYPES),
  }),
  fc.record({
    kind: fc.constant("gating" as const),
    tokens: fc.integer({ min: 1, max: 65536 }),
    dModel: fc.integer({ min: 16, max: 16384 }),
    experts: fc.integer({ min: 2, max: 512 }),
    topK: fc.integer({ min: 1, max: 8 }),
    dtype: fc.constantFrom(...DTYPES),
  }),
  fc.record({
    kind: fc.constant("generic" as const),
    flops: fc.double({ min: 0, max: 1e15, noNaN: true }),
    bytes: fc.double({ min: 0, max: 1e11, noNaN: true }),
    dtype: fc.constantFrom(...DTYPES),
  }),
  fc.record({ kind: fc.constant("shuffle" as const), bytes: fc.integer({ min: 0, max: 2 ** 34 }) }),
  fc.record({
    kind: fc.constant("copy" as const),
    bytes: fc.integer({ min: 0, max: 2 ** 34 }),
    direction: fc.constantFrom("h2d" as const, "d2h" as const, "d2d" as const),
  }),
);

describe("shipped profiles are bounded by the preset's peak figures", () => {
  it("ships the profiles this test covers", () => {
    expect(shipped).toEqual(expect.arrayContaining(["h200.json", "lavapipe.json"]));
  });
  const presets = Object.values(NODE_PRESETS);
  for (const f of shipped) {
    it(`${f}: no op, at any shape and token count, beats max(FLOPs / peak, bytes / HBM) of any preset's GPU`, () => {
      const profile = loadProfile(join(PROFILES, f));
      const models = presets.map((n) => new CalibratedCostModel(profile, new RooflineCostModel(n.gpu)));
      fc.assert(
        fc.property(fc.integer({ min: 0, max: presets.length - 1 }), opArb, (i, op) => {
          const t = models[i].timeNs(op);
          expect(Number.isInteger(t)).toBe(true);
          expect(t).toBeGreaterThanOrEqual(0);
          expect(t).toBeGreaterThanOrEqual(peakFloorNs(presets[i].gpu, opWork(op)) - 1e-6);
        }),
        { numRuns: 400, seed: 18 },
      );
    });
  }
});

describe("measured roofline fit", () => {
  it("recovers fixed cost, compute and memory rates from shapes spanning memory- to compute-bound", () => {
    const truth = { fixedNs: 5000, computePerS: 2e13, memoryPerS: 5e11 };
    const pts = [];
    for (const tokens of [1, 4, 16, 64, 256, 1024])
      for (const [dModel, dFf] of [
        [512, 1024],
        [2048, 1408],
      ]) {
        const w = opWork({ kind: "expert_ffn", tokens, dModel, dFf, activation: "swiglu", dtype: "fp32" });
        const ns = truth.fixedNs + Math.max(w.flops / truth.computePerS, w.bytes / truth.memoryPerS) * 1e9;
        pts.push({ w, ns });
      }
    const fit = fitMeasuredRoofline(pts)!;
    expect(fit.medianAbsError).toBeLessThan(0.02);
    expect(fit.computePerS / truth.computePerS).toBeGreaterThan(0.95);
    expect(fit.computePerS / truth.computePerS).toBeLessThan(1.05);
    expect(fit.memoryPerS / truth.memoryPerS).toBeGreaterThan(0.95);
    expect(fit.memoryPerS / truth.memoryPerS).toBeLessThan(1.05);
  });
});

describe("CalibratedCostModel: in range, extrapolated, floored", () => {
  // one expert shape measured, 32..256 tokens, ~flat: 100 us whatever the tokens (a launch-bound kernel)
  const shape = (tokens: number) => ({ tokens, d_model: 512, d_ff: 1024, act: "swiglu", dtype: "f32" });
  const xs = [32, 64, 128, 256].map((t) => t * 512 * 1024 * 6);
  const p = profile({
    expert_ffn: {
      unit: "flops",
      dtype: "f32",
      points: xs.map((x, i) => ({ x, shape: shape([32, 64, 128, 256][i]), medianNs: 100_000 + i * 10, reps: 3 })),
      fit: { kind: "piecewise-linear", knots: xs.map((x, i) => [x, 100_000 + i * 10] as [number, number]) },
    },
  });
  const gpu = H200_SXM_141GB;
  const m = new CalibratedCostModel(p, new RooflineCostModel(gpu));
  const ffn = (tokens: number, dModel = 512, dFf = 1024, dtype: "fp32" | "bf16" = "fp32"): CostOp => ({
    kind: "expert_ffn",
    tokens,
    dModel,
    dFf,
    activation: "swiglu",
    dtype,
  });

  it("reads the curve within the measured shapes and records nothing", () => {
    expect(m.timeNs(ffn(64))).toBe(100_010);
    expect(m.timeNs(ffn(100))).toBe(Math.ceil(100_010 + (36 / 64) * 10 - 1e-6));
    expect(m.extrapolations()).toEqual([]);
  });

  it("a Mixtral-sized expert is never faster than bf16 peak, and is recorded with how far it went", () => {
    const op = ffn(1024, 4096, 14336, "bf16");
    const floor = peakFloorNs(gpu, opWork(op));
    // the old curve, extrapolated on FLOPs alone, said ~0.1 ms for 180 GFLOP: faster than the H200
    const t = m.timeNs(op);
    expect(t).toBeGreaterThanOrEqual(floor);
    expect(t).toBeGreaterThan(100_000 + floor * 0.99); // the measured fixed cost stays on top
    const [e] = m.extrapolations();
    expect(e.op).toBe("expert_ffn");
    expect(e.dims.d_ff).toEqual({ measured: [1024, 1024], used: [14336, 14336] });
    expect(e.dims.tokens).toEqual({ measured: [32, 256], used: [1024, 1024] });
    expect(e.factor).toBe(14);
    expect(e.unmeasured.dtype).toEqual({ measured: ["fp32"], used: ["bf16"] });
    const [note] = extrapolationNotes([e]);
    expect(note).toMatch(/^cost profile: expert_ffn used outside its measured shapes on 1 shape\(s\), up to 14x: /);
    expect(note).toContain("d_model 4096 (measured 512..512)");
    expect(note).toContain("dtype bf16 (measured fp32)");
  });

  it("a 1-token call of a big expert is bound by reading its weights at HBM peak", () => {
    const op = ffn(1, 7168, 2048, "bf16");
    const weights = 7168 * 2048 * 3 * 2;
    expect(m.timeNs(op)).toBeGreaterThanOrEqual(Math.ceil((weights / gpu.hbmBytesPerS) * 1e9));
  });
});

describe("Mixtral-8x7B prefill on hgx-h200 with profiles/h200.json", () => {
  const yaml = (profileLine: string): string =>
    `name: mixtral-prefill\nseed: 1\ncluster: { preset: hgx-h200, nodes: 1${profileLine} }\n` +
    `model: { preset: mixtral-8x7b }\n` +
    `trace: { synthetic: { zipf: 1.0, sequences: 2, tokens_per_sequence: 2048 } }\n` +
    `workload: { phase: prefill, batching: { kind: static, batch_size: 1 }, max_steps: 1 }\n` +
    `policies: { gating: { policy: dynamic }, placement: { policy: greedy } }\n`;
  const at = join(ROOT, "scenarios", "inline.yaml");

  it("expert compute stays within the roofline bounds, and the summary names the extrapolated ops", async () => {
    const cal = await runScenario(parseScenario(yaml(", profile: ../profiles/h200.json"), at), { files: false });
    const roof = await runScenario(parseScenario(yaml(""), at), { files: false });
    const s = cal.summary;
    expect(s.tokens).toBe(2048);
    expect(s.cluster.cost_model).toContain("bounded by H200-SXM-141GB peak");
    const perLayer = (x: typeof s) => x.phase_breakdown_ms.expert_compute / 32;
    // the busiest GPU's expert at peak bf16 FLOP/s: a step is never faster than that
    const gpu = H200_SXM_141GB;
    const maxRows = Math.max(...cal.result.steps.map((st) => st.max_gpu_share)) * 2048 * 2;
    const floorMs = ((maxRows * 4096 * 14336 * 6) / gpu.flopsPerS.bf16) * 1e3;
    expect(perLayer(s)).toBeGreaterThanOrEqual(floorMs * 0.99);
    expect(perLayer(s)).toBeGreaterThan(0.3); // was ~0.1 ms: ~1,800 TFLOP/s
    expect(perLayer(s)).toBeLessThan(perLayer(roof.summary) * 1.5);
    const ops = s.extrapolated.map((e) => e.op);
    expect(ops).toEqual(expect.arrayContaining(["expert_ffn", "matmul"]));
    const ffn = s.extrapolated.find((e) => e.op === "expert_ffn")!;
    expect(ffn.dims.d_model.used).toEqual([4096, 4096]);
    expect(ffn.factor).toBeGreaterThanOrEqual(14);
    expect(s.notes.some((n) => n.startsWith("cost profile: expert_ffn used outside its measured shapes"))).toBe(true);
    expect(roof.summary.extrapolated).toEqual([]);
  });
});
