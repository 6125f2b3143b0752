import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { gatingInputArb } from "./gating-input.js";
import { assemblePlan, countBySourceAndExpert } from "../../src/policies/gating/common.js";
import { getGatingPolicy } from "../../src/policies/gating/index.js";
import type { GatingInput } from "../../src/policies/gating/types.js";

/**
 * The sparse gates (dynamic, fastmoe, megablocks plan from the touched (GPU, expert) cells only)
 * give exactly the plan of the dense O(gpus x experts) assembly, plus the list of active experts.
 */
const inputArb = gatingInputArb({ minTokens: 0, tokenBytes: [2, 4096, 24576] });

describe("sparse gating plans", () => {
  it("property: dynamic, fastmoe and megablocks equal the dense assembly; activeExperts lists the experts with rows", () => {
    fc.assert(
      fc.property(inputArb, fc.integer({ min: 1, max: 8 }), (input, blockSize) => {
        const n = countBySourceAndExpert(input);
        const flags = { fastmoe: [true, true], megablocks: [true, false], dynamic: [true, false] } as const;
        for (const name of ["dynamic", "fastmoe", "megablocks"] as const) {
          const sparse = getGatingPolicy(name).plan(input, { blockSize });
          const pad =
            name === "megablocks" ? (_e: number, r: number) => Math.ceil(r / blockSize) * blockSize : undefined;
          const shape = {
            exchange: flags[name][0] ? ["counts" as const, "dispatch" as const] : ["dispatch" as const],
            perExpertLoop: flags[name][1],
          };
          const dense = assemblePlan(name, input, n, n, shape, pad);
          const { activeExperts, ...rest } = sparse;
          expect(rest).toEqual(dense);
          const want = [];
          for (let e = 0; e < input.experts; e++) if (dense.expertRows[e] > 0) want.push(e);
          expect(Array.from(activeExperts!).sort((x, y) => x - y)).toEqual(want);
          // Planning again into this plan's arrays gives the plan of the other input.
          const other = {
            ...input,
            picks: Int32Array.from(input.picks).reverse(),
            tokenGpu: Int32Array.from(input.tokenGpu).reverse(),
          };
          const fresh = getGatingPolicy(name).plan(other, { blockSize });
          const reused = getGatingPolicy(name).plan(other, { blockSize, reuse: sparse });
          expect(reused).toEqual(fresh);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("rejects the bad inputs the dense count rejects (expert GPUs: of the experts picked)", () => {
    const base: GatingInput = {
      tokens: 2,
      topK: 1,
      experts: 4,
      gpus: 2,
      picks: Int32Array.from([0, 3]),
      tokenGpu: Int32Array.from([0, 1]),
      expertGpu: Int32Array.from([0, 0, 1, 1]),
      tokenBytes: 8,
    };
    const plan = (i: GatingInput) => getGatingPolicy("dynamic").plan(i);
    expect(() => plan({ ...base, picks: Int32Array.from([0, 4]) })).toThrow(/token 1 picks expert 4, expected 0..3/);
    expect(() => plan({ ...base, tokenGpu: Int32Array.from([0, 2]) })).toThrow(/token 1 on GPU 2/);
    expect(() => plan({ ...base, expertGpu: Int32Array.from([0, 0, 1, 5]) })).toThrow(/expert 3 on GPU 5/);
    // an expert no token picks does not enter the plan: its GPU is not checked
    expect(plan({ ...base, expertGpu: Int32Array.from([0, 0, 5, 1]) }).sendTokens).toEqual(plan(base).sendTokens);
    // a failed call leaves no stale counts behind
    expect(Array.from(plan(base).expertTokens)).toEqual([1, 0, 0, 1]);
  });
});
