/** Small typed-array helpers of the network: a min-heap of (key, id, tag) and an id sort by key. */
import { grown } from "../../util/arrays.js";

/** A binary min-heap of (key, id, tag) in typed arrays. */
export class MinHeap {
  keys = new Float64Array(1024);
  ids = new Int32Array(1024);
  tags = new Int32Array(1024);
  size = 0;
  clear(): void {
    this.size = 0;
  }
  push(key: number, id: number, tag = 0): void {
    if (this.size === this.keys.length) this.growTo(this.size * 2);
    const keys = this.keys;
    const ids = this.ids;
    const tags = this.tags;
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (keys[p] <= key) break;
      keys[i] = keys[p];
      ids[i] = ids[p];
      tags[i] = tags[p];
      i = p;
    }
    keys[i] = key;
    ids[i] = id;
    tags[i] = tag;
  }
  /** Adds an entry without keeping the heap order: call heapify() after a run of appends. */
  append(key: number, id: number, tag: number): void {
    if (this.size === this.keys.length) this.growTo(this.size * 2);
    this.keys[this.size] = key;
    this.ids[this.size] = id;
    this.tags[this.size++] = tag;
  }
  /** Restores the heap order in O(size) (Floyd). */
  heapify(): void {
    for (let i = (this.size >> 1) - 1; i >= 0; i--) {
      this.siftDown(i, this.keys[i], this.ids[i], this.tags[i], this.size);
    }
  }
  private growTo(n: number): void {
    this.keys = grown(this.keys, n);
    this.ids = grown(this.ids, n);
    this.tags = grown(this.tags, n);
  }
  private siftDown(i: number, key: number, id: number, tag: number, n: number): void {
    const keys = this.keys;
    const ids = this.ids;
    const tags = this.tags;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && keys[c + 1] < keys[c]) c++;
      if (keys[c] >= key) break;
      keys[i] = keys[c];
      ids[i] = ids[c];
      tags[i] = tags[c];
      i = c;
    }
    keys[i] = key;
    ids[i] = id;
    tags[i] = tag;
  }
  /** Removes the top; read keys[0]/ids[0]/tags[0] before. */
  pop(): void {
    const n = --this.size;
    if (n === 0) return;
    this.siftDown(0, this.keys[n], this.ids[n], this.tags[n], n);
  }
}

/**
 * Sorts ids[0..n) by key[id] ascending (ties keep no particular order: callers' keys are distinct or
 * their order among equal keys does not matter): insertion sort for short runs, no comparator
 * closure per call; a comparator sort beyond 32.
 */
export function sortIdsByKey(ids: number[] | Int32Array, n: number, key: ArrayLike<number>): void {
  if (n > 32) {
    const head = ids instanceof Int32Array ? ids.subarray(0, n) : ids;
    head.sort((a, b) => key[a] - key[b]);
    return;
  }
  for (let i = 1; i < n; i++) {
    const id = ids[i];
    const k = key[id];
    let j = i - 1;
    while (j >= 0 && key[ids[j]] > k) {
      ids[j + 1] = ids[j];
      j--;
    }
    ids[j + 1] = id;
  }
}

const RADIX_COUNTS = new Int32Array(257);
let radixScratch = new Int32Array(1024);

/**
 * Sorts ids[0..n) by key[id] ascending where the keys are distinct whole numbers in [0, 2^31):
 * insertion sort for short runs, else least-significant-digit radix sort by bytes (as many passes
 * as the largest key has bytes), O(n) per pass.
 */
export function sortIdsByIndex(ids: Int32Array, n: number, key: ArrayLike<number>): void {
  if (n <= 32) {
    sortIdsByKey(ids, n, key);
    return;
  }
  let max = 0;
  for (let i = 0; i < n; i++) if (key[ids[i]] > max) max = key[ids[i]];
  if (radixScratch.length < n) radixScratch = new Int32Array(2 * n);
  let from: Int32Array = ids;
  let to: Int32Array = radixScratch;
  const counts = RADIX_COUNTS;
  for (let shift = 0; shift < 32 && (shift === 0 || max >>> shift > 0); shift += 8) {
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[((key[from[i]] >>> shift) & 255) + 1]++;
    for (let b = 1; b < 257; b++) counts[b] += counts[b - 1];
    for (let i = 0; i < n; i++) {
      const id = from[i];
      to[counts[(key[id] >>> shift) & 255]++] = id;
    }
    const t = from;
    from = to;
    to = t;
  }
  if (from !== ids) ids.set(from.subarray(0, n));
}
