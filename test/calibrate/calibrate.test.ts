import { describe, expect, it } from "vitest";
import { calibrateAndValidate } from "../../src/calibrate/validate.js";
import { evaluateFit, PROFILE_OPS } from "../../src/hardware/profile.js";
import { useTestGpu } from "./adapter.js";

const gpu = useTestGpu();

describe("quick calibration + MoE-layer validation on the local adapter", () => {
  it(
    "fits every op and predicts the real layer within 10% median, 25% max",
    // A timing measurement: another process taking the CPU during the rounds (on a shared
    // 2-core machine) can spoil one attempt. Each retry measures everything afresh, and the bounds
    // stay as they are, so a wrong model still fails all three attempts.
    { timeout: 300_000, retry: 2 },
    async (t) => {
      const ctx = gpu.ctx;
      if (!ctx) return t.skip(gpu.reason);
      // The layer points run in the same interleaved rounds as the calibration's FFN points.
      const { profile, validation: v } = await calibrateAndValidate(ctx, { quick: true, tokens: [1, 4, 16, 64, 256] });
      expect(profile.format).toBe("moesim-profile/v1");
      for (const op of PROFILE_OPS) {
        const c = profile.ops[op];
        expect(c, op).toBeDefined();
        expect(c!.points.length).toBeGreaterThan(1);
        // fitted curves grow with size
        const xs = c!.points.map((p) => p.x).sort((a, b) => a - b);
        expect(evaluateFit(c!.fit, xs[xs.length - 1])).toBeGreaterThanOrEqual(evaluateFit(c!.fit, xs[0]));
      }
      const ffn = profile.ops.expert_ffn!.fit as { perTileNs?: number; fixedNs?: number };
      console.log(
        `expert_ffn: ${ffn.fixedNs} ns per call + ${ffn.perTileNs} ns per 32-token tile; pass ${profile.extraOps?.launch?.fit.kind === "affine" ? profile.extraOps.launch.fit.fixedNs : "?"} ns`,
      );
      for (const p of v.points)
        console.log(
          `layer ${p.tokens} tokens (${p.active_experts} experts, ${p.ffn_tiles} tiles): measured ${p.measured_us} us (median ${p.measured_median_us}), predicted ${p.predicted_us} us ${JSON.stringify(p.predicted_parts_us)}, error ${(p.error * 100).toFixed(1)}%`,
        );
      console.log(
        `median |error| ${(v.median_abs_error * 100).toFixed(1)}%, max ${(v.max_abs_error * 100).toFixed(1)}%`,
      );
      expect(v.median_abs_error).toBeLessThanOrEqual(0.1);
      expect(v.max_abs_error).toBeLessThanOrEqual(0.25);
    },
  );
});
