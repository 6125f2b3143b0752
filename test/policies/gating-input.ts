import fc from "fast-check";
import type { GatingInput } from "../../src/policies/gating/types.js";

/**
 * A random gating input: 1-8 GPUs, 1-64 experts, top-1..3, `minTokens`..40 tokens with random picks,
 * token and expert placements, and a token row size drawn from `tokenBytes`.
 */
export function gatingInputArb(o: { minTokens: number; tokenBytes: number[] }): fc.Arbitrary<GatingInput> {
  return fc
    .record({
      gpus: fc.integer({ min: 1, max: 8 }),
      experts: fc.integer({ min: 1, max: 64 }),
      topK: fc.integer({ min: 1, max: 3 }),
      tokens: fc.integer({ min: o.minTokens, max: 40 }),
    })
    .chain(({ gpus, experts, topK, tokens }) =>
      fc.record({
        tokens: fc.constant(tokens),
        topK: fc.constant(topK),
        experts: fc.constant(experts),
        gpus: fc.constant(gpus),
        picks: fc
          .array(fc.nat(experts - 1), { minLength: tokens * topK, maxLength: tokens * topK })
          .map((a) => Int32Array.from(a)),
        tokenGpu: fc.array(fc.nat(gpus - 1), { minLength: tokens, maxLength: tokens }).map((a) => Int32Array.from(a)),
        expertGpu: fc
          .array(fc.nat(gpus - 1), { minLength: experts, maxLength: experts })
          .map((a) => Int32Array.from(a)),
        tokenBytes: fc.constantFrom(...o.tokenBytes),
      }),
    );
}
