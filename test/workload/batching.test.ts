import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { rootStream } from "../../src/sim/rng.js";
import { ContinuousBatcher, staticBatches } from "../../src/workload/batching.js";
import type { RoutingTrace } from "../../src/workload/trace.js";

/** A trace whose requests have the given lengths, interleaved round-robin in token order. */
function traceOf(lengths: number[]): RoutingTrace {
  const seq: number[] = [];
  const step: number[] = [];
  const max = Math.max(0, ...lengths);
  for (let s = 0; s < max; s++)
    lengths.forEach((n, r) => {
      if (s < n) {
        seq.push(r * 10);
        step.push(s);
      }
    });
  return {
    layers: 1,
    experts: 2,
    topK: 1,
    tokens: seq.length,
    picks: new Uint16Array(seq.length),
    seq: Int32Array.from(seq),
    step: Int32Array.from(step),
    meta: {},
  };
}

describe("static batching", () => {
  it("groups B requests; step s holds the s-th token of each request still running", () => {
    const t = traceOf([3, 1, 2]);
    const steps = staticBatches(t, 2).map((s) => Array.from(s, (i) => [t.seq[i], t.step[i]]));
    expect(steps).toEqual([
      [
        [0, 0],
        [10, 0],
      ],
      [[0, 1]],
      [[0, 2]],
      [[20, 0]],
      [[20, 1]],
    ]);
  });
  it("every token appears exactly once, steps of one request in order (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 15 }),
        fc.integer({ min: 1, max: 6 }),
        (lens, b) => {
          const t = traceOf(lens);
          const steps = staticBatches(t, b);
          const seen = new Int32Array(t.tokens);
          const last = new Map<number, number>();
          for (const s of steps) {
            expect(s.length).toBeLessThanOrEqual(b);
            for (const i of s) {
              seen[i]++;
              expect(t.step[i]).toBe((last.get(t.seq[i]) ?? -1) + 1);
              last.set(t.seq[i], t.step[i]);
            }
          }
          expect(seen.every((x) => x === 1)).toBe(true);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe("continuous batching", () => {
  it("all-at-once: runs up to maxBatch, a finished request's slot goes to the next", () => {
    const t = traceOf([2, 1, 3]);
    const b = new ContinuousBatcher(t, { maxBatch: 2, arrival: { kind: "all-at-once" } }, rootStream(1));
    const got: number[][] = [];
    for (let now = 0; ; now += 10) {
      const s = b.nextStep(now);
      if (s === null) break;
      got.push(Array.from(s, (i) => t.seq[i]));
    }
    expect(got).toEqual([[0, 10], [0, 20], [20], [20]]);
    const st = b.requestStats();
    expect(Array.from(st.endNs)).toEqual([20, 10, 40]);
    expect(Array.from(st.firstTokenNs)).toEqual([10, 10, 20]);
  });
  it("waits for arrivals from a timestamps file; nextArrivalNs gives the idle wait", () => {
    const dir = mkdtempSync(join(tmpdir(), "moesim-arr-"));
    const p = join(dir, "arrivals.txt");
    writeFileSync(p, "arrival_s\n0.5\n1.0\n");
    const t = traceOf([1, 1]);
    const b = new ContinuousBatcher(t, { maxBatch: 4, arrival: { kind: "timestamps", path: p } }, rootStream(1));
    expect(b.nextStep(0)!.length).toBe(0);
    expect(b.nextArrivalNs()).toBe(500_000_000);
    expect(Array.from(b.nextStep(500_000_000)!)).toEqual([0]);
    expect(b.nextStep(600_000_000)!.length).toBe(0);
    expect(b.nextStep(1_000_000_000)!.length).toBe(1);
    expect(b.nextStep(1_100_000_000)).toBeNull();
  });
  it("Poisson arrivals have the requested mean rate and are seeded", () => {
    const t = traceOf(new Array(2000).fill(1));
    const mk = (seed: number) =>
      new ContinuousBatcher(t, { maxBatch: 8, arrival: { kind: "poisson", ratePerS: 100 } }, rootStream(seed));
    const a = mk(5).requestStats().arrivalNs;
    expect(Array.from(mk(5).requestStats().arrivalNs)).toEqual(Array.from(a));
    const meanGapS = a[a.length - 1] / a.length / 1e9;
    // Mean of 2000 exponential gaps: sd/mean = 1/sqrt(2000) ~ 2.2%; 10% is > 4 sd.
    expect(Math.abs(meanGapS / 0.01 - 1)).toBeLessThan(0.1);
  });
  it("never exceeds maxBatch and emits every token once (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 10 }), { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer(),
        (lens, mb, seed) => {
          const t = traceOf(lens);
          const b = new ContinuousBatcher(
            t,
            { maxBatch: mb, arrival: { kind: "poisson", ratePerS: 1000 } },
            rootStream(seed),
          );
          const seen = new Int32Array(t.tokens);
          let now = 0;
          for (let guard = 0; guard < 10_000; guard++) {
            const s = b.nextStep(now);
            if (s === null) break;
            expect(s.length).toBeLessThanOrEqual(mb);
            if (s.length === 0) now = b.nextArrivalNs()!;
            else now += 1000;
            for (const i of s) seen[i]++;
          }
          expect(seen.every((x) => x === 1)).toBe(true);
          expect(b.completed).toBe(lens.length);
        },
      ),
      { numRuns: 60 },
    );
  });
});
