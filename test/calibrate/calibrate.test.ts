import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GpuContext } from "../../src/calibrate/gpu.js";
import { calibrate } from "../../src/calibrate/calibrate.js";
import { validate } from "../../src/calibrate/validate.js";
import { evaluateFit, PROFILE_OPS } from "../../src/hardware/profile.js";
import { getTestGpu } from "./adapter.js";

let ctx: GpuContext | null = null;
let reason = "";
beforeAll(async () => {
  ({ ctx, reason } = await getTestGpu());
}, 60_000);
afterAll(() => ctx?.device.destroy());

describe("quick calibration + MoE-layer validation on the local adapter", () => {
  it(
    "fits every op and predicts the real layer within 10% median, 25% max",
    async (t) => {
      if (!ctx) return t.skip(reason);
      const profile = await calibrate(ctx, { quick: true });
      expect(profile.format).toBe("moesim-profile/v1");
      for (const op of PROFILE_OPS) {
        const c = profile.ops[op];
        expect(c, op).toBeDefined();
        expect(c!.points.length).toBeGreaterThan(1);
        // fitted curves grow with size
        const xs = c!.points.map((p) => p.x).sort((a, b) => a - b);
        expect(evaluateFit(c!.fit, xs[xs.length - 1])).toBeGreaterThanOrEqual(evaluateFit(c!.fit, xs[0]));
      }
      const v = await validate(ctx, profile, { quick: true, tokens: [1, 4, 16, 64, 256] });
      for (const p of v.points)
        console.log(`layer ${p.tokens} tokens: measured ${p.measured_us} us, predicted ${p.predicted_us} us, error ${(p.error * 100).toFixed(1)}%`);
      console.log(`median |error| ${(v.median_abs_error * 100).toFixed(1)}%, max ${(v.max_abs_error * 100).toFixed(1)}%`);
      expect(v.median_abs_error).toBeLessThanOrEqual(0.1);
      expect(v.max_abs_error).toBeLessThanOrEqual(0.25);
    },
    300_000,
  );
});
