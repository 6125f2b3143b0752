import { CacheBase, IndexedHeap } from "./base.js";
import type { BufferingPolicy, CacheContext } from "./types.js";

/**
 * Batch-aware LRFU. Ranking from LRFU (Lee et al., "LRFU: a spectrum of policies that subsumes the
 * least recently used and least frequently used policies", IEEE Trans. Computers 50(12), 2001):
 * each expert carries a combined recency-frequency value CRF(t) = sum over its past requests at
 * batch t_i of 2^(-lambda (t - t_i)); lambda -> 0 is LFU over the whole history, lambda = 1 close
 * to LRU. History is kept for non-resident experts too (there are few experts), so a reloaded
 * expert keeps its standing. Time counts batches.
 *
 * Batch awareness, from the seed paper's rule (the gate knows the batch's active experts before
 * they run): a resident expert still waiting to be used in the current batch is never chosen while
 * another resident is available; among the others the smallest CRF is evicted. When every resident
 * is still waiting, the one requested last in the batch goes.
 *
 * Ordering CRFs needs no decay pass: CRF_a(t) < CRF_b(t) iff log2 C_a + lambda t_a <
 * log2 C_b + lambda t_b, with C the value at the last request t_a, a key that only changes on a
 * request. Waiting experts leave the heap at batch start and return when used. O(log capacity) per
 * request.
 */
class LrfuCache extends CacheBase {
  private readonly heap: IndexedHeap;
  private readonly crf: Float64Array;
  private readonly last: Float64Array;
  /** Position of the expert's request in the current batch (valid when stamp === epoch). */
  private readonly at: Int32Array;
  private readonly stamp: Int32Array;

  constructor(
    capacity: number,
    ctx: CacheContext,
    private readonly lambda: number,
  ) {
    super("lrfu", capacity, ctx);
    this.heap = new IndexedHeap(ctx.experts, capacity);
    this.crf = new Float64Array(ctx.experts);
    this.last = new Float64Array(ctx.experts);
    this.at = new Int32Array(ctx.experts);
    this.stamp = new Int32Array(ctx.experts);
  }

  serve(_b: number, req: ArrayLike<number>, start: number, end: number): number {
    const t = ++this.epoch;
    const { res, heap, crf, last, lambda, stamp, at, experts: s, capacity } = this;
    const key = heap.k1;
    const rec = this.rec;
    for (let i = start; i < end; i++) {
      const e = req[i];
      if (!(e >= 0 && e < s)) this.badExpert(e);
      if (stamp[e] === t) continue; // repeated in this batch: the first request counts
      stamp[e] = t;
      at[e] = i;
      if (res[e] === 1) heap.remove(e); // waiting: not evictable while others are
    }
    let misses = 0;
    for (let i = start; i < end; i++) {
      const e = req[i];
      if (at[e] !== i && res[e] === 1) continue; // a repeat of a served expert still resident: hit
      const c = 1 + crf[e] * Math.pow(2, -lambda * (t - last[e]));
      crf[e] = c;
      last[e] = t;
      key[e] = Math.log2(c) + lambda * t;
      heap.k2[e] = t;
      if (res[e] === 0) {
        misses++;
        if (this.count === capacity) {
          let v: number;
          if (heap.size > 0) v = heap.pop();
          else {
            // every resident waits for this batch: drop the one needed last
            let j = end - 1;
            while (res[req[j]] === 0 || req[j] === e || at[req[j]] <= i) j--;
            v = req[j];
          }
          res[v] = 0;
          this.count--;
          if (rec !== null) rec.evicted.push(v);
        }
        res[e] = 1;
        this.count++;
        if (rec !== null) rec.misses.push(e);
      }
      heap.push(e);
    }
    return misses;
  }
}

export const LRFU_DEFAULT_LAMBDA = 0.01;

export function makeLrfu(lambda = LRFU_DEFAULT_LAMBDA, name = "lrfu"): BufferingPolicy {
  return {
    name,
    description:
      `batch-aware LRFU (Lee et al. 2001): keep experts still needed in this batch, evict the ` +
      `smallest decayed recency-frequency value (lambda=${lambda} per batch)`,
    needsFuture: false,
    create: (capacity, ctx) => new LrfuCache(capacity, ctx, lambda),
  };
}

export const lrfu: BufferingPolicy = makeLrfu();
