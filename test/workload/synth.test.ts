import { beforeAll, describe, expect, it } from "vitest";
import { readTrace } from "../../src/workload/read.js";
import { traceStats, type TraceStats } from "../../src/workload/stats.js";
import { GuidedCdf, loadSynthParams, synthesize, zipfSynthParams, type SynthParams } from "../../src/workload/synth.js";
import { fitSynth } from "../../src/workload/synth-fit.js";
import { searchCdf } from "../../src/sim/rng.js";
import fc from "fast-check";
import { readBinaryTrace } from "../../src/workload/read.js";
import { UserError } from "../../src/util/errors.js";
import { haveReal, REAL_TRACE, repoRoot } from "./shared.js";
import { join } from "node:path";

const rel = (a: number, b: number) => Math.abs(a / b - 1);

describe.skipIf(!haveReal)("synthetic routing fitted to the real OLMoE trace", () => {
  let real: TraceStats;
  let params: SynthParams;
  let syn: TraceStats;
  beforeAll(async () => {
    const trace = await readTrace(REAL_TRACE);
    real = traceStats(trace);
    params = fitSynth(trace);
    // Same request count and lengths as the real trace (mean ~128).
    syn = traceStats(
      synthesize(params, { sequences: 400, tokensPerSequence: [params.lengths!.min, params.lengths!.max], seed: 42 }),
    );
    const f = (x: number) => x.toFixed(3);
    console.log(
      `skew (mean Gini) real ${f(real.skew.mean.gini)} synthetic ${f(syn.skew.mean.gini)}; ` +
        `max/mean real ${f(real.skew.mean.maxOverMean)} synthetic ${f(syn.skew.mean.maxOverMean)}; ` +
        `reuse real ${f(real.reuseRate)} synthetic ${f(syn.reuseRate)}; ` +
        `cross-layer MI real ${f(real.crossLayerMI)} synthetic ${f(syn.crossLayerMI)}; ` +
        `co-activation MI real ${f(real.coActivationMI)} synthetic ${f(syn.coActivationMI)}`,
    );
  });

  it("matches the per-layer popularity skew within 10%", () => {
    for (let l = 0; l < real.layers; l++)
      expect(rel(syn.skew.perLayer[l].gini, real.skew.perLayer[l].gini)).toBeLessThan(0.1);
    expect(rel(syn.skew.mean.gini, real.skew.mean.gini)).toBeLessThan(0.1);
    expect(rel(syn.skew.mean.maxOverMean, real.skew.mean.maxOverMean)).toBeLessThan(0.1);
    expect(rel(syn.skew.mean.zipfS, real.skew.mean.zipfS)).toBeLessThan(0.1);
  });

  it("matches the token-to-token expert reuse rate within 10% (overall and per layer)", () => {
    expect(rel(syn.reuseRate, real.reuseRate)).toBeLessThan(0.1);
    for (let l = 0; l < real.layers; l++) expect(rel(syn.reusePerLayer[l], real.reusePerLayer[l])).toBeLessThan(0.1);
  });

  it("has cross-layer correlation and co-activation well beyond an independent model", () => {
    const indep = traceStats(
      synthesize(zipfSynthParams({ layers: 16, experts: 64, topK: 8, zipf: real.skew.mean.zipfS, locality: 0.3 }), {
        sequences: 100,
        tokensPerSequence: 128,
        seed: 1,
      }),
    );
    expect(indep.crossLayerMI).toBeLessThan(0.05);
    expect(syn.crossLayerMI).toBeGreaterThan(0.7 * real.crossLayerMI);
    expect(syn.coActivationMI).toBeGreaterThan(0.7 * real.coActivationMI);
  });

  it("the shipped fitted parameters reproduce the same statistics", () => {
    const shipped = loadSynthParams("olmoe-1b-7b");
    expect(rel(shipped.fittedFrom!.reuseRate, real.reuseRate)).toBeLessThan(1e-4);
    const s = traceStats(synthesize(shipped, { sequences: 200, tokensPerSequence: 128, seed: 3 }), {
      correlations: false,
    });
    expect(rel(s.reuseRate, real.reuseRate)).toBeLessThan(0.1);
    expect(rel(s.skew.mean.gini, real.skew.mean.gini)).toBeLessThan(0.1);
  });
});

describe("synthesize", () => {
  const p = zipfSynthParams({ layers: 3, experts: 16, topK: 4, zipf: 1.2, locality: 0.5 });
  it("is deterministic in the seed and differs across seeds", () => {
    const a = synthesize(p, { sequences: 5, tokensPerSequence: [3, 9], seed: "s" });
    const b = synthesize(p, { sequences: 5, tokensPerSequence: [3, 9], seed: "s" });
    const c = synthesize(p, { sequences: 5, tokensPerSequence: [3, 9], seed: "t" });
    expect(Array.from(a.picks)).toEqual(Array.from(b.picks));
    expect(Array.from(a.picks)).not.toEqual(Array.from(c.picks));
  });
  it("every token picks top-k distinct experts in range", () => {
    const t = synthesize(p, { sequences: 20, tokensPerSequence: [1, 40], seed: 9 });
    for (let i = 0; i < t.tokens * t.layers; i++) {
      const s = new Set(t.picks.subarray(i * 4, i * 4 + 4));
      expect(s.size).toBe(4);
      for (const e of s) expect(e).toBeLessThan(16);
    }
    expect(new Set(t.seq).size).toBe(20);
  });
  it("inclusion probabilities sum to top-k and stay in [0, 1], top-k = experts included (every expert always picked)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 24 }),
        fc.integer({ min: 0, max: 24 }),
        fc.double({ min: 0, max: 3, noNaN: true }),
        (E, k0, zipf) => {
          const topK = 1 + (k0 % E);
          const q = zipfSynthParams({ layers: 2, experts: E, topK, zipf, seed: E * 31 + topK });
          for (const row of q.inclusion[0]) {
            expect(row.reduce((a, x) => a + x, 0)).toBeCloseTo(topK, 9);
            for (const x of row) expect(x >= 0 && x <= 1).toBe(true);
            // top-k = experts: every expert at 1 (to the last bit of the rescaling: 1 - 1e-16 is 1 here)
            if (topK === E) for (const x of row) expect(x).toBeCloseTo(1, 12);
          }
        },
      ),
    );
    const all = synthesize(zipfSynthParams({ layers: 1, experts: 4, topK: 4, zipf: 0.5 }), {
      sequences: 3,
      tokensPerSequence: 5,
      seed: 2,
    });
    for (let i = 0; i < all.tokens; i++) expect([...all.picks.subarray(i * 4, i * 4 + 4)].sort()).toEqual([0, 1, 2, 3]);
  });
  it("locality 0 gives chance reuse, locality 1 copies the previous token", () => {
    const q = (loc: number) =>
      traceStats(synthesize({ ...p, reuse: [loc, loc, loc] }, { sequences: 50, tokensPerSequence: 50, seed: 1 }), {
        correlations: false,
      }).reuseRate;
    expect(q(1)).toBe(1);
    // Independent draws with inclusion pi: expected overlap sum(pi^2) / k per layer.
    const chance = p.inclusion[0].reduce((a, row) => a + row.reduce((x, pi) => x + pi * pi, 0) / 4, 0) / 3;
    expect(Math.abs(q(0) - chance)).toBeLessThan(0.02);
    expect(q(0.6)).toBeGreaterThan(0.6 + 0.4 * chance - 0.05);
  });
  it("the shipped quickstart trace reads and has the OLMoE shape", () => {
    const t = readBinaryTrace(join(repoRoot, "scenarios/traces/quickstart.mtrace"));
    expect([t.layers, t.experts, t.topK]).toEqual([16, 64, 8]);
    expect(t.meta.source).toMatch(/^synthetic:/);
  });
  it("bad parameters and unknown names are UserErrors", () => {
    expect(() => loadSynthParams("no-such-set")).toThrow(UserError);
    expect(() => synthesize({ ...p, reuse: [0] }, { sequences: 1, tokensPerSequence: 1, seed: 1 })).toThrow(
      /"reuse" must have 3 entries/,
    );
  });
});

describe("GuidedCdf (the synthesiser's O(1) inverse-CDF search)", () => {
  it("property: returns exactly what the binary search returns, zero weights and boundary draws included", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(fc.constant(0), fc.double({ min: 1e-9, max: 10, noNaN: true }), fc.integer({ min: 1, max: 5 })),
          { minLength: 1, maxLength: 600 },
        ),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), { minLength: 1, maxLength: 50 }),
        (w, us) => {
          const g = new GuidedCdf(w);
          const draws = [...us.map((u) => u * g.total), 0, g.total, ...Array.from(g.cdf.slice(0, 20))];
          for (const u of draws) expect(g.search(u)).toBe(searchCdf(g.cdf, u));
        },
      ),
      { numRuns: 300, seed: 11 },
    );
  });
});
