import { CacheBase } from "./base.js";
import type { BufferingPolicy, CacheContext } from "./types.js";

/** Least recently used: evicts the resident expert whose last request is oldest. O(1) per request. */
class LruCache extends CacheBase {
  // Doubly linked list over expert ids; index `experts` is the sentinel. next = towards older.
  private readonly next: Int32Array;
  private readonly prev: Int32Array;

  constructor(capacity: number, ctx: CacheContext) {
    super("lru", capacity, ctx);
    const s = ctx.experts;
    this.next = new Int32Array(s + 1).fill(s);
    this.prev = new Int32Array(s + 1).fill(s);
  }

  serve(_b: number, req: ArrayLike<number>, start: number, end: number): number {
    const { res, next, prev, experts: s, capacity } = this;
    const rec = this.rec;
    let misses = 0;
    let count = this.count;
    for (let i = start; i < end; i++) {
      const e = req[i];
      if (!(e >= 0 && e < s)) this.badExpert(e);
      if (res[e] === 1) {
        // unlink, then fall through to insertion at the front
        const p = prev[e];
        const n = next[e];
        next[p] = n;
        prev[n] = p;
      } else {
        misses++;
        if (count === capacity) {
          const v = prev[s];
          const pv = prev[v];
          next[pv] = s;
          prev[s] = pv;
          res[v] = 0;
          count--;
          if (rec !== null) rec.evicted.push(v);
        }
        res[e] = 1;
        count++;
        if (rec !== null) rec.misses.push(e);
      }
      const f = next[s];
      next[e] = f;
      prev[e] = s;
      prev[f] = e;
      next[s] = e;
    }
    this.count = count;
    return misses;
  }
}

export const lru: BufferingPolicy = {
  name: "lru",
  description: "least recently used expert is evicted",
  needsFuture: false,
  create: (capacity, ctx) => new LruCache(capacity, ctx),
};
