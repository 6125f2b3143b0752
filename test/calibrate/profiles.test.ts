/**
 * The stored profiles (profiles/*.json, measured by `moesim calibrate --validate` on lavapipe here
 * and on an NVIDIA H200 through Dawn/Vulkan): each loads through the schema `moesim run` uses, and
 * today's predictor still gives, for every validation point, the prediction recorded beside it when
 * it was measured — so a change to the predictor or the fit evaluation that would silently move
 * what a stored profile predicts fails here.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadProfile } from "../../src/calibrate/load.js";
import { predictLayerNs } from "../../src/calibrate/predict.js";
import { expertCounts, routingSample } from "../../src/calibrate/routing.js";
import type { ValidationResult } from "../../src/calibrate/validate.js";

const dir = join(import.meta.dirname, "../../profiles");
const profiles = readdirSync(dir).filter((f) => /^[a-z0-9-]+\.json$/.test(f));

describe("stored calibration profiles", () => {
  it("include lavapipe and a real GPU", () => {
    expect(profiles).toEqual(expect.arrayContaining(["lavapipe.json", "h200.json"]));
  });

  for (const f of profiles) {
    it(`${f}: loads and reproduces its recorded validation predictions`, () => {
      const profile = loadProfile(join(dir, f));
      const v = JSON.parse(
        readFileSync(join(dir, f.replace(/\.json$/, ".validation.json")), "utf8"),
      ) as ValidationResult;
      expect(v.layer).toEqual(profile.layer);
      const sample = routingSample(v.layer.experts, v.layer.topK);
      expect(v.routing).toBe(sample.source);
      expect(v.points.length).toBeGreaterThanOrEqual(9);
      for (const p of v.points) {
        const pred = predictLayerNs(profile, v.layer, expertCounts(sample, p.tokens));
        expect(Math.abs(pred.totalNs / 1e3 - p.predicted_us), `${p.tokens} tokens`).toBeLessThanOrEqual(0.051);
        expect(p.error).toBeCloseTo((p.predicted_us - p.measured_us) / p.measured_us, 3);
      }
      // What docs/calibration.md states for each: median |error| of the layer prediction.
      expect(v.median_abs_error).toBeLessThanOrEqual(f === "h200.json" ? 0.03 : 0.1);
    });
  }

  it("h200: the expert FFN is a fixed ~0.1 ms per call, the same order as PyTorch eager on that GPU", () => {
    const profile = loadProfile(join(dir, "h200.json"));
    expect(profile.adapter.vendor).toBe("nvidia");
    expect(profile.adapter.isFallbackAdapter).toBe(false);
    const torch = JSON.parse(readFileSync(join(dir, "h200.torch-ffn.json"), "utf8")) as {
      device: string;
      points: { d_model: number; d_ff: number; dtype: string; tokens: number; min_us: number }[];
    };
    expect(torch.device).toBe("NVIDIA H200");
    const same = torch.points.filter(
      (p) => p.d_model === 512 && p.d_ff === 1024 && p.dtype === "float32" && p.tokens <= 512,
    );
    expect(same.length).toBeGreaterThanOrEqual(4);
    const sample = routingSample(profile.layer!.experts, profile.layer!.topK);
    const oneExpert = predictLayerNs(profile, profile.layer!, expertCounts(sample, 1)).parts.ffnNs / 2 / 1e3;
    for (const p of same) {
      expect(oneExpert / p.min_us, `${p.tokens} tokens`).toBeGreaterThan(0.8);
      expect(oneExpert / p.min_us, `${p.tokens} tokens`).toBeLessThan(1.5);
    }
  });
});
