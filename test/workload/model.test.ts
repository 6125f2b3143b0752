import { describe, expect, it } from "vitest";
import { UserError } from "../../src/util/errors.js";
import {
  attentionCost,
  expertCost,
  getModelPreset,
  gatingCost,
  kvCacheBytesPerToken,
  MODEL_PRESETS,
  modelStats,
  moeLayerIndices,
} from "../../src/workload/model.js";

// Published totals (see each preset's `published.source`):
// paper LM 52B (Huang et al. 2023), NLLB-MoE 54.5B, OLMoE 6.9B / 1.3B active,
// Mixtral 46.7B / 12.9B active, DeepSeek-V2-Lite 15.7B, Qwen1.5-MoE-A2.7B 14.3B / 2.7B active,
// DeepSeek-V3 671B / 37B, Kimi K2 1.04T / 32B (without the input embedding), Qwen3-235B-A22B, Qwen3-30B-A3B 30.5B /
// 3.3B, gpt-oss-120b 116.8B / 5.1B (without the input embedding), Llama 4 Maverick 400B / 17B.
const PUBLISHED: Record<string, { total: number; active?: number }> = {
  "paper-lm-52b": { total: 52e9 },
  "nllb-moe-54b": { total: 54.5e9 },
  "olmoe-1b-7b": { total: 6.9e9, active: 1.3e9 },
  "mixtral-8x7b": { total: 46.7e9, active: 12.9e9 },
  "deepseek-v2-lite": { total: 15.7e9 },
  "qwen1.5-moe-a2.7b": { total: 14.3e9, active: 2.7e9 },
  "deepseek-v3": { total: 671e9, active: 37e9 },
  "kimi-k2": { total: 1040e9, active: 32e9 },
  "qwen3-235b-a22b": { total: 235e9, active: 22e9 },
  "qwen3-30b-a3b": { total: 30.5e9, active: 3.3e9 },
  "gpt-oss-120b": { total: 116.8e9, active: 5.1e9 },
  "llama-4-maverick": { total: 400e9, active: 17e9 },
};

describe("model presets", () => {
  it("ships every preset with a published total", () => {
    expect(Object.keys(MODEL_PRESETS).sort()).toEqual(Object.keys(PUBLISHED).sort());
  });
  for (const [name, pub] of Object.entries(PUBLISHED)) {
    it(`${name}: total parameters within 2% of ${pub.total / 1e9}B`, () => {
      const spec = getModelPreset(name);
      const s = modelStats(spec);
      expect(Math.abs(s.totalParams / pub.total - 1)).toBeLessThan(0.02);
      const inputEmbedding = spec.published!.activeExcludesInputEmbedding ? spec.vocab * spec.dModel : 0;
      if (pub.active !== undefined)
        expect(Math.abs((s.activeParams - inputEmbedding) / pub.active - 1)).toBeLessThan(0.02);
      expect(MODEL_PRESETS[name].published!.totalParams).toBe(pub.total);
    });
  }
  it("OLMoE expert bytes equal the trace header's 12,582,912 (bf16)", () => {
    expect(modelStats(getModelPreset("olmoe-1b-7b")).expertBytes).toBe(12_582_912);
  });
  it("places MoE layers every M-th layer per stack", () => {
    expect(moeLayerIndices(getModelPreset("paper-lm-52b"))).toEqual([1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23]);
    const nllb = moeLayerIndices(getModelPreset("nllb-moe-54b"));
    expect(nllb).toEqual([3, 7, 11, 15, 19, 23, 27, 31, 35, 39, 43, 47]);
    expect(moeLayerIndices(getModelPreset("deepseek-v2-lite"))).toHaveLength(26);
    expect(modelStats(getModelPreset("olmoe-1b-7b")).moeLayers).toBe(16);
  });
  it("unknown preset is a UserError listing the valid names", () => {
    expect(() => getModelPreset("gpt-5")).toThrow(UserError);
    expect(() => getModelPreset("gpt-5")).toThrow(/olmoe-1b-7b/);
  });
});

describe("FLOP and byte helpers", () => {
  const spec = getModelPreset("mixtral-8x7b");
  it("an expert costs 2 FLOPs per weight per token and reads its weights once", () => {
    const c = expertCost(spec, 10);
    expect(c.flops).toBe(2 * 3 * 4096 * 14336 * 10);
    expect(c.weightBytes).toBe(3 * 4096 * 14336 * 2);
  });
  it("decode attention grows linearly in context, prefill quadratically", () => {
    const d1 = attentionCost(spec, { sequences: 1, tokens: 1, contextLen: 1000 });
    const d2 = attentionCost(spec, { sequences: 1, tokens: 1, contextLen: 2000 });
    const d3 = attentionCost(spec, { sequences: 1, tokens: 1, contextLen: 3000 });
    expect(d3.flops - d2.flops).toBeCloseTo(d2.flops - d1.flops, 0);
    const p1 = attentionCost(spec, { sequences: 1, tokens: 1000, contextLen: 0 });
    const p2 = attentionCost(spec, { sequences: 1, tokens: 2000, contextLen: 0 });
    const proj = 2 * 1000 * (2 * 4096 * 4096 + 2 * 4096 * 1024);
    expect((p2.flops - 2 * proj) / (p1.flops - proj)).toBeCloseTo(4, 1);
  });
  it("GQA KV cache is kvHeads * headDim * 2 tensors * bytes", () => {
    expect(kvCacheBytesPerToken(spec)).toBe(2 * 8 * 128 * 2);
    expect(kvCacheBytesPerToken(getModelPreset("deepseek-v2-lite"))).toBe((512 + 64) * 2);
  });
  it("gating is the router matmul plus softmax/top-k", () => {
    expect(gatingCost(spec, 4).flops).toBeGreaterThanOrEqual(2 * 4096 * 8 * 4);
  });
  it("flops per active token is about 2 x active parameters", () => {
    const s = modelStats(getModelPreset("olmoe-1b-7b"));
    expect(s.flopsPerTokenActive / (2 * s.activeParams)).toBeGreaterThan(0.9);
    expect(s.flopsPerTokenActive / (2 * s.activeParams)).toBeLessThan(1.0);
  });
});
