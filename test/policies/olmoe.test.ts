/**
 * The real OLMoE-1B-7B decode trace: 8 GPUs, contiguous placement (8 experts per GPU per layer),
 * batches of 16 requests decoding in lock step, one cache per (GPU, MoE layer).
 * The golden summary test/golden/cache-olmoe.json was written by
 *   npx moesim cache --trace ../shared/traces/olmoe-1b-7b-decode.jsonl.gz --policies all --slots 1..8 --gpus 8 --batch 16 --out DIR
 * (DIR/cache.json); review and copy it again when the policies change on purpose.
 */
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { compile } from "vega-lite";
import { loadOlmoe, realTraceMissing, repoRoot } from "./helpers.js";
import { bufferingPolicies } from "../../src/policies/buffering/index.js";
import { placementPolicies, getPlacementPolicy } from "../../src/policies/placement/index.js";
import {
  compareCachePolicies,
  comparePlacements,
  cacheMissRateSpec,
  type CacheRow,
} from "../../src/policies/compare.js";

const missing = realTraceMissing();
const golden = JSON.parse(readFileSync(resolve(repoRoot, "test/golden/cache-olmoe.json"), "utf8")) as CacheRow[];

describe.skipIf(missing !== null)(`real OLMoE trace${missing ? ` (skipped: ${missing})` : ""}`, () => {
  let rows: CacheRow[] = [];

  it("cache table for 1..8 slots matches the golden summary", async () => {
    const trace = await loadOlmoe();
    rows = compareCachePolicies(trace, {
      policies: [...bufferingPolicies.values()],
      slots: [1, 2, 3, 4, 5, 6, 7, 8],
      gpus: 8,
      batch: 16,
      placement: getPlacementPolicy("contiguous"),
      expertBytes: trace.meta.expertBytes as number,
    });
    expect(rows.map((r) => [r.policy, r.slots, r.requests, r.misses, r.bytes_moved])).toEqual(
      golden.map((r) => [r.policy, r.slots, r.requests, r.misses, r.bytes_moved]),
    );
    for (let i = 0; i < rows.length; i++) expect(rows[i].miss_rate).toBeCloseTo(golden[i].miss_rate, 12);
  });

  it("Belady is lowest at every size; lifo-paper below lifo; lrfu below lifo and lifo-paper", () => {
    const at = (p: string, s: number): number => rows.find((r) => r.policy === p && r.slots === s)!.misses;
    const table: Record<string, string[]> = {};
    for (const r of rows) (table[r.policy] ??= []).push(r.miss_rate.toFixed(4));
    console.log(
      "miss rate, slots 1..8\n" +
        Object.entries(table)
          .map(([p, v]) => `${p.padEnd(11)} ${v.join(" ")}`)
          .join("\n"),
    );
    for (let s = 1; s <= 8; s++) {
      for (const p of bufferingPolicies.keys()) expect(at("belady", s), `${p} at ${s}`).toBeLessThanOrEqual(at(p, s));
    }
    // at 1 slot every policy must evict the only resident, and 8 slots hold all 8 experts: all tie there
    for (let s = 2; s <= 7; s++) {
      for (const p of bufferingPolicies.keys())
        if (p !== "belady") expect(at("belady", s), `${p} at ${s}`).toBeLessThan(at(p, s));
      expect(at("lifo-paper", s)).toBeLessThan(at("lifo", s));
      expect(at("lrfu", s)).toBeLessThan(at("lifo", s));
      expect(at("lrfu", s)).toBeLessThan(at("lifo-paper", s));
    }
  });

  it("the miss-rate chart spec compiles with Vega-Lite", () => {
    const spec = cacheMissRateSpec(rows, "test");
    expect(() => compile(spec as never)).not.toThrow();
  });

  it("greedy and anti-correlation lower the worst batch's max GPU share vs contiguous", async () => {
    const trace = await loadOlmoe();
    const out = comparePlacements(trace, { policies: [...placementPolicies.values()], gpus: 8, batch: 16 });
    console.log(
      "max GPU share per (batch, layer): policy worst mean\n" +
        out
          .map((r) => `${r.policy.padEnd(17)} ${r.worst_max_share.toFixed(4)} ${r.mean_max_share.toFixed(4)}`)
          .join("\n"),
    );
    const get = (p: string) => out.find((r) => r.policy === p)!;
    expect(get("greedy").worst_max_share).toBeLessThan(get("contiguous").worst_max_share);
    expect(get("anti-correlation").worst_max_share).toBeLessThan(get("contiguous").worst_max_share);
    expect(get("greedy").mean_max_share).toBeLessThan(get("contiguous").mean_max_share);
    expect(get("anti-correlation").mean_max_share).toBeLessThan(get("contiguous").mean_max_share);
  });

  it("held out (fitted on the first half of the batches, judged on the second), greedy and anti-correlation still beat contiguous", async () => {
    const trace = await loadOlmoe();
    const all = Math.ceil(trace.tokens / 16); // 51,112 tokens in batches of 16 requests' tokens
    const out = comparePlacements(trace, {
      policies: [...placementPolicies.values()],
      gpus: 8,
      batch: 16,
      fitFraction: 0.5,
    });
    const get = (p: string) => out.find((r) => r.policy === p)!;
    for (const r of out) expect(r.batches_judged).toBeGreaterThan(0.4 * all);
    expect(new Set(out.map((r) => r.batches_judged)).size).toBe(1);
    expect(get("greedy").mean_max_share).toBeLessThan(get("contiguous").mean_max_share);
    expect(get("anti-correlation").mean_max_share).toBeLessThan(get("contiguous").mean_max_share);
    expect(get("anti-correlation").worst_max_share).toBeLessThan(get("contiguous").worst_max_share);
    // in-sample rows judge every batch
    expect(
      comparePlacements(trace, { policies: [placementPolicies.get("greedy")!], gpus: 8, batch: 16 })[0].batches_judged,
    ).toBeGreaterThan(out[0].batches_judged);
  });
});
