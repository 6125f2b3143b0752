import type { RoutingTrace, TraceMeta } from "./trace.js";

/** A typed array that doubles when full; `view()` returns the filled part without copying. */
class Grow<T extends Uint16Array | Int32Array | Float32Array> {
  private buf: T;
  length = 0;
  constructor(
    private readonly make: (n: number) => T,
    initial = 1024,
  ) {
    this.buf = make(initial);
  }
  reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.length + n) cap *= 2;
    const next = this.make(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }
  push(v: number): void {
    if (this.length === this.buf.length) this.reserve(1);
    this.buf[this.length++] = v;
  }
  get buffer(): T {
    return this.buf;
  }
  /** Writable slot at the end, grown to hold n more values. */
  tail(n: number): { buf: T; at: number } {
    const at = this.tailAt(n);
    return { buf: this.buf, at };
  }
  /** tail(n)'s start, the slot being in `buffer`. */
  tailAt(n: number): number {
    this.reserve(n);
    const at = this.length;
    this.length += n;
    return at;
  }
  /** The filled part; a copy trimmed to size when the buffer is much larger than needed. */
  view(): T {
    if (this.buf.length === this.length) return this.buf;
    return this.buf.slice(0, this.length) as T;
  }
}

/**
 * Builds a RoutingTrace token by token into growing typed arrays, so readers hold no per-token
 * objects: memory is the result's typed arrays (at most twice over while growing).
 */
export class TraceBuilder {
  private readonly picks = new Grow((n) => new Uint16Array(n), 1 << 16);
  private readonly seqs = new Grow((n) => new Int32Array(n));
  private readonly steps = new Grow((n) => new Int32Array(n));
  private readonly weights: Grow<Float32Array> | null;
  tokens = 0;

  constructor(
    readonly layers: number,
    readonly experts: number,
    readonly topK: number,
    withWeights = false,
  ) {
    this.weights = withWeights ? new Grow((n) => new Float32Array(n), 1 << 16) : null;
  }

  /** Room for `tokens` more tokens at once (a generator that knows its size skips the doublings). */
  reserveTokens(tokens: number): void {
    const n = this.layers * this.topK;
    // Doubling, not the exact size, although that would spare view() its trimming copy: a
    // simulation reading the picks from the buffer they were written into ran its first two
    // passes 10-40 ms slower (LM 52B decode, 786k picks) than from the trimmed copy, for reasons
    // not found (measured 2026-11-26; the third pass is the same either way).
    this.picks.reserve(tokens * n);
    this.weights?.reserve(tokens * n);
    this.seqs.reserve(tokens);
    this.steps.reserve(tokens);
  }

  get hasWeights(): boolean {
    return this.weights !== null;
  }

  /**
   * Appends one token; returns the slot to fill with layers * topK picks (and weights) starting at
   * `at`. The caller writes picks directly (no intermediate arrays).
   */
  addToken(seq: number, step: number): { picks: Uint16Array; weights: Float32Array | null; at: number } {
    this.seqs.push(seq);
    this.steps.push(step);
    const n = this.layers * this.topK;
    const p = this.picks.tail(n);
    const w = this.weights ? this.weights.tail(n) : null;
    this.tokens++;
    return { picks: p.buf, weights: w ? w.buf : null, at: p.at };
  }

  /**
   * Appends one token with picks only (no weights); returns where its layers * topK picks start in
   * `picksBuffer` (read the buffer after the call: appending may have grown it).
   */
  addTokenAt(seq: number, step: number): number {
    this.seqs.push(seq);
    this.steps.push(step);
    this.tokens++;
    return this.picks.tailAt(this.layers * this.topK);
  }

  /** The picks' current buffer (the filled part and room to grow). */
  get picksBuffer(): Uint16Array {
    return this.picks.buffer;
  }

  build(meta: TraceMeta): RoutingTrace {
    const trace: RoutingTrace = {
      layers: this.layers,
      experts: this.experts,
      topK: this.topK,
      tokens: this.tokens,
      picks: this.picks.view(),
      seq: this.seqs.view(),
      step: this.steps.view(),
      meta,
    };
    if (this.weights) trace.weights = this.weights.view();
    return trace;
  }
}
