import { CacheBase, IndexedHeap } from "./base.js";
import type { BufferingPolicy, CacheContext } from "./types.js";

/**
 * In-cache LFU: evicts the resident expert with the fewest requests since it was loaded (its count
 * restarts when it is evicted); ties go to the least recently used. O(log capacity) per request.
 */
class LfuCache extends CacheBase {
  private readonly heap: IndexedHeap;
  private clock = 0;

  constructor(capacity: number, ctx: CacheContext) {
    super("lfu", capacity, ctx);
    this.heap = new IndexedHeap(ctx.experts, capacity);
  }

  serve(_b: number, req: ArrayLike<number>, start: number, end: number): number {
    const { res, heap, experts: s, capacity } = this;
    const { k1: freq, k2: last } = heap;
    const rec = this.rec;
    let misses = 0;
    for (let i = start; i < end; i++) {
      const e = req[i];
      if (!(e >= 0 && e < s)) this.badExpert(e);
      const t = ++this.clock;
      if (res[e] === 1) {
        freq[e] += 1;
        last[e] = t;
        heap.update(e);
        continue;
      }
      misses++;
      if (this.count === capacity) {
        const v = heap.pop();
        res[v] = 0;
        this.count--;
        if (rec !== null) rec.evicted.push(v);
      }
      freq[e] = 1;
      last[e] = t;
      heap.push(e);
      res[e] = 1;
      this.count++;
      if (rec !== null) rec.misses.push(e);
    }
    return misses;
  }
}

export const lfu: BufferingPolicy = {
  name: "lfu",
  description: "least frequently used since loaded is evicted (ties: least recently used)",
  needsFuture: false,
  create: (capacity, ctx) => new LfuCache(capacity, ctx),
};
