import { CacheBase } from "./base.js";
import type { BufferingPolicy, CacheContext } from "./types.js";

/** Plain LIFO: evicts the most recently inserted resident expert. O(1) per request. */
class LifoCache extends CacheBase {
  private readonly stack: Int32Array;

  constructor(capacity: number, ctx: CacheContext) {
    super("lifo", capacity, ctx);
    this.stack = new Int32Array(capacity);
  }

  serve(_b: number, req: ArrayLike<number>, start: number, end: number): number {
    const { res, stack, experts: s, capacity } = this;
    const rec = this.rec;
    let misses = 0;
    let top = this.count;
    for (let i = start; i < end; i++) {
      const e = req[i];
      if (!(e >= 0 && e < s)) this.badExpert(e);
      if (res[e] === 1) continue;
      misses++;
      if (top === capacity) {
        const v = stack[--top];
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

export const lifo: BufferingPolicy = {
  name: "lifo",
  description: "most recently inserted expert is evicted",
  needsFuture: false,
  create: (capacity, ctx) => new LifoCache(capacity, ctx),
};
