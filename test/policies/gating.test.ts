import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { gatingPolicies, getGatingPolicy, type GatingInput } from "../../src/policies/gating/index.js";
import { UserError } from "../../src/util/errors.js";

const inputArb = fc
  .record({
    experts: fc.integer({ min: 1, max: 16 }),
    gpus: fc.integer({ min: 1, max: 6 }),
    tokens: fc.integer({ min: 0, max: 60 }),
    topK: fc.integer({ min: 1, max: 4 }),
  })
  .chain(({ experts, gpus, tokens, topK }) =>
    fc.record({
      experts: fc.constant(experts),
      gpus: fc.constant(gpus),
      tokens: fc.constant(tokens),
      topK: fc.constant(topK),
      picks: fc.array(fc.integer({ min: 0, max: experts - 1 }), { minLength: tokens * topK, maxLength: tokens * topK }),
      tokenGpu: fc
        .array(fc.integer({ min: 0, max: gpus - 1 }), { minLength: tokens, maxLength: tokens })
        .map((a) => Int32Array.from(a)),
      expertGpu: fc
        .array(fc.integer({ min: 0, max: gpus - 1 }), { minLength: experts, maxLength: experts })
        .map((a) => Int32Array.from(a)),
      tokenBytes: fc.constantFrom(2, 4096),
      capacityFactor: fc.constantFrom(0.05, 0.5, 1, 2),
      blockSize: fc.constantFrom(1, 4, 128),
    }),
  );

const sum = (a: ArrayLike<number>): number => Array.from(a).reduce((x, y) => x + y, 0);

describe("gating policies", () => {
  it("registry and unknown names", () => {
    expect([...gatingPolicies.keys()]).toEqual(["static", "tutel", "fastmoe", "megablocks", "dynamic"]);
    expect(() => getGatingPolicy("switch")).toThrow(/expected static, tutel, fastmoe, megablocks or dynamic/);
  });

  it("conserve tokens: dispatched = combined + dropped; only static drops; bytes = rows x tokenBytes", () => {
    fc.assert(
      fc.property(inputArb, (inp) => {
        const input: GatingInput = inp;
        for (const p of gatingPolicies.values()) {
          const plan = p.plan(input, { capacityFactor: inp.capacityFactor, blockSize: inp.blockSize });
          expect(plan.dispatched).toBe(inp.tokens * inp.topK);
          expect(plan.dispatched).toBe(plan.combined + plan.dropped);
          expect(sum(plan.expertTokens)).toBe(plan.combined);
          expect(plan.padded).toBe(sum(plan.expertRows) - plan.combined);
          expect(plan.padded).toBeGreaterThanOrEqual(0);
          if (p.name !== "static") expect(plan.dropped, p.name).toBe(0);
          for (let i = 0; i < plan.sendTokens.length; i++)
            expect(plan.sendBytes[i]).toBe(plan.sendTokens[i] * inp.tokenBytes);
          // rows sent = rows received by the experts (before megablocks' compute rounding)
          if (p.name !== "megablocks") expect(sum(plan.sendTokens)).toBe(sum(plan.expertRows));
          else expect(sum(plan.sendTokens)).toBe(plan.combined);
          if (p.name === "dynamic" || p.name === "fastmoe") expect(plan.padded).toBe(0);
          for (const b of plan.bufferBytesPerGpu) expect(b).toBeGreaterThanOrEqual(0);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("static pads every (GPU, expert) pair to ceil(C*k*S/E) and drops the excess", () => {
    // 2 GPUs, 2 experts (one per GPU), 4 tokens per GPU, top-1, C = 1: capacity ceil(4/2) = 2
    const input: GatingInput = {
      tokens: 8,
      topK: 1,
      experts: 2,
      gpus: 2,
      tokenBytes: 10,
      picks: [0, 0, 0, 1, 1, 1, 1, 1],
      tokenGpu: Int32Array.from([0, 0, 0, 0, 1, 1, 1, 1]),
      expertGpu: Int32Array.from([0, 1]),
    };
    const s = getGatingPolicy("static").plan(input, { capacityFactor: 1 });
    expect(s.capacity).toBe(2);
    expect(Array.from(s.sendTokens)).toEqual([2, 2, 2, 2]);
    expect(Array.from(s.expertTokens)).toEqual([2, 3]); // GPU0: 3 for e0 -> 2 kept, 1 for e1; GPU1: 4 for e1 -> 2 kept
    expect(s.dropped).toBe(3);
    expect(s.padded).toBe(8 - 5);
    // padded to capacity on the wire too: every (source, destination) pair sends capacity rows per expert
    expect(Array.from(s.sendBytes)).toEqual([20, 20, 20, 20]);
    expect(s.exchange).toEqual(["dispatch"]);
    const t = getGatingPolicy("tutel").plan(input);
    expect(t.capacity).toBe(4);
    expect(t.dropped).toBe(0);
    expect(t.padded).toBe(16 - 8);
    expect(t.exchange).toEqual(["capacity_all_reduce", "dispatch"]);
    const d = getGatingPolicy("dynamic").plan(input);
    expect(Array.from(d.sendTokens)).toEqual([3, 1, 0, 4]);
    expect(d.exchange).toEqual(["counts", "dispatch"]);
    expect(Array.from(d.bufferBytesPerGpu)).toEqual([(4 + 3) * 10, (4 + 5) * 10]);
    const m = getGatingPolicy("megablocks").plan(input, { blockSize: 4 });
    expect(Array.from(m.expertRows)).toEqual([4, 8]);
    expect(getGatingPolicy("fastmoe").plan(input).perExpertLoop).toBe(true);
  });

  it("bad inputs are user errors", () => {
    const bad: GatingInput = {
      tokens: 1,
      topK: 1,
      experts: 2,
      gpus: 1,
      tokenBytes: 1,
      picks: [5],
      tokenGpu: Int32Array.of(0),
      expertGpu: Int32Array.of(0, 0),
    };
    expect(() => getGatingPolicy("dynamic").plan(bad)).toThrow(UserError);
  });
});
