import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { balancedPacking, eplb, replicateExperts } from "../../src/policies/placement/eplb.js";
import type { Placement } from "../../src/policies/placement/types.js";
import { UserError } from "../../src/util/errors.js";

/** Token load per GPU when each expert's load is split evenly over its copies. */
function gpuLoads(p: Placement, load: number[], gpus: number): number[] {
  const out = new Array<number>(gpus).fill(0);
  load.forEach((l, e) => {
    const copies = [p.expertGpu[e], ...(p.replicas?.[e] ?? [])];
    for (const g of copies) out[g] += l / copies.length;
  });
  return out;
}

/** Copies (primary + replicas) per GPU. */
function copiesPerGpu(p: Placement, gpus: number): number[] {
  const out = new Array<number>(gpus).fill(0);
  p.expertGpu.forEach((g, e) => {
    out[g]++;
    for (const r of p.replicas?.[e] ?? []) out[r]++;
  });
  return out;
}

describe("EPLB placement (deepseek-ai/EPLB)", () => {
  it("balanced packing: heaviest first onto the lightest pack with room (hand-computed)", () => {
    // Sorted: 0 (10), 3 (8), 1 (1), 2 (1). 0 -> pack 0; 3 -> pack 1; 1 -> pack 1 (8 < 10); 2 -> pack 0 (pack 1 is full).
    expect([...balancedPacking([10, 1, 1, 8], 2)]).toEqual([0, 1, 0, 1]);
    // One item per pack: the identity.
    expect([...balancedPacking([1, 5, 3], 3)]).toEqual([0, 1, 2]);
  });

  it("replication: each extra copy goes to the highest load per copy (hand-computed)", () => {
    // [12, 2, 2, 4]: 12 > 4 -> expert 0 gets a 2nd copy (6 per copy); 6 > 4 -> a 3rd (4 per copy).
    const r = replicateExperts([12, 2, 2, 4], 6);
    expect([...r.expertOf]).toEqual([0, 1, 2, 3, 0, 0]);
    expect([...r.count]).toEqual([3, 1, 1, 1]);
  });

  it("global policy with redundancy balances a hot expert exactly (hand-computed)", () => {
    // Copies' loads [4, 2, 2, 4, 4, 4]; packed 3 per GPU: GPU 0 gets copies 0, 4, 1 and GPU 1 copies 3, 5, 2.
    const load = [12, 2, 2, 4];
    const p = eplb.place({ experts: 4, gpus: 2, load: Float64Array.from(load), redundantExperts: 2 });
    expect([...p.expertGpu]).toEqual([0, 0, 1, 1]);
    expect(p.replicas!.map((r) => [...r])).toEqual([[0, 1], [], [], []]);
    expect(gpuLoads(p, load, 2)).toEqual([10, 10]);
  });

  it("without redundancy on one node it is greedy with equal expert counts per GPU", () => {
    const p = eplb.place({ experts: 4, gpus: 2, load: Float64Array.of(10, 1, 1, 8), redundantExperts: 0 });
    expect([...p.expertGpu]).toEqual([0, 1, 0, 1]);
    expect(p.replicas).toBeUndefined();
  });

  it("hierarchical policy keeps every expert group on one node", () => {
    // 8 experts in 4 groups of 2, 2 nodes of 2 GPUs. Group loads: [11, 2, 9, 4] -> node 0: groups 0, 1; node 1: 2, 3.
    const load = [10, 1, 1, 1, 5, 4, 2, 2];
    const p = eplb.place({ experts: 8, gpus: 4, load: Float64Array.from(load), groups: 4, nodes: 2 });
    const node = (g: number) => Math.floor(g / 2);
    for (let g = 0; g < 4; g++) expect(node(p.expertGpu[2 * g])).toBe(node(p.expertGpu[2 * g + 1]));
    expect([...p.expertGpu].map(node)).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
  });

  it("by default, copies fill the slots each GPU has anyway", () => {
    // 5 experts on 2 GPUs: 3 slots each, so one redundant copy, of the busiest expert.
    const p = eplb.place({ experts: 5, gpus: 2, load: Float64Array.of(1, 9, 2, 3, 4) });
    expect(copiesPerGpu(p, 2)).toEqual([3, 3]);
    expect(p.replicas![1]).toHaveLength(1);
  });

  it("an uneven physical count is a user error naming the valid redundancies", () => {
    expect(() => eplb.place({ experts: 64, gpus: 8, load: new Float64Array(64), redundantExperts: 3 })).toThrow(
      UserError,
    );
    expect(() => eplb.place({ experts: 64, gpus: 8, load: new Float64Array(64), redundantExperts: 3 })).toThrow(
      /use 0 or 8 redundant/,
    );
  });

  it("property: every GPU holds exactly (experts + redundant) / GPUs copies, groups stay on their node", () => {
    const arb = fc
      .record({
        nodes: fc.integer({ min: 1, max: 4 }),
        gpusPerNode: fc.integer({ min: 1, max: 4 }),
        groupsPerNode: fc.integer({ min: 1, max: 3 }),
        groupSize: fc.integer({ min: 1, max: 4 }),
        redundantPerGpu: fc.integer({ min: 0, max: 2 }),
        seed: fc.integer({ min: 0, max: 1_000_000 }),
      })
      .filter((c) => (c.nodes * c.groupsPerNode * c.groupSize) % (c.nodes * c.gpusPerNode) === 0);
    fc.assert(
      fc.property(arb, (c) => {
        const gpus = c.nodes * c.gpusPerNode;
        const groups = c.nodes * c.groupsPerNode;
        const experts = groups * c.groupSize;
        const redundant = c.redundantPerGpu * gpus;
        let x = c.seed;
        const load = Float64Array.from(
          { length: experts },
          () => ((x = (x * 1103515245 + 12345) % 2 ** 31) % 1000) + 1,
        );
        const p = eplb.place({ experts, gpus, load, redundantExperts: redundant, groups, nodes: c.nodes });
        const per = (experts + redundant) / gpus;
        expect(copiesPerGpu(p, gpus)).toEqual(new Array<number>(gpus).fill(per));
        const nodeOf = (g: number) => Math.floor(g / c.gpusPerNode);
        if (c.nodes > 1 && groups > 1) {
          for (let e = 0; e < experts; e++) {
            const first = nodeOf(p.expertGpu[Math.floor(e / c.groupSize) * c.groupSize]);
            expect(nodeOf(p.expertGpu[e])).toBe(first);
            for (const r of p.replicas?.[e] ?? []) expect(nodeOf(r)).toBe(first);
          }
        }
        // Total load is conserved, and redundancy never raises the busiest GPU above the unreplicated placement's.
        const loads = gpuLoads(p, [...load], gpus);
        const sum = loads.reduce((a, b) => a + b, 0);
        expect(Math.abs(sum - load.reduce((a, b) => a + b, 0))).toBeLessThan(1e-6 * sum);
      }),
      { numRuns: 300, seed: 19 },
    );
  });
});
