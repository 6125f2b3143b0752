import { describe, expect, it } from "vitest";
import { transferPlan, transferValidate } from "../../src/calibrate/transfer.js";
import { useTestGpu } from "./adapter.js";

const gpu = useTestGpu();

describe("shape transfer on the local adapter (quick plan)", () => {
  it(
    "leave-one-shape-out over 4 expert shapes and a layer at an unfitted shape: median |error| <= 10%, max <= 25%",
    // The statistic is the median of the repetitions, and on a software adapter the timer is the
    // driver threads' CPU time, which other processes' load does not stretch. It still moves with
    // what they do to the shared caches and memory (per repetition up to +-15% on a shared 2-core
    // VM; docs/calibration.md), and the measured per-call fixed cost moved between 28 and 164 us
    // from run to run: the first attempt missed the layer's 10% median in about 3 of 10 runs. Up to two retries
    // (as calibrate.test.ts) re-measure everything; the bounds hold on the final attempt as they
    // are, so a wrong model still fails all three.
    { timeout: 300_000, retry: 2 },
    async (t) => {
      const ctx = gpu.ctx;
      if (!ctx) return t.skip(gpu.reason);
      const plan = transferPlan(true);
      expect(plan.shapes.length).toBeGreaterThanOrEqual(4);
      const r = await transferValidate(ctx, { plan });
      if (ctx.software) expect(r.timing).toBe("driver-cpu-time");
      const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
      const m = r.in_sample.model;
      console.log(
        `timing ${r.timing}; in-sample fit: fixed ${(m.fixedNs / 1e3).toFixed(0)} us, ` +
          `${(m.computePerS / 1e9).toFixed(2)} GFLOP/s, re-reads beyond ${m.cacheBytes} B at ` +
          `${m.spillPerS ? (m.spillPerS / 1e9).toFixed(3) + " GB/s" : "-"}, memory ` +
          `${m.memoryPerS ? (m.memoryPerS / 1e9).toFixed(1) + " GB/s" : "-"}; ` +
          `median ${pct(r.in_sample.median_abs_error)}, max ${pct(r.in_sample.max_abs_error)}`,
      );
      for (const f of r.held_out.folds)
        console.log(`held out ${f.held_out}: ${f.errors.map((e) => `${e.tokens}:${pct(e.error)}`).join(" ")}`);
      console.log(`held-out median ${pct(r.held_out.median_abs_error)}, max ${pct(r.held_out.max_abs_error)}`);
      for (const p of r.layer.points)
        console.log(
          `layer 384x768 ${p.tokens} tokens: measured ${p.measured_us} us, predicted ${p.predicted_us} us, ${pct(p.error)}`,
        );

      // every shape was held out once, and each fold's model was fitted without it
      expect(r.held_out.folds.map((f) => f.held_out).sort()).toEqual(
        plan.shapes.map((s) => `${s.dModel}x${s.dFf}`).sort(),
      );
      for (const f of r.held_out.folds)
        expect(f.model.fittedOn.map((s) => `${s.d_model}x${s.d_ff}`)).not.toContain(f.held_out);
      // tile padding is in the model: 1 and 32 tokens do the same padded work (the memory term,
      // when the points bind it, counts the real tokens' activations), 33 tokens two tiles
      const op = { dModel: 512, dFf: 1024, activation: "swiglu" as const, dtype: "fp32" as const };
      const { tiledFfnNs, tiledFfnWork } = await import("../../src/hardware/cost-shape.js");
      const w = (tokens: number) => tiledFfnWork(m, { ...op, tokens });
      expect(w(1).paddedFlops).toBe(w(32).paddedFlops);
      expect(w(33).paddedFlops).toBe(2 * w(32).paddedFlops);
      expect(tiledFfnNs(m, { ...op, tokens: 33 })).toBeGreaterThan(tiledFfnNs(m, { ...op, tokens: 32 }));

      expect(r.held_out.median_abs_error).toBeLessThanOrEqual(0.1);
      expect(r.held_out.max_abs_error).toBeLessThanOrEqual(0.25);
      expect(r.layer.median_abs_error).toBeLessThanOrEqual(0.1);
      expect(r.layer.max_abs_error).toBeLessThanOrEqual(0.25);
    },
  );
});
