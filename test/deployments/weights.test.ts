import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { getModelPreset, modelStats, type ModelSpec } from "../../src/workload/model.js";
import { weightBytesPerParam } from "../../src/workload/weights.js";
import { expertOp } from "../../src/moe/costs.js";
import { RooflineCostModel } from "../../src/hardware/cost.js";
import { opWork, peakFloorNs } from "../../src/hardware/cost-shape.js";
import { getNodePreset } from "../../src/hardware/presets.js";
import { parseScenario } from "../../src/scenario/load.js";
import { runScenario } from "../../src/scenario/run.js";
import { UserError } from "../../src/util/errors.js";

const ROOT = resolve(import.meta.dirname, "..", "..");
const AT = join(ROOT, "scenarios", "inline.yaml");

describe("weight formats", () => {
  it("bytes per parameter, scales included", () => {
    expect(weightBytesPerParam("bf16")).toBe(2);
    expect(weightBytesPerParam("fp8")).toBe(1 + 4 / (128 * 128)); // one float32 per 128 x 128 block
    expect(weightBytesPerParam("mxfp4")).toBe(4.25 / 8); // 4-bit values + one 8-bit E8M0 scale per 32
  });

  it("presets as deployed: DeepSeek-V3 / Kimi-K2 block-FP8 linear layers, gpt-oss MXFP4 experts, the rest bf16", () => {
    for (const n of ["deepseek-v3", "kimi-k2"]) {
      expect(getModelPreset(n).weights).toEqual({ linear: "fp8", experts: "fp8" });
      expect(getModelPreset(n).dtype).toBe("bf16");
    }
    expect(getModelPreset("gpt-oss-120b").weights).toEqual({ experts: "mxfp4" });
    for (const n of ["qwen3-235b-a22b", "qwen3-30b-a3b", "llama-4-maverick"]) {
      expect(getModelPreset(n).weights).toBeUndefined();
      expect(getModelPreset(n).dtype).toBe("bf16");
    }
  });
});

// Hand computation, DeepSeek-V3 (config.json): hidden 7168, expert FFN 2048, dense FFN 18432, MLA q_lora 1536,
// kv_lora 512, rope 64, nope 128, v 128, 128 heads, vocab 129280; FP8 = 1 + 1/4096 bytes per parameter.
const FP8 = 1 + 1 / 4096;
const DS_EXPERT = 3 * 7168 * 2048 * FP8;
const DS_ATTN = (7168 * 1536 + 1536 * 128 * 192 + 7168 * 576 + 512 * 128 * 256 + 128 * 128 * 7168) * FP8;
const DS_DENSE = 3 * 7168 * 18432 * FP8;
const DS_REPLICATED = 61 * DS_ATTN + 3 * DS_DENSE + 58 * (DS_EXPERT + 7168 * 256 * 2) + 2 * 129280 * 7168 * 2; // shared expert, bf16 gate

// gpt-oss-120b (config.json): hidden = expert FFN = 2880, 64 query / 8 KV heads of 64, biases, vocab 201088; MXFP4
// expert matrices (biases bf16), attention, router and embeddings bf16.
const GO_EXPERT = 3 * 2880 * 2880 * (4.25 / 8) + (2 * 2880 + 2880) * 2;
const GO_ATTN = (2880 * 64 * 64 * 2 + 2 * 2880 * 8 * 64 + 64 * 64 + 2 * 8 * 64 + 2880) * 2;
const GO_REPLICATED = 36 * (GO_ATTN + 2880 * 128 * 2) + 2 * 201088 * 2880 * 2;

describe("weight bytes follow the format (hand-computed)", () => {
  it("deepseek-v3 and gpt-oss-120b: one expert and the replicated weights", () => {
    const ds = modelStats(getModelPreset("deepseek-v3"));
    expect(ds.expertBytes).toBeCloseTo(DS_EXPERT, 3);
    expect(ds.replicatedWeightBytes).toBeCloseTo(DS_REPLICATED, 0);
    const go = modelStats(getModelPreset("gpt-oss-120b"));
    expect(go.expertBytes).toBeCloseTo(GO_EXPERT, 3);
    expect(go.replicatedWeightBytes).toBeCloseTo(GO_REPLICATED, 0);
    // the checkpoints' sizes: ~65 GB for gpt-oss-120b (MXFP4 experts), ~673 GB for DeepSeek-V3 without its MTP module
    expect((go.replicatedWeightBytes + 36 * 128 * go.expertBytes) / 1e9).toBeCloseTo(65.2, 0);
    expect((ds.replicatedWeightBytes + 58 * 256 * ds.expertBytes) / 1e9).toBeCloseTo(673, -1);
  });

  it("per GPU in a run: the replicated weights + its experts, as the hand computation", async () => {
    const run = async (text: string) => (await runScenario(parseScenario(text, AT))).result.memory;
    const trace = "trace: { synthetic: { zipf: 1.0, sequences: 64, tokens_per_sequence: 2 } }\n";
    const work = "workload: { phase: decode, batching: { kind: static, batch_size: 64 }, max_steps: 1 }\n";
    // gpt-oss-120b on one H200 node: 128 experts over 8 GPUs, 16 per GPU per layer
    const go = await run(`name: g\ncluster: { preset: hgx-h200 }\nmodel: { preset: gpt-oss-120b }\n${trace}${work}`);
    for (const g of go) expect(g.peak_by_category.weights).toBeCloseTo(GO_REPLICATED + 36 * 16 * GO_EXPERT, -1);
    // deepseek-v3 on 4 H800 nodes: 256 experts over 32 GPUs, 8 per GPU per layer
    const ds = await run(
      `name: d\ncluster: { preset: hgx-h800, nodes: 4, network_model: analytic }\nmodel: { preset: deepseek-v3 }\n` +
        `${trace}${work}`,
    );
    expect(ds.length).toBe(32);
    for (const g of ds) expect(g.peak_by_category.weights).toBeCloseTo(DS_REPLICATED + 58 * 8 * DS_EXPERT, -1);
  });

  it("model.overrides.weights is checked: a bad format is a user error at its key", () => {
    const text = (w: string) =>
      `name: w\ncluster: { preset: hgx-h200 }\nmodel: { preset: gpt-oss-120b, overrides: { weights: ${w} } }\n` +
      `trace: { synthetic: { zipf: 1.0, sequences: 8, tokens_per_sequence: 2 } }\n` +
      `workload: { phase: decode, batching: { kind: static, batch_size: 8 }, max_steps: 1 }\n`;
    return runScenario(parseScenario(text("{ experts: int4 }"), AT)).then(
      () => expect.unreachable(),
      (e: unknown) => {
        expect(e).toBeInstanceOf(UserError);
        expect(String((e as Error).message)).toMatch(/model\.overrides\.weights\.experts: expected one of .*mxfp4/);
      },
    );
  });
});

describe("an expert's step on the roofline", () => {
  const h800 = getNodePreset("hgx-h800").gpu;
  const cost = new RooflineCostModel(h800);
  const ds = getModelPreset("deepseek-v3");
  const as = (experts: "bf16" | "fp8" | "mxfp4"): ModelSpec => ({ ...ds, weights: { linear: "fp8", experts } });

  it("memory-bound decode: fewer weight bytes, faster; never under the weights' read at peak HBM", () => {
    for (const rows of [1, 4, 16, 32]) {
      const t = { bf16: 0, fp8: 0, mxfp4: 0 };
      for (const f of ["bf16", "fp8", "mxfp4"] as const) {
        const op = expertOp(as(f), rows);
        t[f] = cost.timeNs(op);
        // the physics: every weight byte read once from HBM at its peak rate, and the FLOPs at the dtype's peak
        const weightRead = ((3 * 7168 * 2048 * weightBytesPerParam(f)) / h800.hbmBytesPerS) * 1e9;
        expect(t[f], `${f} ${rows}`).toBeGreaterThanOrEqual(weightRead);
        expect(t[f]).toBeGreaterThanOrEqual(peakFloorNs(h800, opWork(op)));
      }
      expect(t.fp8).toBeLessThan(t.bf16);
      expect(t.mxfp4).toBeLessThan(t.fp8);
    }
  });

  it("compute-bound prefill: FP8 at the FP8 peak (twice bf16 on H800), MXFP4 dequantised to bf16's rate", () => {
    const rows = 16384;
    const bf16 = cost.timeNs(expertOp(as("bf16"), rows));
    const fp8 = cost.timeNs(expertOp(as("fp8"), rows));
    const mx = cost.timeNs(expertOp(as("mxfp4"), rows));
    expect(h800.flopsPerS.fp8 / h800.flopsPerS.bf16).toBeCloseTo(2, 1);
    expect(fp8 / bf16).toBeGreaterThan(0.45);
    expect(fp8 / bf16).toBeLessThan(0.55);
    // compute-bound: the weights' format saves no time when they are dequantised to bf16
    expect(Math.abs(mx - bf16) / bf16).toBeLessThan(0.01);
  });
});
