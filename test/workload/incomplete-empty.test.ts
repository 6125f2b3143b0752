/**
 * `incomplete: empty` (issue 16, ragged routing data): a token without a record for some MoE layer
 * is kept, with no expert picks (NO_EXPERT) at that layer; it then costs no expert work there. The
 * reader, `trace info`, .mtrace round trips and run summaries report how many tokens and (token,
 * layer) pairs were filled empty.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { expertLoad } from "../../src/policies/access.js";
import { gatingPolicyNames, getGatingPolicy } from "../../src/policies/gating/index.js";
import { UserError } from "../../src/util/errors.js";
import { readTrace, writeBinaryTrace } from "../../src/workload/read.js";
import { perLayerLoad } from "../../src/workload/stats.js";
import { fitSynth } from "../../src/workload/synth-fit.js";
import { NO_EXPERT } from "../../src/workload/trace.js";
import { runCli } from "../cli-runner.js";

const dir = mkdtempSync(join(tmpdir(), "moesim-empty-"));

/**
 * OLMoE-shaped records (16 layers, 64 experts, top-8), 2 requests x 4 tokens; `missing` lists the
 * (request, token, layer) records left out.
 */
function records(missing: [number, number, number][]): string {
  const lines: string[] = [];
  for (let seq = 0; seq < 2; seq++)
    for (let token = 0; token < 4; token++)
      for (let layer = 0; layer < 16; layer++) {
        if (missing.some(([s, t, l]) => s === seq && t === token && l === layer)) continue;
        const experts = Array.from({ length: 8 }, (_, k) => (seq * 8 + token * 3 + layer + k * 7) % 64);
        lines.push(JSON.stringify({ seq, token, layer, experts }));
      }
  return lines.join("\n") + "\n";
}

/** Two tokens miss layer 5, one of them also layer 9: 2 tokens, 3 (token, layer) pairs. */
const MISSING: [number, number, number][] = [
  [0, 1, 5],
  [1, 2, 5],
  [1, 2, 9],
];
const RAGGED = join(dir, "ragged.jsonl");
const COMPLETE = join(dir, "complete.jsonl");
writeFileSync(RAGGED, records(MISSING));
writeFileSync(COMPLETE, records([]));

describe("incomplete: empty", () => {
  it("keeps every token, with NO_EXPERT picks at the missing layers, and counts them", async () => {
    const t = await readTrace(RAGGED, { incomplete: "empty" });
    expect(t.tokens).toBe(8);
    expect(t.meta.incomplete).toMatchObject({ policy: "empty", dropped_tokens: 0, empty_tokens: 2, empty_layers: 3 });
    expect(t.meta.incomplete!.first[0]).toMatch(/request 0 token 1: no layer 5/);
    const at = (tok: number, l: number): number[] =>
      Array.from(t.picks.subarray((tok * 16 + l) * 8, (tok * 16 + l + 1) * 8));
    expect(at(1, 5)).toEqual(Array(8).fill(NO_EXPERT));
    expect(at(6, 9)).toEqual(Array(8).fill(NO_EXPERT)); // request 1 token 2 is the 7th token
    expect(at(1, 4)).not.toContain(NO_EXPERT);
    // drop leaves the two tokens out; error (default) refuses the trace and names `empty`.
    expect((await readTrace(RAGGED, { incomplete: "drop" })).tokens).toBe(6);
    await expect(readTrace(RAGGED)).rejects.toThrow(/2 of 8 tokens .*--incomplete empty/);
    // max_tokens counts what the kept tokens hold.
    expect((await readTrace(RAGGED, { incomplete: "empty", maxTokens: 4 })).meta.incomplete).toMatchObject({
      empty_tokens: 1,
      empty_layers: 1,
    });
  });

  it("the expert load at a layer drops by the missing tokens' picks; other layers are unchanged", async () => {
    const t = await readTrace(RAGGED, { incomplete: "empty" });
    const full = await readTrace(COMPLETE);
    const sum = (a: ArrayLike<number>): number => {
      let x = 0;
      for (let k = 0; k < a.length; k++) x += a[k];
      return x;
    };
    expect(sum(expertLoad(t, 5))).toBe(sum(expertLoad(full, 5)) - 2 * 8);
    expect(sum(expertLoad(t, 9))).toBe(sum(expertLoad(full, 9)) - 8);
    expect(Array.from(expertLoad(t, 4))).toEqual(Array.from(expertLoad(full, 4)));
    const load = perLayerLoad(t);
    expect(sum(load[5])).toBe(8 * 8 - 16);
    expect(load[5].every((x) => x >= 0)).toBe(true);
  });

  it("survives an .mtrace round trip (the counts are recomputed from the picks)", async () => {
    const t = await readTrace(RAGGED, { incomplete: "empty" });
    const p = join(dir, "ragged.mtrace");
    writeBinaryTrace(p, t);
    const back = await readTrace(p);
    expect(Array.from(back.picks)).toEqual(Array.from(t.picks));
    expect(back.meta.incomplete).toMatchObject({ policy: "empty", empty_tokens: 2, empty_layers: 3 });
  });

  it("the OLMoE JSONL reader fills a short token line's last layers", async () => {
    const h = JSON.stringify({ format: "moe-routing-trace/v1", layers: 3, experts: 4, top_k: 2 });
    const p = join(dir, "short.jsonl");
    writeFileSync(
      p,
      [h, '{"seq":0,"step":0,"experts":[[0,1],[1,2],[2,3]]}', '{"seq":0,"step":1,"experts":[[0,1]]}'].join("\n"),
    );
    const t = await readTrace(p, { incomplete: "empty" });
    expect(t.tokens).toBe(2);
    expect(Array.from(t.picks.subarray(6))).toEqual([0, 1, NO_EXPERT, NO_EXPERT, NO_EXPERT, NO_EXPERT]);
    expect(t.meta.incomplete).toMatchObject({ policy: "empty", empty_tokens: 1, empty_layers: 2 });
  });

  it("trace fit refuses a trace filled empty (the fit would count missing layers as routing)", async () => {
    const t = await readTrace(RAGGED, { incomplete: "empty" });
    expect(() => fitSynth(t)).toThrow(UserError);
    expect(() => fitSynth(t)).toThrow(/2 tokens that have no experts .*--incomplete drop/);
  });

  it("trace info reports the filled tokens and pairs (text and --json)", async () => {
    const r = await runCli(["trace", "info", RAGGED, "--incomplete", "empty"]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/filled 2 incomplete tokens with no experts at 3 \(token, layer\) pairs: request 0 token 1/);
    const j = await runCli(["trace", "info", RAGGED, "--incomplete", "empty", "--json"]);
    expect(JSON.parse(j.out).incomplete).toMatchObject({ policy: "empty", empty_tokens: 2, empty_layers: 3 });
  });

  it("a scenario's trace.incomplete: empty runs; its summary says so, and the experts' work drops by the missing picks", async () => {
    const scenario = (file: string, extra: string): string =>
      `name: e\nseed: 3\ncluster: { preset: dgx-h100, nodes: 1 }\nmodel: { preset: olmoe-1b-7b }\n` +
      `trace: { file: ${file}${extra} }\nworkload: { phase: decode, batching: { kind: static, batch_size: 2 } }\n`;
    writeFileSync(join(dir, "e.yaml"), scenario("ragged.jsonl", ", incomplete: empty"));
    writeFileSync(join(dir, "c.yaml"), scenario("complete.jsonl", ""));
    type Summary = { notes: string[]; tokens: number; load: { gpu_tokens: number[] } };
    const run = async (name: string): Promise<Summary> => {
      const r = await runCli([
        "run",
        join(dir, `${name}.yaml`),
        "--json",
        "--no-report",
        "--out",
        join(dir, `${name}-out`),
      ]);
      expect(r.code, r.err).toBe(0);
      return JSON.parse(r.out) as Summary;
    };
    const e = await run("e");
    const c = await run("c");
    expect(e.tokens).toBe(c.tokens);
    expect(e.notes.join("\n")).toMatch(
      /trace\.incomplete: empty kept 2 tokens .* no experts at 3 \(token, layer\) pairs/,
    );
    const total = (s: Summary): number => s.load.gpu_tokens.reduce((a, b) => a + b, 0);
    expect(total(c) - total(e)).toBe(3 * 8);
  });

  // (What a gate sends may still differ: capacity-based gates size buffers by the batch's tokens.)
  it("every gate skips a token with no experts (-1 picks): its assignments are the others' only", () => {
    const K = 2;
    const picks = Int32Array.from([0, 1, -1, -1, 2, 3, 1, 2]); // token 1 has no experts here
    const input = (p: Int32Array) => ({
      tokens: p.length / K,
      topK: K,
      experts: 4,
      gpus: 2,
      picks: p,
      tokenGpu: Int32Array.from({ length: p.length / K }, (_, t) => t % 2),
      expertGpu: Int32Array.from([0, 0, 1, 1]),
      tokenBytes: 8,
    });
    const without = Int32Array.from([0, 1, 2, 3, 1, 2]);
    for (const name of gatingPolicyNames()) {
      const g = getGatingPolicy(name);
      const a = g.plan(input(picks), { capacityFactor: 4 });
      const b = g.plan(input(without), { capacityFactor: 4 });
      expect(Array.from(a.expertTokens), name).toEqual(Array.from(b.expertTokens));
      expect(
        a.expertTokens.reduce((x, y) => x + y, 0),
        name,
      ).toBe(6);
    }
  });
});
