import { UserError, listValues } from "../../util/errors.js";
import type { AccessSequence, BufferingPolicy, CacheResult } from "./types.js";
import { lifoPaper } from "./lifo-paper.js";
import { lifo } from "./lifo.js";
import { fifo } from "./fifo.js";
import { lru } from "./lru.js";
import { lfu } from "./lfu.js";
import { lrfu } from "./lrfu.js";
import { belady } from "./belady.js";

export type { AccessSequence, BufferingPolicy, CacheContext, CacheResult, CacheStep, ExpertCache } from "./types.js";
export { nextUseIndex } from "./belady.js";
export { makeLrfu, LRFU_DEFAULT_LAMBDA } from "./lrfu.js";

/** Every buffering policy by name, in display order. */
export const bufferingPolicies: ReadonlyMap<string, BufferingPolicy> = new Map(
  [lifoPaper, lifo, fifo, lru, lfu, lrfu, belady].map((p) => [p.name, p]),
);

export function bufferingPolicyNames(): string[] {
  return [...bufferingPolicies.keys()];
}

/** The policy called `name`; a UserError listing the valid names otherwise. */
export function getBufferingPolicy(name: string): BufferingPolicy {
  const p = bufferingPolicies.get(name);
  if (p === undefined) {
    throw new UserError(`unknown buffering policy '${name}'; expected ${listValues(bufferingPolicyNames())}`);
  }
  return p;
}

/**
 * Runs one cache of `capacity` slots over a whole access stream. bytes_moved = misses * expertBytes
 * (expertBytes defaults to 1, i.e. counted in experts). A hit never moves bytes.
 */
export function simulateCache(
  policy: BufferingPolicy,
  seq: AccessSequence,
  capacity: number,
  expertBytes = 1,
): CacheResult {
  return simulateCaches(policy, [seq], capacity, expertBytes);
}

/** One independent cache per stream (e.g. per GPU and MoE layer), results summed. */
export function simulateCaches(
  policy: BufferingPolicy,
  seqs: readonly AccessSequence[],
  capacity: number,
  expertBytes = 1,
): CacheResult {
  let requests = 0;
  let misses = 0;
  for (const seq of seqs) {
    const cache = policy.create(capacity, { experts: seq.experts, future: seq });
    const bs = seq.batchStart;
    const req = seq.requests;
    for (let b = 0; b + 1 < bs.length; b++) misses += cache.serve(b, req, bs[b], bs[b + 1]);
    requests += req.length;
  }
  return {
    requests,
    misses,
    hits: requests - misses,
    miss_rate: requests === 0 ? 0 : misses / requests,
    bytes_moved: misses * expertBytes,
  };
}
