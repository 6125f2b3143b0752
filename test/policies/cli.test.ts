import { describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../cli-runner.js";
import { rootStream } from "../../src/sim/rng.js";

/** A small synthetic trace in the OLMoE JSONL format: 8 requests, 2 layers, 16 experts, top-2. */
function writeTrace(dir: string): string {
  const rng = rootStream(7).child("cli-trace");
  const lines = [
    JSON.stringify({
      format: "moe-routing-trace/v1",
      model: "tiny",
      layers: 2,
      experts: 16,
      top_k: 2,
      expert_bytes: 1000,
    }),
  ];
  for (let s = 0; s < 8; s++) {
    for (let step = 0; step < 5 + s; step++) {
      const experts = [0, 1].map(() => {
        const a = rng.zipf(16, 1.1);
        let b = rng.int(16);
        if (b === a) b = (a + 1) % 16;
        return [a, b];
      });
      lines.push(JSON.stringify({ seq: s, step, token: 1, experts }));
    }
  }
  const path = join(dir, "tiny.jsonl");
  writeFileSync(path, lines.join("\n") + "\n");
  return path;
}

const cli = runCli;

describe("moesim cache / placement", () => {
  const dir = mkdtempSync(join(tmpdir(), "moesim-cache-"));
  const trace = writeTrace(dir);

  it("cache --json prints one JSON array; --out writes CSV, JSON and a Vega-Lite spec", async () => {
    const outDir = join(dir, "out");
    const r = await cli([
      "cache",
      "--trace",
      trace,
      "--policies",
      "lru,belady",
      "--slots",
      "1..3",
      "--gpus",
      "2",
      "--batch",
      "4",
      "--json",
      "--out",
      outDir,
    ]);
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.out) as Record<string, number | string>[];
    expect(rows).toHaveLength(6);
    for (const row of rows) {
      expect(Object.keys(row)).toEqual(["policy", "slots", "requests", "misses", "miss_rate", "bytes_moved"]);
      expect(row.bytes_moved).toBe((row.misses as number) * 1000);
    }
    for (const s of [1, 2, 3]) {
      const m = (p: string) => rows.find((x) => x.policy === p && x.slots === s)!.misses as number;
      expect(m("belady")).toBeLessThanOrEqual(m("lru"));
    }
    expect(readFileSync(join(outDir, "cache.csv"), "utf8").split("\n")[0]).toBe(
      "policy,slots,requests,misses,miss_rate,bytes_moved",
    );
    expect(JSON.parse(readFileSync(join(outDir, "cache.json"), "utf8"))).toEqual(rows);
    expect(existsSync(join(outDir, "cache-missrate.vl.json"))).toBe(true);
  });

  it("cache prints a table without --json", async () => {
    const out = join(dir, "table");
    const r = await cli(["cache", "--trace", trace, "--slots", "2", "--gpus", "4", "--batch", "2", "--out", out]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/miss rate/);
    // The report is written by default, beside the results.
    expect(existsSync(join(out, "report", "report.html"))).toBe(true);
    for (const p of ["lifo-paper", "lru", "belady"]) expect(r.out).toContain(p);
  });

  it("user errors exit 2 with one line", async () => {
    const bad = await cli(["cache", "--trace", trace, "--policies", "mru"]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--policies: unknown name 'mru'; expected 'all' or .*belady/);
    expect((await cli(["cache", "--trace", trace, "--slots", "3..1"])).code).toBe(2);
    expect((await cli(["placement", "--trace", trace, "--gpus", "0"])).code).toBe(2);
  });

  it("placement --json prints worst and mean max GPU share per policy", async () => {
    const r = await cli(["placement", "--trace", trace, "--gpus", "4", "--batch", "4", "--json"]);
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.out) as {
      policy: string;
      worst_max_share: number;
      mean_max_share: number;
      ideal_share: number;
    }[];
    expect(rows.map((x) => x.policy)).toEqual(["contiguous", "round-robin", "greedy", "anti-correlation", "eplb"]);
    for (const x of rows) {
      expect(x.ideal_share).toBe(0.25);
      expect(x.worst_max_share).toBeGreaterThanOrEqual(x.mean_max_share);
      expect(x.mean_max_share).toBeGreaterThanOrEqual(0.25);
    }
  });

  it("placement --fit-fraction judges on the held-out batches; a bad fraction is one line, exit 2", async () => {
    const all = JSON.parse(
      (await cli(["placement", "--trace", trace, "--gpus", "4", "--batch", "4", "--json"])).out,
    ) as { batches_judged: number }[];
    const r = await cli([
      "placement",
      "--trace",
      trace,
      "--gpus",
      "4",
      "--batch",
      "4",
      "--fit-fraction",
      "0.25",
      "--json",
    ]);
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.out) as { batches_judged: number }[];
    expect(rows[0].batches_judged).toBe(all[0].batches_judged - Math.floor(all[0].batches_judged * 0.25));
    for (const bad of ["0", "1", "x", ""]) {
      const b = await cli(["placement", "--trace", trace, "--fit-fraction", bad]);
      expect(b.code).toBe(2);
      expect(b.err.trim().split("\n")).toHaveLength(1);
      expect(b.err).toMatch(/--fit-fraction: expected a number between 0 and 1/);
    }
  });
});
