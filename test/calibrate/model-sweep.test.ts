import { describe, expect, it } from "vitest";
import { modelSweep } from "../../src/calibrate/model-sweep.js";
import { parseProfile } from "../../src/hardware/profile-schema.js";
import { getModelPreset } from "../../src/workload/model.js";
import { runCli } from "../cli-runner.js";
import { useTestGpu } from "./adapter.js";

const gpu = useTestGpu();

describe("calibrate --model on the local adapter", () => {
  it(
    "times a small preset's own shapes within a small budget, records them, and validates its layer",
    // Timed on a shared machine: up to two retries re-measure everything, as calibrate.test.ts.
    { timeout: 300_000, retry: 2 },
    async (t) => {
      const ctx = gpu.ctx;
      if (!ctx) return t.skip(gpu.reason);
      // qwen3-30b-a3b scaled down (d_model 512, d_ff 384, 16 experts; its top-8, heads and
      // activation): a small preset whose shapes lavapipe runs in seconds
      const base = getModelPreset("qwen3-30b-a3b");
      const spec = { ...base, name: "qwen3-30b-a3b-small", dModel: 512, dFf: 384, experts: 16 };
      const { profile, validation, notes } = await modelSweep(ctx, spec, { maxSeconds: 8, validate: true });
      console.log(notes.join("\n"));
      expect(parseProfile(JSON.parse(JSON.stringify(profile)), "model-sweep").format).toBe("moesim-profile/v1");
      const covers = profile.sweep.covers as {
        expert_ffn: Array<{ d_model: number; d_ff: number; act: string; dtype: string; tokens: number[] }>;
        gating: { experts: number; top_k: number };
        matmul: { k: number; n: number };
      };
      // the preset's own shapes, f16 beside f32 where the adapter has shader-f16
      expect(covers.expert_ffn.map((c) => c.dtype)).toEqual(ctx.hasF16 ? ["f32", "f16"] : ["f32"]);
      for (const c of covers.expert_ffn) {
        expect([c.d_model, c.d_ff, c.act]).toEqual([512, 384, "swiglu"]);
        expect(c.tokens.slice(0, 2)).toEqual([1, 32]);
      }
      expect(covers.gating).toMatchObject({ experts: 16, top_k: 8 });
      expect(covers.matmul).toMatchObject({ k: 512, n: base.heads * (base.headDim ?? 0) });
      for (const p of profile.ops.expert_ffn!.points) expect(p.shape).toMatchObject({ d_model: 512, d_ff: 384 });
      expect(profile.ops.expert_ffn!.dtype).toBe(ctx.hasF16 ? "f16" : "f32");
      const models = (profile as { shapeModels?: Array<{ dtype: string }> }).shapeModels!;
      expect(models.map((m) => m.dtype)).toEqual(ctx.hasF16 ? ["fp32", "fp16"] : ["fp32"]);
      // a budget this small scales the token counts down, and the notes say so
      expect(notes.some((n) => n.startsWith("token counts scaled down"))).toBe(true);
      expect(validation).toBeDefined();
      const v = validation!;
      for (const p of v.points)
        console.log(`layer ${p.tokens} tokens: measured ${p.measured_us} us, predicted ${p.predicted_us} us`);
      expect(v.points[0].tokens).toBe(1);
      expect(v.layer).toMatchObject({ dModel: 512, dFf: 384, experts: 16, topK: 8 });
      // An 8 s budget measures few token counts and repetitions: in CI (2026-12-06) the layer's
      // median error was 12.0%, 12.7% and 16.6% in three attempts, 5-15% by hand. This checks the
      // command end to end with a sanity bound (a wrong FFN model or a lost layer part misses it by
      // far); the 10% / 25% goal on held-out shapes is test/calibrate/transfer.test.ts's.
      expect(v.median_abs_error).toBeLessThanOrEqual(0.25);
      expect(v.max_abs_error).toBeLessThanOrEqual(0.4);
    },
  );
});

describe("calibrate --model: user errors before any GPU work", () => {
  it("an unknown preset, --max-seconds without --model, a bad budget and --model with --profile: one line, exit 2", async () => {
    for (const [args, msg] of [
      [["calibrate", "--model", "no-such-model", "--validate"], /unknown model preset 'no-such-model'/],
      [["calibrate", "--validate", "--max-seconds", "5"], /--max-seconds is the budget of --model/],
      [["calibrate", "--model", "olmoe-1b-7b", "--validate", "--max-seconds", "0"], /--max-seconds: expected/],
      [["calibrate", "--model", "olmoe-1b-7b", "--profile", "profiles/lavapipe.json", "--validate"], /not both/],
    ] as const) {
      const r = await runCli([...args]);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.err, args.join(" ")).toMatch(msg);
      expect(r.err.trim().split("\n")).toHaveLength(1);
    }
  });
});
