import { CacheBase } from "./base.js";
import type { BufferingPolicy, CacheContext } from "./types.js";

/** FIFO: evicts the resident expert inserted longest ago (a ring buffer). O(1) per request. */
class FifoCache extends CacheBase {
  private readonly ring: Int32Array;
  private head = 0;

  constructor(capacity: number, ctx: CacheContext) {
    super("fifo", capacity, ctx);
    this.ring = new Int32Array(capacity);
  }

  serve(_b: number, req: ArrayLike<number>, start: number, end: number): number {
    const { res, ring, experts: s, capacity } = this;
    const rec = this.rec;
    let misses = 0;
    let head = this.head;
    let count = this.count;
    for (let i = start; i < end; i++) {
      const e = req[i];
      if (!(e >= 0 && e < s)) this.badExpert(e);
      if (res[e] === 1) continue;
      misses++;
      if (count === capacity) {
        const v = ring[head];
        res[v] = 0;
        if (rec !== null) rec.evicted.push(v);
        ring[head] = e;
        head = head + 1 === capacity ? 0 : head + 1;
      } else {
        let j = head + count;
        if (j >= capacity) j -= capacity;
        ring[j] = e;
        count++;
      }
      res[e] = 1;
      if (rec !== null) rec.misses.push(e);
    }
    this.head = head;
    this.count = count;
    return misses;
  }
}

export const fifo: BufferingPolicy = {
  name: "fifo",
  description: "expert inserted longest ago is evicted",
  needsFuture: false,
  create: (capacity, ctx) => new FifoCache(capacity, ctx),
};
