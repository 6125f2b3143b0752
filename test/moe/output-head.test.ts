import { describe, expect, it } from "vitest";
import { join } from "node:path";
import { runsOutputHead } from "../../src/moe/costs.js";
import { getModelPreset } from "../../src/workload/model.js";
import { parseScenario } from "../../src/scenario/load.js";
import { runScenario } from "../../src/scenario/run.js";
import { ROOT } from "../paper/helpers.js";

describe("the output head (final layer norm, vocabulary projection, log-softmax)", () => {
  it("ends every phase except an encoder-decoder model's encoder", () => {
    const nllb = getModelPreset("nllb-moe-54b");
    const lm = getModelPreset("paper-lm-52b");
    expect(runsOutputHead(nllb, "encode")).toBe(false);
    expect(runsOutputHead(nllb, "decode")).toBe(true);
    expect(runsOutputHead(nllb, "prefill")).toBe(true);
    // a decoder-only model scoring whole sequences (an LM's evaluation) computes its logits
    expect(runsOutputHead(lm, "encode")).toBe(true);
  });

  // One step of 16 NLLB sentences (2 per GPU) on 8 V100s without host overhead, with the vocabulary as given.
  const run = async (phase: string, vocab: number) => {
    const yaml =
      `name: t\nseed: 1\ncluster: { preset: dgx1-v100, nodes: 1 }\n` +
      `model: { preset: nllb-moe-54b, overrides: { vocab: ${vocab} } }\n` +
      `trace: { synthetic: { sequences: 16, tokens_per_sequence: ${phase === "encode" ? 64 : 1} } }\n` +
      `workload: { phase: ${phase}, context_tokens: 64, batching: { kind: static, batch_size: 16 }, max_steps: 1 }\n`;
    return (await runScenario(parseScenario(yaml, join(ROOT, "scenarios", "inline.yaml")))).summary;
  };

  it("an encoder's step time and activations do not depend on the vocabulary; a decoder's do", async () => {
    const [e1, e2] = [await run("encode", 256_206), await run("encode", 32_000)];
    expect(e1.step_latency_ms.mean).toBe(e2.step_latency_ms.mean);
    expect(e1.memory.peak_by_category_bytes.activations).toBe(e2.memory.peak_by_category_bytes.activations);
    // 2 sentences x 64 tokens per GPU: hidden states 128 x 4 x 2048 in fp16, the fused attention's statistics
    // 2 x 16 heads x 64 queries x 4 bytes, and no logits
    expect(e1.memory.peak_by_category_bytes.activations).toBe(128 * 4 * 2048 * 2 + 2 * 16 * 64 * 4);

    const [d1, d2] = [await run("decode", 256_206), await run("decode", 32_000)];
    expect(d1.step_latency_ms.mean).toBeGreaterThan(d2.step_latency_ms.mean);
    // 2 tokens per GPU: their logits over the vocabulary, fp16
    const act = (s: typeof d1) => s.memory.peak_by_category_bytes.activations;
    expect(act(d1) - act(d2)).toBe(2 * (256_206 - 32_000) * 2);
  });
});
