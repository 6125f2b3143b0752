import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readTrace, TRACE_FORMATS } from "../../src/workload/read.js";
import { UserError } from "../../src/util/errors.js";
import { repoRoot } from "./shared.js";

const VLLM = join(repoRoot, "test", "fixtures", "vllm-routed-experts.jsonl");
const SGLANG = join(repoRoot, "test", "fixtures", "sglang-expert-distribution.json");

/** Token t's picks at layer l. */
const picks = (tr: Awaited<ReturnType<typeof readTrace>>, t: number, l: number): number[] => [
  ...tr.picks.subarray((t * tr.layers + l) * tr.topK, (t * tr.layers + l + 1) * tr.topK),
];

describe("serving-engine routing dumps", () => {
  it("both are trace formats", () => {
    expect(TRACE_FORMATS).toContain("vllm-routed-experts");
    expect(TRACE_FORMATS).toContain("sglang-expert-distribution");
  });

  it("vLLM routed-experts capture: requests in order, the never-written dense layer 0 left out (auto-detected)", async () => {
    const t = await readTrace(VLLM);
    expect(t.meta.format).toBe("vllm-routed-experts");
    expect([t.tokens, t.layers, t.topK, t.experts]).toEqual([5, 3, 2, 8]);
    expect(t.meta.moe_layers).toEqual([1, 2, 3]);
    expect([...t.seq]).toEqual([0, 0, 0, 1, 1]);
    expect([...t.step]).toEqual([0, 1, 2, 0, 1]);
    expect(picks(t, 0, 0)).toEqual([3, 7]); // request 0 token 0, hidden layer 1
    expect(picks(t, 1, 1)).toEqual([1, 0]); // expert 0 is a real pick outside the dense layer
    expect(picks(t, 4, 2)).toEqual([2, 1]); // request 1 token 1, hidden layer 3
    const named = await readTrace(VLLM, { format: "vllm-routed-experts", experts: 16 });
    expect(named.experts).toBe(16);
  });

  it("SGLang per-token recorder: physical ids mapped to logical, -1 padding and the dense layer dropped", async () => {
    const t = await readTrace(SGLANG, { format: "sglang-expert-distribution" });
    expect([t.tokens, t.layers, t.topK, t.experts]).toEqual([5, 2, 2, 6]);
    expect(t.meta.moe_layers).toEqual([1, 2]);
    // Pass 0 extends two requests (2 tokens, 1 token); pass 1 decodes two (one token each); steps are positions.
    expect([...t.seq]).toEqual([0, 0, 1, 2, 3]);
    expect([...t.step]).toEqual([0, 1, 0, 2, 1]);
    expect(picks(t, 0, 0)).toEqual([0, 1]); // physical 6 is a copy of logical 0
    expect(picks(t, 1, 0)).toEqual([2, 3]); // physical 7 is a copy of logical 3
    expect(picks(t, 3, 1)).toEqual([3, 5]); // decode token 0, layer 2: physical 7 -> 3
  });

  it("malformed dumps are user errors naming the file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "moesim-engines-"));
    const bad = join(dir, "bad.jsonl");
    writeFileSync(bad, '{"routed_experts": [[[1, 2], [3]]]}\n');
    await expect(readTrace(bad)).rejects.toThrow(UserError);
    await expect(readTrace(bad)).rejects.toThrow(/bad\.jsonl:1: token 0 layer 1: 1 experts, expected 2/);
    const noMap = join(dir, "s.json");
    writeFileSync(noMap, '{"records": []}');
    await expect(readTrace(noMap, { format: "sglang-expert-distribution" })).rejects.toThrow(
      /last_physical_to_logical_map/,
    );
  });
});
