import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { getPlacementPolicy, placementPolicies, activationCorrelation } from "../../src/policies/placement/index.js";
import { gpuLoadShares, maxShareStats } from "../../src/policies/access.js";
import type { RoutingTrace } from "../../src/workload/trace.js";

describe("placement policies", () => {
  it("contiguous and round-robin", () => {
    const load = new Float64Array(8);
    expect(Array.from(getPlacementPolicy("contiguous").place({ experts: 8, gpus: 4, load }).expertGpu)).toEqual([
      0, 0, 1, 1, 2, 2, 3, 3,
    ]);
    expect(Array.from(getPlacementPolicy("round-robin").place({ experts: 8, gpus: 4, load }).expertGpu)).toEqual([
      0, 1, 2, 3, 0, 1, 2, 3,
    ]);
    expect(() => getPlacementPolicy("random")).toThrow(/contiguous, round-robin, greedy, anti-correlation or eplb/);
  });

  it("greedy: heaviest first onto the least loaded GPU with room", () => {
    const load = Float64Array.from([8, 7, 6, 5, 4, 3, 2, 1]);
    const p = getPlacementPolicy("greedy").place({ experts: 8, gpus: 2, load });
    // 8->0, 7->1, 6->1 (7<8), 5->0 (8<13), 4->0 (tie 13,13), 3->1 (13<17), 2->1 (16<17), 1->0 (GPU 1 full)
    expect(Array.from(p.expertGpu)).toEqual([0, 1, 1, 0, 0, 1, 1, 0]); // by expert id; loads 18 and 18
  });

  it("anti-correlation separates experts that fire together; greedy does not", () => {
    // experts 0 and 2 always together, 1 and 3 together, the pairs alternate; equal loads
    const active = new Uint8Array(10 * 4);
    for (let b = 0; b < 10; b++) for (const e of b % 2 ? [1, 3] : [0, 2]) active[b * 4 + e] = 1;
    const corr = activationCorrelation(4, { batches: 10, active });
    expect(corr[0 * 4 + 2]).toBeCloseTo(1);
    expect(corr[0 * 4 + 1]).toBeCloseTo(-1);
    const input = { experts: 4, gpus: 2, load: Float64Array.from([5, 5, 5, 5]), activations: { batches: 10, active } };
    const g = getPlacementPolicy("greedy").place(input).expertGpu;
    const a = getPlacementPolicy("anti-correlation").place(input).expertGpu;
    expect(g[0]).toBe(g[2]); // greedy co-locates the pair
    expect(a[0]).not.toBe(a[2]);
    expect(a[1]).not.toBe(a[3]);
  });

  it("every policy respects the slots per GPU, places every expert and leaves its inputs unchanged", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 0, max: 3 }),
        fc.array(fc.nat(100), { minLength: 20, maxLength: 20 }),
        (experts, gpus, rep, loads) => {
          const load = Float64Array.from(loads.slice(0, experts));
          const active = Uint8Array.from({ length: 5 * experts }, (_, i) => ((loads[i % 20] + i) % 3 === 0 ? 1 : 0));
          const loadBefore = Array.from(load);
          const activeBefore = Array.from(active);
          for (const p of placementPolicies.values()) {
            const pl = p.place({ experts, gpus, load, activations: { batches: 5, active }, replicateHot: rep });
            // inputs are shared between runs (load is cached per trace): a policy must not write them
            expect(Array.from(load), p.name).toEqual(loadBefore);
            expect(Array.from(active), p.name).toEqual(activeBefore);
            const used = new Array(gpus).fill(0);
            for (const g of pl.expertGpu) used[g]++;
            if (p.name === "eplb") {
              // EPLB's redundant copies: at least rep of them, rounded up so that every GPU holds as many copies
              const perGpu = Math.ceil((experts + rep) / gpus);
              pl.replicas?.forEach((r) => r.forEach((g) => used[g]++));
              expect(used).toEqual(new Array(gpus).fill(perGpu));
              continue;
            }
            for (const u of used) expect(u).toBeLessThanOrEqual(Math.ceil(experts / gpus));
            if (rep > 0 && gpus > 1) {
              const copies = pl.replicas!.filter((r) => r.length > 0).length;
              expect(copies).toBe(Math.min(rep, experts));
              pl.replicas!.forEach((r, e) => r.forEach((g) => expect(g).not.toBe(pl.expertGpu[e])));
            }
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it("GPU load shares sum to 1 per batch and split replicated experts", () => {
    // 2 tokens, 1 layer, top-2, 4 experts
    const trace: RoutingTrace = {
      layers: 1,
      experts: 4,
      topK: 2,
      tokens: 2,
      picks: Uint16Array.from([0, 1, 0, 2]),
      seq: Int32Array.of(0, 1),
      step: Int32Array.of(0, 0),
      meta: {},
    };
    const batches = [Int32Array.of(0, 1)];
    const base = { expertGpu: Int32Array.of(0, 0, 1, 1) };
    expect(Array.from(gpuLoadShares(trace, batches, 0, base, 2))).toEqual([0.75, 0.25]);
    const rep = { ...base, replicas: [Int32Array.of(1), new Int32Array(0), new Int32Array(0), new Int32Array(0)] };
    expect(Array.from(gpuLoadShares(trace, batches, 0, rep, 2))).toEqual([0.5, 0.5]);
    expect(maxShareStats(Float64Array.of(0.75, 0.25, 0.5, 0.5, 0, 0), 2)).toEqual({
      worst: 0.75,
      mean: 0.625,
      batches: 2,
    });
  });
});
