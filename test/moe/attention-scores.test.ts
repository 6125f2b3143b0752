import { describe, expect, it } from "vitest";
import { attentionOnGpu, attentionScoreBytes } from "../../src/moe/costs.js";
import { getModelPreset } from "../../src/workload/model.js";
import { getNodePreset } from "../../src/hardware/presets.js";

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
