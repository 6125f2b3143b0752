import { describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CalibratedCostModel, RooflineCostModel, expertFfnFlops, type CostModel } from "../../src/hardware/cost.js";
import { loadProfile } from "../../src/hardware/profile-schema.js";
import { H100_SXM5_80GB } from "../../src/hardware/presets.js";
import { UserError } from "../../src/util/errors.js";
import { profile } from "./profile-fixture.js";

const gpu = H100_SXM5_80GB;

describe("RooflineCostModel", () => {
  const m = new RooflineCostModel(gpu, { computeEfficiency: 0.5, memoryEfficiency: 0.5, launchNs: 1000 });
  it("compute-bound ops take FLOPs / (peak x efficiency) + launch", () => {
    const flops = 989e12; // one second at peak
    expect(m.timeNs({ kind: "generic", flops, bytes: 1, dtype: "bf16" })).toBe(2e9 + 1000);
  });
  it("memory-bound ops take bytes / (HBM x efficiency) + launch", () => {
    expect(m.timeNs({ kind: "generic", flops: 1, bytes: 3350e9, dtype: "bf16" })).toBe(2e9 + 1000);
    expect(m.timeNs({ kind: "shuffle", bytes: 3350e6 })).toBe(4e6 + 1000); // read + write
  });
  it("expert FFN: SwiGLU has 3 matmuls, others 2; 1 token is weight-bound, many tokens compute-bound", () => {
    expect(expertFfnFlops(10, 1024, 4096, "swiglu")).toBe(10 * 1024 * 4096 * 6);
    expect(expertFfnFlops(10, 1024, 4096, "gelu")).toBe(10 * 1024 * 4096 * 4);
    const one = m.timeNs({
      kind: "expert_ffn",
      tokens: 1,
      dModel: 4096,
      dFf: 14336,
      activation: "swiglu",
      dtype: "bf16",
    });
    const weights = 4096 * 14336 * 3 * 2;
    expect(one).toBeGreaterThanOrEqual(Math.ceil((weights / (3350e9 * 0.5)) * 1e9) + 1000);
    const big = m.timeNs({
      kind: "expert_ffn",
      tokens: 65536,
      dModel: 4096,
      dFf: 14336,
      activation: "swiglu",
      dtype: "bf16",
    });
    expect(big).toBe(Math.ceil((expertFfnFlops(65536, 4096, 14336, "swiglu") / (989e12 * 0.5)) * 1e9 - 1e-6) + 1000);
  });
  it("copies use the PCIe rates given", () => {
    const c = new RooflineCostModel(gpu, { h2dBytesPerS: 50e9, launchNs: 0 });
    expect(c.timeNs({ kind: "copy", bytes: 50e9, direction: "h2d" })).toBe(1e9);
  });
});

describe("CalibratedCostModel", () => {
  const fallback: CostModel = { name: "const", timeNs: () => 7 };
  const m = new CalibratedCostModel(
    profile({
      expert_ffn: {
        unit: "flops",
        points: [],
        fit: {
          kind: "piecewise-linear",
          knots: [
            [0, 100],
            [1e9, 1100],
          ],
        },
      },
      copy_h2d: { unit: "bytes", points: [], fit: { kind: "affine", fixedNs: 500, ratePerS: 1e9 } },
      matmul: { unit: "flops", points: [], fit: { kind: "affine", fixedNs: 0, ratePerS: 1e12 } },
    }),
    fallback,
  );
  it("maps ops to curves with the agreed x", () => {
    // x = FLOPs = 1 * 1000 * 1000 * 2 * 2 = 4e6 -> 100 + 4e6 / 1e9 * 1000 = 104
    expect(
      m.timeNs({ kind: "expert_ffn", tokens: 1, dModel: 1000, dFf: 1000, activation: "relu", dtype: "fp16" }),
    ).toBe(104);
    expect(m.timeNs({ kind: "copy", bytes: 1000, direction: "h2d" })).toBe(1500);
    expect(m.timeNs({ kind: "generic", flops: 1e6, bytes: 0, dtype: "fp32" })).toBe(1000);
  });
  it("falls back for ops without a curve", () => {
    expect(m.timeNs({ kind: "copy", bytes: 1000, direction: "d2h" })).toBe(7);
    expect(m.timeNs({ kind: "gating", tokens: 8, dModel: 64, experts: 8, topK: 2, dtype: "fp32" })).toBe(7);
    expect(m.timeNs({ kind: "shuffle", bytes: 8 })).toBe(7);
  });
});

describe("loadProfile", () => {
  const dir = mkdtempSync(join(tmpdir(), "moesim-profile-"));
  it("reads a valid profile", () => {
    const p = join(dir, "ok.json");
    writeFileSync(
      p,
      JSON.stringify(
        profile({
          gating: {
            unit: "tokens",
            points: [{ x: 1, medianNs: 5, reps: 3 }],
            fit: { kind: "affine", fixedNs: 5, ratePerS: 1e6 },
          },
        }),
      ),
    );
    expect(loadProfile(p).ops.gating?.fit.kind).toBe("affine");
  });
  it("names the file and the key on a bad profile", () => {
    const p = join(dir, "bad.json");
    writeFileSync(
      p,
      JSON.stringify(
        profile({ gating: { unit: "tokens", points: [], fit: { kind: "affine", fixedNs: 5, ratePerS: -1 } } }),
      ),
    );
    expect(() => loadProfile(p)).toThrow(UserError);
    expect(() => loadProfile(p)).toThrow(
      new RegExp(
        `${p.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}: invalid cost profile at key ops\\.gating\\.fit\\.ratePerS`,
      ),
    );
    const q = join(dir, "notjson.json");
    writeFileSync(q, "{");
    expect(() => loadProfile(q)).toThrow(/not valid JSON/);
    expect(() => loadProfile(join(dir, "missing.json"))).toThrow(/ENOENT/);
    const r = join(dir, "unknownop.json");
    writeFileSync(r, JSON.stringify({ ...profile({}), ops: { attention: {} } }));
    expect(() => loadProfile(r)).toThrow(/key ops/);
  });
});
