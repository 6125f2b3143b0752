/**
 * Ragged serving-engine dumps (issue 16): the vLLM and SGLang readers honour `incomplete`
 * (error|drop|empty) as the other readers do. Each test reads a small ragged variant of the
 * shipped fixtures: two of the five tokens lack one MoE layer each.
 */
import fc from "fast-check";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { UserError } from "../../src/util/errors.js";
import { readTrace } from "../../src/workload/read.js";
import { NO_EXPERT, type RoutingTrace } from "../../src/workload/trace.js";
import { runCli } from "../cli-runner.js";
import { repoRoot } from "./shared.js";

const dir = mkdtempSync(join(tmpdir(), "moesim-engine-ragged-"));
const fixture = (name: string): string => readFileSync(join(repoRoot, "test", "fixtures", name), "utf8");
const picks = (tr: RoutingTrace, t: number, l: number): number[] => [
  ...tr.picks.subarray((t * tr.layers + l) * tr.topK, (t * tr.layers + l + 1) * tr.topK),
];
const NONE2 = [NO_EXPERT, NO_EXPERT];

type VllmLine = { request_id: string; routed_experts: number[][][] };
const vllmLines = (): VllmLine[] =>
  fixture("vllm-routed-experts.jsonl")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as VllmLine);

// req-0 token 1 lost its last layer (3); req-1 token 0's layer 2 was never written (still zeroed).
const VLLM = join(dir, "ragged-vllm.jsonl");
{
  const v = vllmLines();
  v[0].routed_experts[1].pop();
  v[1].routed_experts[0][2] = [0, 0];
  writeFileSync(VLLM, v.map((x) => JSON.stringify(x)).join("\n") + "\n");
}

// Record 0's layer 2 lists one token fewer (request 1's token, at position 0); record 1's first decode
// token (request 2, position 2) has -1 only at layer 1.
const SGLANG = join(dir, "ragged-sglang.json");
const SGLANG_FULL = join(repoRoot, "test", "fixtures", "sglang-expert-distribution.json");
{
  const d = JSON.parse(fixture("sglang-expert-distribution.json")) as {
    records: { topk_ids_of_layer: number[][][] }[];
  };
  d.records[0].topk_ids_of_layer[2].pop();
  d.records[1].topk_ids_of_layer[1][0] = Array<number>(8).fill(-1);
  writeFileSync(SGLANG, JSON.stringify(d));
}

describe("vLLM routed-experts dump with missing layers", () => {
  it("error (default) names how many tokens, the first ones, and the file:line of the first", async () => {
    await expect(readTrace(VLLM)).rejects.toThrow(UserError);
    await expect(readTrace(VLLM)).rejects.toThrow(
      /ragged-vllm\.jsonl:1: 2 of 5 tokens have no record for some MoE layer \(request "req-0" token 1: no layer 3 \(line 1\); request "req-1" token 0: no layer 2 \(line 2\)\).*--incomplete empty/,
    );
  });

  it("drop leaves the two tokens out and counts them and their records", async () => {
    const t = await readTrace(VLLM, { incomplete: "drop" });
    const full = await readTrace(join(repoRoot, "test", "fixtures", "vllm-routed-experts.jsonl"));
    expect([t.tokens, t.layers, t.topK]).toEqual([3, 3, 2]);
    expect(t.meta.moe_layers).toEqual([1, 2, 3]);
    expect([...t.seq]).toEqual([0, 0, 1]);
    expect([...t.step]).toEqual([0, 2, 1]);
    for (const [kept, orig] of [
      [0, 0],
      [1, 2],
      [2, 4],
    ])
      for (let l = 0; l < 3; l++) expect(picks(t, kept, l)).toEqual(picks(full, orig, l));
    // Each dropped token had 2 of its 3 MoE layers written.
    expect(t.meta.incomplete).toMatchObject({ policy: "drop", dropped_tokens: 2, dropped_records: 4 });
    expect(t.meta.incomplete!.first).toHaveLength(2);
  });

  it("empty keeps every token with no experts at the missing layers; everything else is as in the complete dump", async () => {
    const t = await readTrace(VLLM, { incomplete: "empty" });
    const full = await readTrace(join(repoRoot, "test", "fixtures", "vllm-routed-experts.jsonl"));
    expect([t.tokens, t.layers, t.topK, t.experts]).toEqual([5, 3, 2, 8]);
    expect(t.meta.incomplete).toMatchObject({ policy: "empty", dropped_tokens: 0, empty_tokens: 2, empty_layers: 2 });
    expect(picks(t, 1, 2)).toEqual(NONE2); // hidden layer 3 is MoE layer 2
    expect(picks(t, 3, 1)).toEqual(NONE2); // hidden layer 2 is MoE layer 1
    for (let tok = 0; tok < 5; tok++)
      for (let l = 0; l < 3; l++)
        if (!((tok === 1 && l === 2) || (tok === 3 && l === 1))) expect(picks(t, tok, l)).toEqual(picks(full, tok, l));
    // max_tokens counts what the kept tokens hold.
    expect((await readTrace(VLLM, { incomplete: "empty", maxTokens: 3 })).meta.incomplete).toMatchObject({
      empty_tokens: 1,
      empty_layers: 1,
    });
  });

  it("trace info --incomplete empty reports the filled tokens", async () => {
    const r = await runCli(["trace", "info", VLLM, "--incomplete", "empty", "--json"]);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out).incomplete).toMatchObject({ policy: "empty", empty_tokens: 2, empty_layers: 2 });
  });

  it("a top-1 row of expert 0 is a pick, not a missing layer", async () => {
    const p = join(dir, "top1.jsonl");
    writeFileSync(
      p,
      JSON.stringify({
        routed_experts: [
          [[0], [0]],
          [[0], [2]],
        ],
      }) + "\n",
    );
    const t = await readTrace(p);
    expect(t.meta.moe_layers).toEqual([1]);
    expect([...t.picks]).toEqual([0, 2]);
    expect(t.meta.incomplete).toBeUndefined();
  });

  it("property: empty fills exactly the removed (token, layer) rows; drop keeps exactly the untouched tokens", async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.array(fc.uniqueArray(fc.integer({ min: 0, max: 7 }), { minLength: 2, maxLength: 2 }), {
            minLength: 3,
            maxLength: 3,
          }),
          { minLength: 2, maxLength: 6 },
        ),
        fc.array(fc.tuple(fc.nat(5), fc.nat(2), fc.boolean()), { maxLength: 4 }),
        async (tokens, holes) => {
          // Layer 0 is always written (with expert 7 somewhere, so the expert count is 8 either way).
          tokens[0][0] = [7, 1];
          const ragged = tokens.map((tok) => tok.map((row) => [...row]));
          const hit = new Set<string>();
          for (const [t, l, zero] of holes) {
            if (t >= tokens.length || l === 0) continue;
            ragged[t][l] = zero ? [0, 0] : [];
            hit.add(`${t},${l}`);
          }
          const p = join(dir, `prop-${n++}.jsonl`);
          writeFileSync(p, JSON.stringify({ request_id: "r", routed_experts: ragged }) + "\n");
          const e = await readTrace(p, { incomplete: "empty", experts: 8 });
          expect(e.tokens).toBe(tokens.length);
          for (let t = 0; t < tokens.length; t++)
            for (let l = 0; l < 3; l++) expect(picks(e, t, l)).toEqual(hit.has(`${t},${l}`) ? NONE2 : tokens[t][l]);
          const bad = new Set([...hit].map((k) => Number(k.split(",")[0])));
          expect(e.meta.incomplete?.empty_layers ?? 0).toBe(hit.size);
          if (bad.size === tokens.length) {
            await expect(readTrace(p, { incomplete: "drop" })).rejects.toThrow(/nothing is left to read/);
            return;
          }
          const d = await readTrace(p, { incomplete: "drop", experts: 8 });
          expect([...d.step]).toEqual(tokens.map((_, t) => t).filter((t) => !bad.has(t)));
        },
      ),
      { numRuns: 60, seed: 16 },
    );
  });
});

describe("SGLang expert-distribution dump with missing layers", () => {
  it("error (default) names how many tokens and the records they are in", async () => {
    await expect(readTrace(SGLANG)).rejects.toThrow(
      /ragged-sglang\.json: records\[0\]: 2 of 5 tokens have no record for some MoE layer \(request 1 token 0: no layer 2 \(records\[0\]\); request 2 token 2: no layer 1 \(records\[1\]\)\)/,
    );
  });

  it("drop leaves them out", async () => {
    const t = await readTrace(SGLANG, { incomplete: "drop" });
    expect([t.tokens, t.layers, t.topK]).toEqual([3, 2, 2]);
    expect([...t.seq]).toEqual([0, 0, 3]);
    expect([...t.step]).toEqual([0, 1, 1]);
    const full = await readTrace(SGLANG_FULL, { format: "sglang-expert-distribution" });
    for (let l = 0; l < 2; l++) expect(picks(t, 2, l)).toEqual(picks(full, 4, l)); // request 3, as when complete
    expect(t.meta.incomplete).toMatchObject({ policy: "drop", dropped_tokens: 2, dropped_records: 2 });
  });

  it("empty keeps them with no experts at the missing layers", async () => {
    const t = await readTrace(SGLANG, { incomplete: "empty" });
    const full = await readTrace(SGLANG_FULL, { format: "sglang-expert-distribution" });
    expect([t.tokens, t.layers, t.topK, t.experts]).toEqual([5, 2, 2, 6]);
    expect([...t.seq]).toEqual([...full.seq]);
    expect(t.meta.incomplete).toMatchObject({ policy: "empty", empty_tokens: 2, empty_layers: 2 });
    expect(picks(t, 2, 1)).toEqual(NONE2);
    expect(picks(t, 3, 0)).toEqual(NONE2);
    expect(picks(t, 2, 0)).toEqual(picks(full, 2, 0));
    expect(picks(t, 3, 1)).toEqual(picks(full, 3, 1));
  });
});
