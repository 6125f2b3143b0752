import { UserError } from "../../util/errors.js";
import type { CacheContext, CacheStep, ExpertCache } from "./types.js";

/**
 * Shared state of every cache: capacity, residency flags and the optional record of one
 * accessBatch call. Each policy writes its own serve loop (monomorphic, typed arrays only) so the
 * whole-trace path stays fast.
 */
export abstract class CacheBase implements ExpertCache {
  readonly capacity: number;
  protected readonly experts: number;
  /** 1 when the expert is resident. */
  protected readonly res: Uint8Array;
  /** Resident count. */
  protected count = 0;
  /** Set only inside accessBatch: where misses and evictions are recorded. */
  protected rec: CacheStep | null = null;
  /** A batch counter for the policies that stamp per-batch marks with it (they increment it per batch). */
  protected epoch = 0;

  constructor(policy: string, capacity: number, ctx: CacheContext) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new UserError(`${policy}: cache capacity must be an integer >= 1 (slots), got ${capacity}`);
    }
    if (!Number.isInteger(ctx.experts) || ctx.experts < 1) {
      throw new UserError(`${policy}: experts must be an integer >= 1, got ${ctx.experts}`);
    }
    this.capacity = capacity;
    this.experts = ctx.experts;
    this.res = new Uint8Array(ctx.experts);
  }

  accessBatch(b: number, active: ArrayLike<number>): CacheStep {
    const step: CacheStep = { misses: [], evicted: [] };
    this.rec = step;
    try {
      this.serve(b, active, 0, active.length);
    } finally {
      this.rec = null;
    }
    return step;
  }

  abstract serve(b: number, requests: ArrayLike<number>, start: number, end: number): number;

  resident(): number[] {
    const out: number[] = [];
    for (let e = 0; e < this.experts; e++) if (this.res[e] === 1) out.push(e);
    return out;
  }

  protected badExpert(e: number): never {
    throw new Error(`expert id ${e} out of range [0, ${this.experts})`);
  }
}

/**
 * An indexed binary min-heap of expert ids ordered by (k1, k2, id); supports update and removal
 * of any member in O(log n). Keys live in caller-visible typed arrays indexed by expert id.
 */
export class IndexedHeap {
  readonly k1: Float64Array;
  readonly k2: Float64Array;
  private readonly heap: Int32Array;
  private readonly pos: Int32Array;
  size = 0;

  constructor(experts: number, capacity: number) {
    this.k1 = new Float64Array(experts);
    this.k2 = new Float64Array(experts);
    this.heap = new Int32Array(Math.max(1, capacity));
    this.pos = new Int32Array(experts).fill(-1);
  }

  private less(a: number, b: number): boolean {
    const x = this.k1[a];
    const y = this.k1[b];
    if (x !== y) return x < y;
    const u = this.k2[a];
    const v = this.k2[b];
    if (u !== v) return u < v;
    return a < b;
  }

  top(): number {
    return this.heap[0];
  }

  has(e: number): boolean {
    return this.pos[e] >= 0;
  }

  push(e: number): void {
    const i = this.size++;
    this.heap[i] = e;
    this.pos[e] = i;
    this.up(i);
  }

  /** Removes and returns the minimum. */
  pop(): number {
    const e = this.heap[0];
    this.removeAt(0);
    return e;
  }

  remove(e: number): void {
    const i = this.pos[e];
    if (i >= 0) this.removeAt(i);
  }

  /** Restores order after the keys of member e changed. */
  update(e: number): void {
    const i = this.pos[e];
    this.up(i);
    this.down(this.pos[e]);
  }

  private removeAt(i: number): void {
    const e = this.heap[i];
    this.pos[e] = -1;
    const last = --this.size;
    if (i !== last) {
      const m = this.heap[last];
      this.heap[i] = m;
      this.pos[m] = i;
      this.up(i);
      this.down(this.pos[m]);
    }
  }

  private up(i: number): void {
    const h = this.heap;
    const e = h[i];
    while (i > 0) {
      const p = (i - 1) >> 1;
      const q = h[p];
      if (!this.less(e, q)) break;
      h[i] = q;
      this.pos[q] = i;
      i = p;
    }
    h[i] = e;
    this.pos[e] = i;
  }

  private down(i: number): void {
    const h = this.heap;
    const n = this.size;
    const e = h[i];
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && this.less(h[c + 1], h[c])) c++;
      const q = h[c];
      if (!this.less(q, e)) break;
      h[i] = q;
      this.pos[q] = i;
      i = c;
    }
    h[i] = e;
    this.pos[e] = i;
  }
}
