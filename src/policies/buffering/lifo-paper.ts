import { CacheBase } from "./base.js";
import type { BufferingPolicy, CacheContext } from "./types.js";

/**
 * The seed paper's expert buffering (Huang et al. 2023): first evict experts inactive in the
 * current batch (the most recently inserted of them), then the most recently inserted overall.
 * O(capacity) per miss, O(1) per hit.
 */
class LifoPaperCache extends CacheBase {
  /** Residents in insertion order, oldest first. */
  private readonly stack: Int32Array;
  /** epoch of the last batch in which the expert is active. */
  private readonly stamp: Int32Array;

  constructor(capacity: number, ctx: CacheContext) {
    super("lifo-paper", capacity, ctx);
    this.stack = new Int32Array(capacity);
    this.stamp = new Int32Array(ctx.experts);
  }

  serve(_b: number, req: ArrayLike<number>, start: number, end: number): number {
    const epoch = ++this.epoch;
    const { res, stack, stamp, experts: s, capacity } = this;
    const rec = this.rec;
    for (let i = start; i < end; i++) {
      const e = req[i];
      if (!(e >= 0 && e < s)) this.badExpert(e);
      stamp[e] = epoch;
    }
    let misses = 0;
    let top = this.count;
    for (let i = start; i < end; i++) {
      const e = req[i];
      if (res[e] === 1) continue;
      misses++;
      if (top === capacity) {
        let j = top - 1;
        while (j >= 0 && stamp[stack[j]] === epoch) j--;
        if (j < 0) j = top - 1;
        const v = stack[j];
        for (let k = j + 1; k < top; k++) stack[k - 1] = stack[k];
        top--;
        res[v] = 0;
        if (rec !== null) rec.evicted.push(v);
      }
      stack[top++] = e;
      res[e] = 1;
      if (rec !== null) rec.misses.push(e);
    }
    this.count = top;
    return misses;
  }
}

export const lifoPaper: BufferingPolicy = {
  name: "lifo-paper",
  description: "the seed paper's: evict experts inactive in this batch first, then the most recently inserted",
  needsFuture: false,
  create: (capacity, ctx) => new LifoPaperCache(capacity, ctx),
};
