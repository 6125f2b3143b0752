import { describe, expect, it } from "vitest";
import { expectGolden, runFigure } from "./helpers.js";

describe("paper: expert buffering", () => {
  it("miss rate vs cache size: Belady <= lifo-paper <= lifo, strictly between 2 and 7 slots", async () => {
    const pts = await runFigure("cache-miss-rate");
    const miss = (policy: string, slots: number) =>
      pts.find((p) => p.summary.policies.buffering === policy && p.summary.policies.slots === slots)!.summary.cache!;
    const lines = ["slots   lifo  lifo-paper  belady"];
    for (let s = 1; s <= 8; s++) {
      const [l, lp, b] = ["lifo", "lifo-paper", "belady"].map((p) => miss(p, s));
      lines.push(
        `${String(s).padStart(5)} ${l.miss_rate.toFixed(3).padStart(6)} ${lp.miss_rate.toFixed(3).padStart(11)} ${b.miss_rate.toFixed(3).padStart(7)}`,
      );
      expect(b.misses).toBeLessThanOrEqual(lp.misses);
      expect(lp.misses).toBeLessThanOrEqual(l.misses);
      if (s >= 2 && s <= 7) {
        expect(b.misses).toBeLessThan(lp.misses);
        expect(lp.misses).toBeLessThan(l.misses);
      }
      // Every policy serves the same requests; a hit moves no bytes.
      expect(lp.requests).toBe(l.requests);
      expect(b.bytes_moved).toBe(b.misses * (b.bytes_moved / Math.max(1, b.misses)));
    }
    console.log(lines.join("\n"));
    // More slots never hurt the paper's LIFO, and throughput follows the misses.
    for (let s = 2; s <= 8; s++)
      expect(miss("lifo-paper", s).misses).toBeLessThanOrEqual(miss("lifo-paper", s - 1).misses);
    expectGolden(
      "cache-miss-rate",
      pts.map((p) => ({
        policy: p.summary.policies.buffering,
        slots: p.summary.policies.slots,
        miss_rate: p.summary.cache!.miss_rate,
        tokens_per_s: p.summary.tokens_per_s,
      })),
    );
  });

  it("throughput and memory vs cache size: fewer slots save memory and cost throughput", async () => {
    // The LIFO curve (contiguous placement); the LIFO + anti-correlation curve is beside it in the figure.
    const pts = await runFigure("cache-throughput", (p) => p["policies.placement.policy"] === "contiguous");
    const rows = pts.map((p) => ({
      slots: p.summary.policies.slots ?? "all",
      tokens_per_s: p.summary.tokens_per_s,
      peak_bytes: p.summary.memory.peak_bytes_max,
    }));
    console.table(rows);
    for (let i = 1; i < rows.length; i++) {
      expect(rows[i].tokens_per_s).toBeGreaterThanOrEqual(rows[i - 1].tokens_per_s);
      expect(rows[i].peak_bytes).toBeGreaterThanOrEqual(rows[i - 1].peak_bytes);
    }
    expectGolden("cache-throughput", rows);
  });
});
