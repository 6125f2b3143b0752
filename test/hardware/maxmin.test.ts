import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { MaxMin } from "../../src/hardware/network/maxmin.js";

/** A system with the given constraint capacities and variables (constraint lists, optional bounds), solved. */
function solved(caps: number[], vars: Array<{ on: number[]; bound?: number }>): { mm: MaxMin; ids: number[] } {
  const mm = new MaxMin();
  for (const c of caps) mm.addConstraint(c);
  const ids = vars.map((v) => mm.addVariable(v.on, v.bound));
  mm.solveAll();
  return { mm, ids };
}

const values = (mm: MaxMin, ids: number[]): number[] => ids.map((v) => mm.value[v]);

describe("MaxMin (progressive filling), hand-computed systems", () => {
  it("the classic 3-link line: one long flow over links of capacity 1, 2, 3, and one short flow per link", () => {
    // Shares: link 0: 1/2, link 1: 2/2, link 2: 3/2. Link 0 is the bottleneck: the long flow and
    // flow 1 get 0.5. Then link 1 has 2 - 0.5 = 1.5 for flow 2, link 2 has 3 - 0.5 = 2.5 for flow 3.
    const { mm, ids } = solved([1, 2, 3], [{ on: [0, 1, 2] }, { on: [0] }, { on: [1] }, { on: [2] }]);
    expect(values(mm, ids)).toEqual([0.5, 0.5, 1.5, 2.5]);
  });

  it("the parking lot of equal links: every flow gets half a link", () => {
    const { mm, ids } = solved([10, 10, 10], [{ on: [0, 1, 2] }, { on: [0] }, { on: [1] }, { on: [2] }]);
    expect(values(mm, ids)).toEqual([5, 5, 5, 5]);
  });

  it("a flow limited by its own demand leaves the rest of the link to the others", () => {
    // Link of 10, three flows, one bounded at 1: it takes 1, the two others share 9: 4.5 each.
    const { mm, ids } = solved([10], [{ on: [0] }, { on: [0], bound: 1 }, { on: [0] }]);
    expect(values(mm, ids)).toEqual([4.5, 1, 4.5]);
  });

  it("a bound above the fair share does not bind", () => {
    const { mm, ids } = solved([6], [{ on: [0], bound: 5 }, { on: [0] }]);
    expect(values(mm, ids)).toEqual([3, 3]);
  });

  it("a flow alone on its links gets the smallest capacity of its route, or its bound", () => {
    const { mm, ids } = solved([7, 3, 5, 8], [{ on: [0, 1, 2] }, { on: [3], bound: 2 }]);
    expect(values(mm, ids)).toEqual([3, 2]);
  });

  it("ties between links: equal shares give the same answer whichever is filled first", () => {
    // Links 0 and 1 of capacity 2; flow 2 crosses both. Both shares are 1: every flow gets 1.
    const a = solved([2, 2], [{ on: [0] }, { on: [1] }, { on: [0, 1] }]);
    expect(values(a.mm, a.ids)).toEqual([1, 1, 1]);
    // The same with the constraints listed the other way round.
    const b = solved([2, 2], [{ on: [1] }, { on: [0] }, { on: [1, 0] }]);
    expect(values(b.mm, b.ids)).toEqual([1, 1, 1]);
  });

  it("ties between a bound and a share: the bounded flow gets its bound, which is the share", () => {
    const { mm, ids } = solved([4], [{ on: [0], bound: 2 }, { on: [0] }]);
    expect(values(mm, ids)).toEqual([2, 2]);
  });

  it("removing a variable and solving again gives the others its share", () => {
    const { mm, ids } = solved([9], [{ on: [0] }, { on: [0] }, { on: [0] }]);
    expect(values(mm, ids)).toEqual([3, 3, 3]);
    mm.removeVariable(ids[1]);
    mm.solveAll();
    expect([mm.value[ids[0]], mm.value[ids[2]]]).toEqual([4.5, 4.5]);
    expect(mm.count[0]).toBe(2);
  });

  it("solving one component leaves the values of another alone", () => {
    const mm = new MaxMin();
    mm.addConstraint(4);
    mm.addConstraint(6);
    const a = mm.addVariable([0]);
    const b = mm.addVariable([1]);
    mm.solveAll();
    expect([mm.value[a], mm.value[b]]).toEqual([4, 6]);
    mm.value[b] = -1; // a marker: the next solve covers only constraint 0
    mm.solve(Int32Array.of(a), 1, Int32Array.of(0), 1);
    expect([mm.value[a], mm.value[b]]).toEqual([4, -1]);
  });

  it("rejects a variable without constraints or on an unknown constraint", () => {
    const mm = new MaxMin();
    mm.addConstraint(1);
    expect(() => mm.addVariable([])).toThrow(/1\.\.12 constraints/);
    expect(() => mm.addVariable([3])).toThrow(/no constraint 3/);
  });
});

describe("MaxMin, property: the values are max-min fair", () => {
  it("feasible, and every variable is at its bound or has a saturated constraint on which no one gets more", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 1, maxLength: 6 }),
        fc.array(
          fc.record({
            on: fc.uniqueArray(fc.nat(5), { minLength: 1, maxLength: 4 }),
            bound: fc.option(fc.integer({ min: 1, max: 60 }), { nil: undefined }),
          }),
          { minLength: 1, maxLength: 10 },
        ),
        (caps, raw) => {
          const vars = raw.map((v) => ({ on: v.on.map((c) => c % caps.length), bound: v.bound }));
          for (const v of vars) v.on = [...new Set(v.on)];
          const { mm, ids } = solved(caps, vars);
          const x = values(mm, ids);
          const eps = 1e-9;
          const used = caps.map((_, c) => vars.reduce((s, v, i) => s + (v.on.includes(c) ? x[i] : 0), 0));
          for (let c = 0; c < caps.length; c++) expect(used[c]).toBeLessThanOrEqual(caps[c] * (1 + eps));
          vars.forEach((v, i) => {
            expect(x[i]).toBeGreaterThan(0);
            if (v.bound !== undefined) expect(x[i]).toBeLessThanOrEqual(v.bound * (1 + eps));
            const atBound = v.bound !== undefined && x[i] >= v.bound * (1 - eps);
            const bottleneck = v.on.some(
              (c) =>
                used[c] >= caps[c] * (1 - eps) && vars.every((w, j) => !w.on.includes(c) || x[j] <= x[i] * (1 + eps)),
            );
            expect(atBound || bottleneck, `variable ${i}`).toBe(true);
          });
        },
      ),
      { numRuns: 300, seed: 20261205 },
    );
  });
});
