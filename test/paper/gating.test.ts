import { describe, expect, it } from "vitest";
import { batchOf, expectGolden, gatingOf, runFigure, type FigurePoint } from "./helpers.js";

/** Checks the paper's main gating finding on one figure: dynamic gating is the fastest at every batch size. */
function expectDynamicFastest(points: FigurePoint[]): void {
  const batches = [...new Set(points.map(batchOf))];
  for (const b of batches) {
    const at = points.filter((p) => batchOf(p) === b);
    const dyn = at.find((p) => gatingOf(p) === "dynamic")!;
    expect(dyn.summary.oom, `dynamic OOM at batch ${b}`).toBe(false);
    for (const p of at) {
      if (p === dyn || p.summary.oom) continue;
      expect(dyn.summary.tokens_per_s, `dynamic vs ${gatingOf(p)} at batch ${b}`).toBeGreaterThan(
        p.summary.tokens_per_s,
      );
    }
  }
}

function table(points: FigurePoint[]): string {
  const policies = [...new Set(points.map(gatingOf))];
  const batches = [...new Set(points.map(batchOf))];
  const rows = batches.map((b) =>
    [
      String(b).padStart(6),
      ...policies.map((g) => {
        const p = points.find((x) => batchOf(x) === b && gatingOf(x) === g)!;
        return (p.summary.oom ? "OOM" : p.summary.tokens_per_s.toFixed(0)).padStart(11);
      }),
    ].join(""),
  );
  return ["batch".padStart(6) + policies.map((g) => g.padStart(11)).join(""), ...rows].join("\n");
}

const golden = (points: FigurePoint[]) =>
  points.map((p) => ({
    gating: gatingOf(p),
    batch: batchOf(p),
    tokens_per_s: p.summary.tokens_per_s,
    oom: p.summary.oom,
    activation_bytes: p.summary.memory.peak_activation_bytes,
  }));

describe("paper: gating (Huang et al. Fig. throughput vs batch size)", () => {
  it("LM 52B on 8x V100: dynamic fastest at every batch; static OOMs at the largest batches", async () => {
    const pts = await runFigure("gating-lm", (p) =>
      [8, 64, 128, 512].includes(Number(p["workload.batching.batch_size"])),
    );
    console.log("LM tokens/s\n" + table(pts));
    expectDynamicFastest(pts);
    const st = (b: number) => pts.find((p) => gatingOf(p) === "static" && batchOf(p) === b)!.summary;
    expect(st(8).oom).toBe(false);
    expect(st(64).oom).toBe(false); // 8 sequences per GPU: the paper's static maximum
    expect(st(128).oom).toBe(true);
    expect(st(512).oom).toBe(true);
    // Dynamic gating fits 8x the batch of static (the paper: 64 vs 8 per GPU).
    expect(pts.find((p) => gatingOf(p) === "dynamic" && batchOf(p) === 512)!.summary.oom).toBe(false);
    const oomDetail = st(128).oom_detail as { gpu: string; requestedBytes: number; freeBytes: number };
    expect(oomDetail.requestedBytes).toBeGreaterThan(oomDetail.freeBytes);
    // Stated tolerance: dynamic over static at 8 sequences per GPU within 3x of the paper's 6.21x.
    const ratio =
      pts.find((p) => gatingOf(p) === "dynamic" && batchOf(p) === 64)!.summary.tokens_per_s / st(64).tokens_per_s;
    console.log(`LM dynamic/static at 8 seq/GPU: ${ratio.toFixed(2)}x (paper 6.21x)`);
    expect(ratio).toBeGreaterThan(6.21 / 3);
    expect(ratio).toBeLessThan(6.21 * 3);
    expectGolden("gating-lm", golden(pts));
  });

  it("LM activation memory: dynamic 1.0-1.6 GB, static above 5 GB (paper 1.28 vs 6.29 GB)", async () => {
    const pts = await runFigure("activation-memory");
    const lm = pts.filter((p) => p.params["model.preset"] === undefined);
    const gb = (g: string) => lm.find((p) => gatingOf(p) === g)!.summary.memory.peak_activation_bytes / 1e9;
    console.log(`LM activation memory: static ${gb("static").toFixed(2)} GB, dynamic ${gb("dynamic").toFixed(2)} GB`);
    expect(gb("dynamic")).toBeGreaterThanOrEqual(1.0);
    expect(gb("dynamic")).toBeLessThanOrEqual(1.6);
    expect(gb("static")).toBeGreaterThan(5);
    const mt = pts.filter((p) => p.params["model.preset"] === "nllb-moe-54b");
    const mgb = (g: string) => mt.find((p) => gatingOf(p) === g)!.summary.memory.peak_activation_bytes / 1e9;
    console.log(
      `MT activation memory: static ${mgb("static").toFixed(2)} GB, dynamic ${mgb("dynamic").toFixed(2)} GB (paper 1.89 vs 1.05)`,
    );
    expect(mgb("dynamic")).toBeLessThan(mgb("static"));
    expectGolden("activation-memory", golden(pts));
  });

  it("MT encoder and decoder: dynamic fastest at every batch size", async () => {
    const enc = await runFigure("gating-mt-encoder");
    console.log("MT encoder tokens/s\n" + table(enc));
    expectDynamicFastest(enc);
    const dec = await runFigure("gating-mt-decoder");
    console.log("MT decoder tokens/s\n" + table(dec));
    expectDynamicFastest(dec);
    expectGolden("gating-mt-encoder", golden(enc));
    expectGolden("gating-mt-decoder", golden(dec));
  });
});
