import { describe, expect, it } from "vitest";
import { batchOf, expectGolden, runFigure } from "./helpers.js";

describe("paper: load balancing, idle experts, MoE vs dense, breakdown, memory", () => {
  it("anti-correlation placement lowers max GPU share below greedy's on correlated routing", async () => {
    const pts = await runFigure("placement");
    const share = (pol: string) => pts.find((p) => p.summary.policies.placement === pol)!.summary.load;
    for (const p of ["contiguous", "greedy", "anti-correlation"])
      console.log(`${p}: max GPU share mean ${share(p).max_gpu_share_mean}, worst ${share(p).max_gpu_share_worst}`);
    expect(share("anti-correlation").max_gpu_share_mean).toBeLessThan(share("greedy").max_gpu_share_mean);
    expect(share("anti-correlation").max_gpu_share_worst).toBeLessThan(share("greedy").max_gpu_share_worst);
    expect(share("greedy").max_gpu_share_mean).toBeLessThan(share("contiguous").max_gpu_share_mean);
    expectGolden(
      "placement",
      pts.map((p) => ({
        placement: p.summary.policies.placement,
        ...p.summary.load,
        gpu_tokens: undefined,
        tokens_per_s: p.summary.tokens_per_s,
      })),
    );
  });

  it("inactive experts: most experts idle at small batches, fewer as the batch grows", async () => {
    const pts = await runFigure("inactive-experts");
    const rows = pts.map((p) => ({
      batch: batchOf(p),
      inactive: p.summary.inactive_experts_mean,
      experts: p.summary.trace.experts,
    }));
    console.table(rows);
    for (let i = 1; i < rows.length; i++) expect(rows[i].inactive).toBeLessThan(rows[i - 1].inactive);
    expect(rows[0].inactive / rows[0].experts).toBeGreaterThan(0.5);
    expect(rows.find((r) => r.batch === 16)!.inactive / 128).toBeGreaterThan(0.5);
    expectGolden("inactive-experts", rows);
  });

  it("MoE is slower than a FLOP-equivalent dense model", async () => {
    const pts = await runFigure("moe-vs-dense");
    const rows = pts.map((p) => ({
      model: p.summary.model,
      phase: p.summary.phase,
      moe_slowdown: p.summary.dense_baseline!.moe_slowdown,
    }));
    console.table(rows);
    for (const r of rows) expect(r.moe_slowdown).toBeGreaterThan(1);
    expectGolden("moe-vs-dense", rows);
  });

  it("latency breakdown: static gating's time goes to gating and expert compute; phases add up to the step", async () => {
    const pts = await runFigure("latency-breakdown");
    for (const p of pts) {
      const s = p.summary;
      const sum = Object.values(s.phase_breakdown_ms).reduce((a, b) => a + b, 0);
      const total = s.simulated_s * 1000;
      expect(Math.abs(sum - total) / total).toBeLessThan(1e-3);
    }
    const lm = (g: string) =>
      pts.find((p) => p.summary.model === "paper-lm-52b" && p.summary.policies.gating === g)!.summary
        .phase_breakdown_ms;
    console.log("LM static", lm("static"), "\nLM dynamic", lm("dynamic"));
    expect(lm("static").gating + lm("static").expert_compute).toBeGreaterThan(
      lm("dynamic").gating + lm("dynamic").expert_compute,
    );
    expectGolden(
      "latency-breakdown",
      pts.map((p) => ({ model: p.summary.model, gating: p.summary.policies.gating, ...p.summary.phase_breakdown_ms })),
    );
  });

  it("memory over time under continuous batching: weights stay, activations and KV come and go", async () => {
    const pts = await runFigure("memory-over-time");
    for (const p of pts) {
      const s = p.summary;
      expect(s.oom).toBe(false);
      expect(s.memory.peak_by_category_bytes.weights).toBeGreaterThan(0);
      expect(s.memory.peak_by_category_bytes.kv_cache).toBeGreaterThan(0);
      expect(s.memory.peak_bytes_max).toBeLessThanOrEqual(s.memory.capacity_bytes);
    }
    const act = (g: string) => pts.find((p) => p.summary.policies.gating === g)!.summary.memory.peak_activation_bytes;
    expect(act("dynamic")).toBeLessThan(act("static"));
    expectGolden(
      "memory-over-time",
      pts.map((p) => ({
        gating: p.summary.policies.gating,
        tokens_per_s: p.summary.tokens_per_s,
        peak: p.summary.memory.peak_bytes_max,
        p99_ms: p.summary.request_latency_ms.p99,
      })),
    );
  });
});
