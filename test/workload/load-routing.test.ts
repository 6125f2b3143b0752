/**
 * Load-level routing (workload/load-routing.ts): the count draws keep every step's total and bounds, and the
 * per-(layer, expert) load has the per-token mode's mean, within a tolerance derived from both modes' variances.
 */
import fc from "fast-check";
import { gatingInputArb } from "../policies/gating-input.js";
import { describe, expect, it } from "vitest";
import { getGatingPolicy } from "../../src/policies/gating/index.js";
import { rootStream } from "../../src/sim/rng.js";
import { synthesize, zipfSynthParams } from "../../src/workload/synth.js";
import {
  binomial,
  drawExpertLoads,
  loadTrace,
  PILOT_SEQUENCES,
  PILOT_TOKENS,
} from "../../src/workload/load-routing.js";

describe("binomial", () => {
  it.each([
    [40, 0.1],
    [1000, 0.3],
    [50, 0.9],
  ])("Binomial(%i, %f): mean and variance within 4.5 standard errors of np and np(1 - p)", (n, p) => {
    const rng = rootStream("binomial-test");
    const M = 20000;
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < M; i++) {
      const x = binomial(rng, n, p);
      expect(x >= 0 && x <= n && Number.isInteger(x)).toBe(true);
      s += x;
      s2 += x * x;
    }
    const mean = s / M;
    const v = n * p * (1 - p);
    expect(Math.abs(mean - n * p)).toBeLessThan(4.5 * Math.sqrt(v / M));
    const variance = s2 / M - mean * mean;
    // The sample variance's standard error is about v sqrt(2 / M) for a near-normal law.
    expect(Math.abs(variance - v)).toBeLessThan(4.5 * v * Math.sqrt(2 / M) + 0.05 * v);
  });
});

describe("drawExpertLoads", () => {
  it("always makes exactly tokens x topK picks, each expert picked by at most every token", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4000 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 8, max: 300 }),
        fc.double({ min: 0, max: 2, noNaN: true }),
        fc.integer(),
        (tokens, topK, experts, zipf, seed) => {
          const p = zipfSynthParams({ layers: 1, experts, topK, zipf, seed });
          const incl = Float64Array.from(p.inclusion[0][0]);
          const out = new Int32Array(experts);
          drawExpertLoads(rootStream(seed), incl, tokens, topK, out);
          let total = 0;
          for (const x of out) {
            expect(x >= 0 && x <= tokens).toBe(true);
            total += x;
          }
          expect(total).toBe(tokens * topK);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("per-(layer, expert) total load has the per-token mode's mean (z-scores from both modes' variances)", () => {
    const locality = 0.1;
    const params = zipfSynthParams({ layers: 3, experts: 256, topK: 8, zipf: 0.8, locality, seed: 5 });
    const { layers: L, experts: E, topK: K } = params;
    // Token mode: the positions the pilot averages over (0..PILOT_TOKENS-1), as many tokens as the pilot.
    const seqs = 256;
    const tok = synthesize(params, { sequences: seqs, tokensPerSequence: PILOT_TOKENS, seed: "tokens" });
    const M = tok.tokens;
    const byTokens = Array.from({ length: L }, () => new Float64Array(E));
    for (let i = 0, q = 0; i < M; i++)
      for (let l = 0; l < L; l++) for (let k = 0; k < K; k++, q++) byTokens[l][tok.picks[q]]++;
    // Load mode: the same M tokens in steps of one token per request.
    const lt = loadTrace(params, { sequences: seqs, tokensPerSequence: PILOT_TOKENS, seed: "load" }, {});
    expect(lt.picks.length).toBe(0);
    expect(lt.tokens).toBe(M);
    const rng = rootStream(lt.loads!.seed);
    const byLoad = Array.from({ length: L }, () => new Float64Array(E));
    const out = new Int32Array(E);
    for (let step = 0; step < PILOT_TOKENS; step++)
      for (let l = 0; l < L; l++) {
        drawExpertLoads(rng, lt.loads!.inclusion[l], seqs, K, out);
        for (let e = 0; e < E; e++) byLoad[l][e] += out[e];
      }
    // Variances: a token includes e with probability pi; reuse of the previous token's experts (probability r)
    // correlates a request's tokens, inflating a sum's variance by at most (1 + r) / (1 - r). Load mode adds the
    // pilot's error on pi (P tokens, same inflation) times M^2.
    const f = (1 + locality) / (1 - locality);
    const P = PILOT_SEQUENCES * PILOT_TOKENS;
    const zs: number[] = [];
    const zNominal: number[] = [];
    for (let l = 0; l < L; l++)
      for (let e = 0; e < E; e++) {
        const pi = byTokens[l][e] / M;
        const v = f * M * pi * (1 - pi) + M * pi * (1 - pi) + (f * M * M * pi * (1 - pi)) / P;
        if (v === 0) {
          expect(byLoad[l][e]).toBe(0);
          continue;
        }
        zs.push((byLoad[l][e] - byTokens[l][e]) / Math.sqrt(v));
        // The parameters' nominal inclusion (what a draw from them alone would give): the mean it implies.
        zNominal.push((M * params.inclusion[0][l][e] - byTokens[l][e]) / Math.sqrt(f * M * pi * (1 - pi)));
      }
    const maxZ = Math.max(...zs.map(Math.abs));
    const meanZ2 = zs.reduce((a, z) => a + z * z, 0) / zs.length;
    expect(maxZ).toBeLessThan(4.5);
    expect(meanZ2).toBeLessThan(1.5);
    // The test can fail: the nominal inclusion (successive sampling picks hot experts less often) is far off.
    expect(Math.max(...zNominal.map(Math.abs))).toBeGreaterThan(6);
  });
});

const planInput = gatingInputArb({ minTokens: 1, tokenBytes: [2, 4096] });

describe("planFromLoads", () => {
  it("property: from the picks' per-expert loads, the dropless gates' plan has the per-token plan's per-expert rows, per-GPU send and receive totals and buffers", () => {
    fc.assert(
      fc.property(planInput, fc.integer({ min: 1, max: 8 }), (input, blockSize) => {
        const loads = new Int32Array(input.experts);
        for (const e of input.picks as Int32Array) loads[e]++;
        const perGpu = new Int32Array(input.gpus);
        for (const g of input.tokenGpu) perGpu[g]++;
        const li = { ...input, tokensPerGpu: perGpu, expertLoads: loads };
        for (const name of ["dynamic", "fastmoe", "megablocks"]) {
          const pol = getGatingPolicy(name);
          const a = pol.plan(input, { blockSize });
          const b = pol.planFromLoads!(li, { blockSize });
          expect(Array.from(b.expertRows)).toEqual(Array.from(a.expertRows));
          expect(Array.from(b.expertTokens)).toEqual(Array.from(a.expertTokens));
          expect([b.dispatched, b.dropped, b.padded, b.combined]).toEqual([
            a.dispatched,
            a.dropped,
            a.padded,
            a.combined,
          ]);
          expect([...b.activeExperts!].sort((x, y) => x - y)).toEqual([...a.activeExperts!].sort((x, y) => x - y));
          const D = input.gpus;
          for (let g = 0; g < D; g++) {
            let sa = 0,
              sb = 0,
              ra = 0,
              rb = 0;
            for (let d = 0; d < D; d++) {
              sa += a.sendBytes[g * D + d];
              sb += b.sendBytes[g * D + d];
              ra += a.sendBytes[d * D + g];
              rb += b.sendBytes[d * D + g];
            }
            expect(sb).toBeCloseTo(sa, 6);
            expect(rb).toBeCloseTo(ra, 6);
            expect(b.bufferBytesPerGpu[g]).toBeCloseTo(a.bufferBytesPerGpu[g], 6);
          }
          // Reusing the plan's arrays gives the same plan.
          const c = pol.planFromLoads!(li, { blockSize, reuse: b });
          expect(Array.from(c.expertRows)).toEqual(Array.from(a.expertRows));
        }
      }),
      { numRuns: 150 },
    );
  });
});
