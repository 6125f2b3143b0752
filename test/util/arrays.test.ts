import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { minMax } from "../../src/util/arrays.js";
import type { RoutingTrace } from "../../src/workload/trace.js";
import { fitSynth } from "../../src/workload/synth-fit.js";

describe("minMax", () => {
  it("equals Math.min and Math.max on arrays small enough to spread", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ noNaN: true }), { minLength: 1, maxLength: 200 }), (xs) => {
        expect(minMax(xs)).toEqual([Math.min(...xs), Math.max(...xs)]);
        expect(minMax(Float64Array.from(xs))).toEqual([Math.min(...xs), Math.max(...xs)]);
      }),
    );
    expect(minMax([])).toEqual([Infinity, -Infinity]);
  });

  it("takes arrays far past the argument limit that makes a spread throw", () => {
    const big = Array.from({ length: 2_000_000 }, (_, i) => (i * 7919) % 1_000_003);
    big[1_234_567] = -5;
    expect(() => Math.min(...big)).toThrow(RangeError); // what `trace fit` did on big traces
    expect(minMax(big)).toEqual([-5, 1_000_002]);
  });

  it("trace fit on a trace of 1,000,000 requests (one length per request) no longer throws a RangeError", () => {
    const T = 1_000_000;
    const seq = Int32Array.from({ length: T }, (_, t) => (t < 4 ? 0 : t)); // request 0 has 4 tokens
    const step = Int32Array.from({ length: T }, (_, t) => (t < 4 ? t : 0));
    const picks = Uint16Array.from({ length: T }, (_, t) => (t * 3) % 4);
    const trace: RoutingTrace = { layers: 1, experts: 4, topK: 1, tokens: T, picks, seq, step, meta: {} };
    const p = fitSynth(trace, { clusters: 2, iterations: 1, calibrationRounds: 1 });
    expect(p.lengths).toMatchObject({ min: 1, max: 4 });
  });
});
