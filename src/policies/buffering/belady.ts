import { CacheBase, IndexedHeap } from "./base.js";
import type { AccessSequence, BufferingPolicy, CacheContext } from "./types.js";
import { UserError } from "../../util/errors.js";

/**
 * Next-use index: next[i] = position of the next request of requests[i]'s expert after i, or
 * requests.length when there is none. One backward pass, O(n).
 */
export function nextUseIndex(seq: AccessSequence): Int32Array {
  const n = seq.requests.length;
  const next = new Int32Array(n);
  const seen = new Int32Array(seq.experts).fill(n);
  for (let i = n - 1; i >= 0; i--) {
    const e = seq.requests[i];
    next[i] = seen[e];
    seen[e] = i;
  }
  return next;
}

/**
 * Belady's MIN (offline optimum): on a miss with a full cache, evict the resident expert whose next
 * request is farthest in the future (never requested again counts as infinitely far). Resident
 * experts sit in a heap keyed by next use: O(log capacity) per request, O(n log capacity) per trace.
 */
class BeladyCache extends CacheBase {
  private readonly heap: IndexedHeap;
  private readonly next: Int32Array;
  private readonly seq: AccessSequence;

  constructor(capacity: number, ctx: CacheContext) {
    super("belady", capacity, ctx);
    if (ctx.future === undefined) {
      throw new UserError("belady needs the future of the access stream (ctx.future)");
    }
    this.seq = ctx.future;
    this.next = nextUseIndex(ctx.future);
    this.heap = new IndexedHeap(ctx.experts, capacity);
  }

  serve(b: number, req: ArrayLike<number>, start: number, end: number): number {
    const { res, heap, next, experts: s, capacity } = this;
    const fut = this.seq.requests;
    const negNext = heap.k1;
    const rec = this.rec;
    if (!(b >= 0 && b + 1 < this.seq.batchStart.length)) {
      throw new Error(`belady: batch ${b} is not in the future sequence`);
    }
    const base = this.seq.batchStart[b] - start;
    if (this.seq.batchStart[b + 1] - this.seq.batchStart[b] !== end - start) {
      throw new Error(
        `belady: batch ${b} has ${end - start} requests, the future sequence ` +
          `has ${this.seq.batchStart[b + 1] - this.seq.batchStart[b]}`,
      );
    }
    let misses = 0;
    for (let i = start; i < end; i++) {
      const e = req[i];
      const p = base + i;
      if (fut[p] !== e) {
        throw new Error(`belady: request ${p} is expert ${e}, the future sequence says ${fut[p]}`);
      }
      if (!(e >= 0 && e < s)) this.badExpert(e);
      if (res[e] === 1) {
        negNext[e] = -next[p];
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
      negNext[e] = -next[p];
      heap.push(e);
      res[e] = 1;
      this.count++;
      if (rec !== null) rec.misses.push(e);
    }
    return misses;
  }
}

export const belady: BufferingPolicy = {
  name: "belady",
  description: "Belady's MIN: evict the expert used farthest in the future (offline optimum, needs the trace)",
  needsFuture: true,
  create: (capacity, ctx) => new BeladyCache(capacity, ctx),
};
