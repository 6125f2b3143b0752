import { UserError } from "../../util/errors.js";
import { loadPlan, sparsePlan } from "./common.js";
import { COUNTS_THEN_DISPATCH, type GatingPolicy } from "./types.js";

/**
 * MegaBlocks (dropless MoE): counts exchanged, variable all-to-all with no padding on the wire, no
 * drops; each expert's rows are rounded up to the block size for the block-sparse matmul, so
 * padding appears only in compute (and in the receive buffer).
 */
export const megablocks: GatingPolicy = {
  name: "megablocks",
  description: "block-sparse experts: no drops, rows rounded up to the block size per expert",
  plan(input, opts = {}) {
    const bs = blockSize(opts.blockSize);
    return sparsePlan("megablocks", input, SHAPE, (_e, real) => Math.ceil(real / bs) * bs, opts.reuse);
  },
  planFromLoads(input, opts = {}) {
    const bs = blockSize(opts.blockSize);
    return loadPlan("megablocks", input, SHAPE, (_e, real) => Math.ceil(real / bs) * bs, opts.reuse);
  },
};

const SHAPE = { exchange: COUNTS_THEN_DISPATCH, perExpertLoop: false };

function blockSize(b: number | undefined): number {
  const bs = b ?? 128;
  if (!Number.isInteger(bs) || bs < 1)
    throw new UserError(`megablocks gating: block size must be an integer >= 1, got ${bs}`);
  return bs;
}
