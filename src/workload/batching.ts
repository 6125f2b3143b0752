import { readFileSync } from "node:fs";
import type { RandomStream } from "../sim/rng.js";
import { UserError } from "../util/errors.js";
import type { RoutingTrace } from "./trace.js";

/** Token indices of each request, in order of the request's first appearance; tokens by step. */
export function requestTokens(trace: RoutingTrace): { seq: number[]; tokens: Int32Array[] } {
  const order = new Map<number, number>();
  const counts: number[] = [];
  for (let t = 0; t < trace.tokens; t++) {
    const s = trace.seq[t];
    let i = order.get(s);
    if (i === undefined) {
      i = counts.length;
      order.set(s, i);
      counts.push(0);
    }
    counts[i]++;
  }
  const tokens = counts.map((n) => new Int32Array(n));
  const fill = new Int32Array(counts.length);
  for (let t = 0; t < trace.tokens; t++) {
    const i = order.get(trace.seq[t])!;
    tokens[i][fill[i]++] = t;
  }
  // Within a request, tokens go in step order (stable for equal steps).
  for (const arr of tokens) {
    let sorted = true;
    for (let j = 1; j < arr.length; j++) if (trace.step[arr[j]] < trace.step[arr[j - 1]]) sorted = false;
    if (!sorted) {
      const s = Array.from(arr).sort((a, b) => trace.step[a] - trace.step[b] || a - b);
      arr.set(s);
    }
  }
  return { seq: [...order.keys()], tokens };
}

/**
 * Static batching: requests grouped B at a time in order of first appearance; a batch steps
 * together, step s holding the s-th token of each of its requests still running. Returns the
 * token indices of each simulation step, batch after batch.
 */
export function staticBatches(trace: RoutingTrace, batchSize: number): Int32Array[] {
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new UserError(`batch size must be a positive integer, got ${batchSize}`);
  const { tokens } = requestTokens(trace);
  const steps: Int32Array[] = [];
  for (let b = 0; b < tokens.length; b += batchSize) {
    const group = tokens.slice(b, b + batchSize);
    const len = group.reduce((m, g) => Math.max(m, g.length), 0); // no spread: 100k+ requests overflow the stack
    for (let s = 0; s < len; s++) {
      let n = 0;
      for (const g of group) if (s < g.length) n++;
      const step = new Int32Array(n);
      let i = 0;
      for (const g of group) if (s < g.length) step[i++] = g[s];
      steps.push(step);
    }
  }
  return steps;
}

export type ArrivalSpec =
  { kind: "poisson"; ratePerS: number } | { kind: "timestamps"; path: string } | { kind: "all-at-once" };

/** Arrival times in seconds from a file: one number per line, or CSV with an arrival_s/time_s/timestamp column. */
export function readArrivalTimestamps(path: string): number[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new UserError(
      `cannot read arrival timestamps (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      path,
    );
  }
  const lines = text.split(/\r?\n/);
  const out: number[] = [];
  let col = 0;
  let start = 0;
  const first = lines[0]?.trim() ?? "";
  if (first !== "" && !Number.isFinite(Number(first.split(",")[0]))) {
    const header = first.split(",").map((h) => h.trim());
    col = header.findIndex((h) => ["arrival_s", "time_s", "timestamp", "arrival", "t"].includes(h));
    if (col < 0)
      throw new UserError(
        `header has no arrival_s/time_s/timestamp column; expected one arrival time in seconds per line`,
        `${path}:1`,
      );
    start = 1;
  }
  let prev = -Infinity;
  for (let i = start; i < lines.length; i++) {
    const l = lines[i].trim();
    if (l === "" || l.startsWith("#")) continue;
    const v = Number(l.split(",")[col]);
    if (!Number.isFinite(v) || v < 0)
      throw new UserError(`expected a non-negative arrival time in seconds, got '${l}'`, `${path}:${i + 1}`);
    if (v < prev) throw new UserError(`arrival times must not decrease (${v} after ${prev})`, `${path}:${i + 1}`);
    prev = v;
    out.push(v);
  }
  return out;
}

export interface RequestStats {
  /** Request ids, in arrival order. */
  seq: Int32Array;
  tokens: Int32Array;
  arrivalNs: Float64Array;
  /** When the request joined the running batch (start of its first step); NaN if never. */
  startNs: Float64Array;
  /** End of its first step (time to first token); NaN until known. */
  firstTokenNs: Float64Array;
  /** End of its last step; NaN until known. */
  endNs: Float64Array;
}

/**
 * Continuous batching: requests arrive (Poisson, timestamps, or all at once), join the running
 * batch while it has fewer than maxBatch requests, contribute one token per step, and leave after
 * their last token. The caller drives time: nextStep(nowNs) at the start of each step (which also
 * marks the end of the previous one), nextArrivalNs() when idle, finish(nowNs) after the last step.
 */
export class ContinuousBatcher {
  private readonly reqTokens: Int32Array[];
  private readonly arrivals: Float64Array;
  private readonly stats: RequestStats;
  private nextReq = 0;
  private running: number[] = [];
  private progress: Int32Array;
  private lastStep: number[] = [];
  private done = 0;

  constructor(
    trace: RoutingTrace,
    readonly opts: { maxBatch: number; arrival: ArrivalSpec },
    rng: RandomStream,
  ) {
    if (!Number.isInteger(opts.maxBatch) || opts.maxBatch < 1)
      throw new UserError(`maxBatch must be a positive integer, got ${opts.maxBatch}`);
    const r = requestTokens(trace);
    const n = r.tokens.length;
    this.reqTokens = r.tokens;
    this.arrivals = new Float64Array(n);
    const a = opts.arrival;
    if (a.kind === "poisson") {
      if (!(a.ratePerS > 0)) throw new UserError(`Poisson arrival rate must be > 0 per second, got ${a.ratePerS}`);
      let t = 0;
      for (let i = 0; i < n; i++) {
        t += rng.exponential(a.ratePerS) * 1e9;
        this.arrivals[i] = Math.round(t);
      }
    } else if (a.kind === "timestamps") {
      const ts = readArrivalTimestamps(a.path);
      if (ts.length < n)
        throw new UserError(`${ts.length} arrival times for ${n} requests; expected at least one per request`, a.path);
      for (let i = 0; i < n; i++) this.arrivals[i] = Math.round(ts[i] * 1e9);
    }
    this.progress = new Int32Array(n);
    this.stats = {
      seq: Int32Array.from(r.seq),
      tokens: Int32Array.from(r.tokens, (x) => x.length),
      arrivalNs: Float64Array.from(this.arrivals),
      startNs: new Float64Array(n).fill(NaN),
      firstTokenNs: new Float64Array(n).fill(NaN),
      endNs: new Float64Array(n).fill(NaN),
    };
  }

  get requests(): number {
    return this.reqTokens.length;
  }

  /** Closes the previous step at nowNs: records first-token and end times. */
  finish(nowNs: number): void {
    for (const i of this.lastStep) {
      if (Number.isNaN(this.stats.firstTokenNs[i])) this.stats.firstTokenNs[i] = nowNs;
      if (this.progress[i] >= this.reqTokens[i].length) this.stats.endNs[i] = nowNs;
    }
    this.lastStep = [];
  }

  /** Token indices of the next step (empty while waiting for an arrival), or null when all are done. */
  nextStep(nowNs: number): Int32Array | null {
    this.finish(nowNs);
    this.running = this.running.filter((i) => this.progress[i] < this.reqTokens[i].length);
    while (
      this.nextReq < this.reqTokens.length &&
      this.running.length < this.opts.maxBatch &&
      this.arrivals[this.nextReq] <= nowNs
    ) {
      const i = this.nextReq++;
      this.stats.startNs[i] = nowNs;
      if (this.reqTokens[i].length === 0) {
        this.stats.endNs[i] = nowNs;
        this.done++;
        continue;
      }
      this.running.push(i);
    }
    if (this.running.length === 0) return this.nextReq >= this.reqTokens.length ? null : new Int32Array(0);
    const out = new Int32Array(this.running.length);
    for (let j = 0; j < this.running.length; j++) {
      const i = this.running[j];
      out[j] = this.reqTokens[i][this.progress[i]++];
      if (this.progress[i] === this.reqTokens[i].length) this.done++;
    }
    this.lastStep = this.running.slice();
    return out;
  }

  /** Arrival time of the next request not yet admitted, or null when none is left. */
  nextArrivalNs(): number | null {
    return this.nextReq < this.reqTokens.length ? this.arrivals[this.nextReq] : null;
  }

  /** Requests that have produced all their tokens. */
  get completed(): number {
    return this.done;
  }

  /** Per-request arrival, start, first-token and end times (ns). */
  requestStats(): RequestStats {
    return this.stats;
  }
}
