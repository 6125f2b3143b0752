import { describe, expect, it } from "vitest";
import { attentionOnGpu, attentionScoreBytes, attentionScoreMemory } from "../../src/moe/costs.js";
import { getModelPreset } from "../../src/workload/model.js";
import { getNodePreset } from "../../src/hardware/presets.js";
import { join } from "node:path";
import { parseScenario } from "../../src/scenario/load.js";
import { runScenario } from "../../src/scenario/run.js";
import { ROOT } from "../paper/helpers.js";

describe("standard attention's score traffic (FlashAttention, Algorithm 0)", () => {
  const m = getModelPreset("nllb-moe-54b"); // 16 heads, fp16

  it("is 4 x heads x queries x keys elements: S written and read, P written and read", () => {
    // 16 heads, 64 queries over 64 keys, 2 bytes: 4 * 16 * 64 * 64 * 2 = 524,288 bytes
    expect(attentionScoreBytes(m, 64, 64, 2)).toBe(524_288);
  });

  it("adds it to the attention op's HBM bytes only for a standard-attention stack", () => {
    // 2 sequences of 1 new token after 64 cached ones, with cross-attention over a 64-token source:
    // self 4 * 16 * 1 * 65 * 2 = 8,320 bytes and cross 4 * 16 * 1 * 64 * 2 = 8,192 bytes per sequence
    const fused = attentionOnGpu(m, [1, 1], 64, true, 64);
    const std = attentionOnGpu(m, [1, 1], 64, true, 64, true);
    expect(std.activationBytes - fused.activationBytes).toBe(2 * (8_320 + 8_192));
    expect(std.flops).toBe(fused.flops);
    expect(std.weightBytes).toBe(fused.weightBytes);
  });

  it("is the paper profile's property: fairseq-v100 runs standard attention, modern stacks fused", () => {
    expect(getNodePreset("fairseq-v100").attentionKernel).toBe("standard");
    expect(getNodePreset("dgx1-v100").attentionKernel).toBeUndefined();
    expect(getNodePreset("dgx-h100").attentionKernel).toBeUndefined();
  });
});

describe("standard attention in a run", () => {
  it("adds the score traffic's HBM time to the attention phase, and nothing else changes", async () => {
    // NLLB encoder, 16 sentences of 64 tokens on 8 GPUs: 2 per GPU. Per layer and GPU the scores add
    // 2 x 4 x 16 heads x 64 x 64 x 2 bytes = 1 MiB; the attention op is HBM-bound, so at 0.8 x 900 GB/s
    // (the roofline's default memory efficiency) 24 layers take 24 x 1 MiB / 720 GB/s = 0.03495 ms longer.
    // (fairseq-v100's host overhead per op set to 0 here: it is tested in host-overhead.test.ts)
    const run = async (cluster: string) => {
      const yaml =
        `name: t\nseed: 1\ncluster: { ${cluster}, nodes: 1 }\nmodel: { preset: nllb-moe-54b }\n` +
        `trace: { synthetic: { sequences: 16, tokens_per_sequence: 64 } }\n` +
        `workload: { phase: encode, batching: { kind: static, batch_size: 16 }, max_steps: 1 }\n`;
      return (await runScenario(parseScenario(yaml, join(ROOT, "scenarios", "inline.yaml")))).summary
        .phase_breakdown_ms;
    };
    const fused = await run("preset: dgx1-v100");
    const std = await run("preset: fairseq-v100, overrides: { hostOpNs: 0 }");
    expect(std.attention - fused.attention).toBeCloseTo(((24 * 2 * 524_288) / (900e9 * 0.8)) * 1e3, 4);
    for (const k of Object.keys(fused)) if (k !== "attention") expect(std[k], k).toBe(fused[k]);
  });
});

describe("the scores' memory while a layer's attention runs", () => {
  const m = getModelPreset("nllb-moe-54b"); // 16 heads, fp16

  it("standard attention holds heads x queries x keys probabilities; a fused kernel one fp32 statistic per row", () => {
    expect(attentionScoreMemory(m, 64, 64, true, 2)).toBe(16 * 64 * 64 * 2);
    expect(attentionScoreMemory(m, 64, 64, false, 2)).toBe(16 * 64 * 4);
    // fused: linear in the queries, independent of the keys (FlashAttention's O(N) extra memory)
    expect(attentionScoreMemory(m, 1, 100_000, false, 2)).toBe(attentionScoreMemory(m, 1, 64, false, 2));
  });

  it("in a run: a fused stack's activations do not grow with the context; a standard stack's do", async () => {
    // NLLB decoder, 16 sentences (2 per GPU) of one new token after `ctx` cached ones
    const run = async (cluster: string, ctx: number) => {
      const yaml =
        `name: t\nseed: 1\ncluster: { ${cluster}, nodes: 1 }\nmodel: { preset: nllb-moe-54b }\n` +
        `trace: { synthetic: { sequences: 16, tokens_per_sequence: 1 } }\n` +
        `workload: { phase: decode, context_tokens: ${ctx}, batching: { kind: static, batch_size: 16 }, max_steps: 1 }\n`;
      const r = await runScenario(parseScenario(yaml, join(ROOT, "scenarios", "inline.yaml")));
      return r.summary.memory.peak_by_category_bytes.activations;
    };
    const std = "preset: fairseq-v100, overrides: { hostOpNs: 0 }";
    const fused = "preset: dgx1-v100";
    expect(await run(fused, 4096)).toBe(await run(fused, 64));
    // 2 sequences x 16 heads x 1 query x (ctx + 1) keys x 2 bytes, less the fused kernel's 2 x 16 x 4 bytes
    expect((await run(std, 64)) - (await run(fused, 64))).toBe(2 * 16 * 65 * 2 - 2 * 16 * 4);
    expect((await run(std, 4096)) - (await run(std, 64))).toBe(2 * 16 * (4096 - 64) * 2);
  });
});
