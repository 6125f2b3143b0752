/**
 * Device memory accounting: a pool per GPU that tracks bytes in use by category over time and
 * refuses (with the numbers) any allocation that does not fit, instead of over-committing.
 */
import { grown } from "../util/arrays.js";

export const MEMORY_CATEGORIES = [
  "weights",
  "expert_cache",
  "activations",
  "all_to_all",
  "kv_cache",
  "workspace",
] as const;
export type MemoryCategory = (typeof MEMORY_CATEGORIES)[number];

export interface OomInfo {
  gpu: string;
  category: MemoryCategory;
  requestedBytes: number;
  freeBytes: number;
  capacityBytes: number;
  timeNs: number;
  usedByCategory: Record<MemoryCategory, number>;
}

export type AllocResult = { ok: true } | { ok: false; oom: OomInfo };
/** What every allocation that fits returns: one object, not one per allocation (two per GPU per MoE layer). */
const FITS: AllocResult = Object.freeze({ ok: true });

export interface MemoryTimelinePoint {
  timeNs: number;
  category: MemoryCategory;
  /** Bytes of this category in use after the change. */
  bytes: number;
}

/** One line describing an out-of-memory event, for logs and error messages. */
export function formatOom(o: OomInfo): string {
  const gb = (b: number): string => `${(b / 1e9).toFixed(3)} GB`;
  const used = MEMORY_CATEGORIES.filter((c) => o.usedByCategory[c] > 0)
    .map((c) => `${c} ${gb(o.usedByCategory[c])}`)
    .join(", ");
  return (
    `out of memory on ${o.gpu} at ${o.timeNs} ns: ${o.category} asked for ${gb(o.requestedBytes)} ` +
    `but only ${gb(o.freeBytes)} of ${gb(o.capacityBytes)} is free (in use: ${used || "nothing"})`
  );
}

const CAT_INDEX: Record<MemoryCategory, number> = Object.fromEntries(MEMORY_CATEGORIES.map((c, i) => [c, i])) as Record<
  MemoryCategory,
  number
>;

export class MemoryPool {
  private readonly usedBy = new Float64Array(MEMORY_CATEGORIES.length);
  private readonly peakBy = new Float64Array(MEMORY_CATEGORIES.length);
  private total = 0;
  private peakTotal = 0;
  // The timeline as columns (time, category index, bytes after the change): no object per change.
  private nPoints = 0;
  private tTime = new Float64Array(0);
  private tCat = new Uint8Array(0);
  private tBytes = new Float64Array(0);
  /** Out-of-memory events seen so far (every refused allocation). */
  readonly ooms: OomInfo[] = [];

  constructor(
    readonly name: string,
    readonly capacityBytes: number,
    private readonly clock: () => number,
    private readonly recordTimeline = true,
  ) {
    if (!(capacityBytes >= 0) || !Number.isFinite(capacityBytes)) {
      throw new Error(`memory pool ${name}: capacity must be a finite number >= 0, got ${capacityBytes}`);
    }
  }

  /** Takes `bytes` for `category` if they fit; otherwise changes nothing and returns the OOM details. */
  allocate(category: MemoryCategory, bytes: number): AllocResult {
    const i = this.index(category);
    if (!(bytes >= 0) || !Number.isFinite(bytes)) {
      throw new Error(`memory pool ${this.name}: cannot allocate ${bytes} bytes of ${category}`);
    }
    if (bytes > this.capacityBytes - this.total) {
      const oom: OomInfo = {
        gpu: this.name,
        category,
        requestedBytes: bytes,
        freeBytes: this.capacityBytes - this.total,
        capacityBytes: this.capacityBytes,
        timeNs: this.clock(),
        usedByCategory: this.usedByCategory(),
      };
      this.ooms.push(oom);
      return { ok: false, oom };
    }
    if (bytes === 0) return FITS;
    this.usedBy[i] += bytes;
    this.total += bytes;
    if (this.usedBy[i] > this.peakBy[i]) this.peakBy[i] = this.usedBy[i];
    if (this.total > this.peakTotal) this.peakTotal = this.total;
    this.record(i);
    return FITS;
  }

  /** Returns `bytes` of `category`; freeing more than is held is a programming error. */
  free(category: MemoryCategory, bytes: number): void {
    const i = this.index(category);
    if (!(bytes >= 0) || !Number.isFinite(bytes)) {
      throw new Error(`memory pool ${this.name}: cannot free ${bytes} bytes of ${category}`);
    }
    if (bytes > this.usedBy[i]) {
      throw new Error(
        `memory pool ${this.name}: freeing ${bytes} bytes of ${category} but only ${this.usedBy[i]} are allocated`,
      );
    }
    if (bytes === 0) return;
    this.usedBy[i] -= bytes;
    this.total -= bytes;
    this.record(i);
  }

  used(category?: MemoryCategory): number {
    return category === undefined ? this.total : this.usedBy[this.index(category)];
  }
  get freeBytes(): number {
    return this.capacityBytes - this.total;
  }
  peak(category?: MemoryCategory): number {
    return category === undefined ? this.peakTotal : this.peakBy[this.index(category)];
  }
  usedByCategory(): Record<MemoryCategory, number> {
    const out = {} as Record<MemoryCategory, number>;
    MEMORY_CATEGORIES.forEach((c, i) => (out[c] = this.usedBy[i]));
    return out;
  }
  /** Every change, in order: the category's bytes in use after it (empty when recording is off). */
  timeline(): MemoryTimelinePoint[] {
    const out = new Array<MemoryTimelinePoint>(this.nPoints);
    for (let k = 0; k < this.nPoints; k++)
      out[k] = { timeNs: this.tTime[k], category: MEMORY_CATEGORIES[this.tCat[k]], bytes: this.tBytes[k] };
    return out;
  }

  private index(category: MemoryCategory): number {
    const i = CAT_INDEX[category];
    if (i === undefined) throw new Error(`memory pool ${this.name}: unknown category ${String(category)}`);
    return i;
  }
  private record(i: number): void {
    if (!this.recordTimeline) return;
    const k = this.nPoints++;
    if (k === this.tTime.length) {
      const n = Math.max(256, 2 * k);
      this.tTime = grown(this.tTime, n);
      this.tCat = grown(this.tCat, n);
      this.tBytes = grown(this.tBytes, n);
    }
    this.tTime[k] = this.clock();
    this.tCat[k] = i;
    this.tBytes[k] = this.usedBy[i];
  }
}
