import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../cli-runner.js";
import { readBinaryTrace } from "../../src/workload/read.js";
import { repoRoot } from "./shared.js";

const cli = runCli;

describe("moesim trace", () => {
  const dir = mkdtempSync(join(tmpdir(), "moesim-cli-trace-"));
  it("info --json prints one document with tokens, layers, experts, top_k", async () => {
    const r = await cli(["trace", "info", join(repoRoot, "scenarios/traces/quickstart.mtrace"), "--json"]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out);
    expect(doc).toMatchObject({ layers: 16, experts: 64, top_k: 8 });
    expect(doc.tokens).toBeGreaterThan(0);
    expect(doc.skew.per_layer).toHaveLength(16);
  });
  it("info prints a per-layer table", async () => {
    const r = await cli(["trace", "info", join(repoRoot, "scenarios/traces/quickstart.mtrace")]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/top-k 8/);
    expect(r.out.split("\n").filter((l) => /^\s+\d+\s+\d/.test(l))).toHaveLength(16);
  });
  it("convert with a field mapping, then synth from a fit", async () => {
    const src = join(dir, "recs.jsonl");
    const lines: string[] = [];
    for (let p = 0; p < 4; p++)
      for (let t = 0; t < 6; t++)
        for (const layer of [0, 1]) {
          lines.push(
            JSON.stringify({
              problem_id: p,
              token_idx: t,
              layer,
              experts: [(p + t) % 8, (p + t + 1 + layer) % 8],
              gating_probs: [0.6, 0.4],
            }),
          );
        }
    writeFileSync(src, lines.join("\n") + "\n");
    const out = join(dir, "recs.mtrace");
    const r = await cli([
      "trace",
      "convert",
      src,
      out,
      "--map",
      "seq=problem_id,token=token_idx,weights=gating_probs",
      "--experts",
      "8",
    ]);
    expect(r.code).toBe(0);
    const t = readBinaryTrace(out);
    expect([t.tokens, t.layers, t.experts, t.topK]).toEqual([24, 2, 8, 2]);
    expect(t.weights).toBeDefined();
    const params = join(dir, "p.json");
    expect((await cli(["trace", "fit", out, "-o", params, "--clusters", "2"])).code).toBe(0);
    const syn = join(dir, "syn.mtrace");
    expect(
      (
        await cli([
          "trace",
          "synth",
          "--params",
          params,
          "--sequences",
          "3",
          "--tokens",
          "2..5",
          "--seed",
          "1",
          "-o",
          syn,
        ])
      ).code,
    ).toBe(0);
    expect(readBinaryTrace(syn).experts).toBe(8);
  });
  it("a bad trace exits 2 with one line and no stack", async () => {
    const bad = join(dir, "bad.jsonl");
    writeFileSync(bad, '{"seq":0,"experts":[[1,2],[3]]}\n');
    const r = await cli(["trace", "info", bad]);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`moesim: error: ${bad}:1: experts[1] has 1 picks; expected top-2\n`);
  });
});
