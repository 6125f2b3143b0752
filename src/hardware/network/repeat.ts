/**
 * Repeated all-to-alls on an idle network (fast-path.ts): an all-to-all whose flows share links is
 * computed by progressive filling on a private clock (FlowModel.advance). When the same sizes over
 * the same routes start again on an idle network, the run is the same run shifted in time: what it
 * did to the counters is kept and added again, without re-solving.
 *
 * Why the shift changes nothing, exactly. The run's arithmetic on absolute times is: integer
 * completion checks (now + whole ns), differences of such times (exact), and sums of such a time
 * and a relative amount (a projected finish now + bytes / rate, a delivery now + latency). For t0
 * in [2^k, 2^(k+1)) with k <= 51 every integer there is a multiple of the spacing u = 2^(k-52) of
 * the doubles in that range, with an even multiplier, so now + x rounds to now + (x rounded to a
 * multiple of u, ties to even) whatever the integer now is, as long as the sum stays below
 * 2^(k+1). Two runs of the same records started at t0 and t0' in the same binade [2^k, 2^(k+1)),
 * whose times all stay below 2^(k+1), therefore compute every projected finish, comparison,
 * completion check and delivery shifted by t0' - t0 exactly, and change every counter by the same
 * amounts. The counters hold whole numbers while the network's flows have had whole bytes
 * (FlowNetwork.integral), so adding the amounts at once equals adding them flow by flow.
 * The run's largest time is the largest of its projected finishes (FlowModel.keyHigh), its last
 * completion check and its last delivery.
 */
import type { PairRoutes } from "./routes.js";

/** Runs kept per table (the most recent ones). */
const WAYS = 4;
/** Tables with more pairs than this keep no runs (a copy of the sizes per run). */
export const MAX_REPEAT_PAIRS = 1 << 16;

/** The binade exponent k of t (2^k <= t < 2^(k+1)), for 1 <= t < 2^52; -1 otherwise. */
export function binadeOf(t: number): number {
  if (!(t >= 1 && t < 2 ** 52)) return -1;
  let k = Math.floor(Math.log2(t));
  while (2 ** k > t) k--;
  while (2 ** (k + 1) <= t) k++;
  return k;
}

/** One run of an all-to-all: its sizes and, relative to its start, its times and counter changes. */
export class RepeatRun {
  sizes = new Float64Array(0);
  binade = -1;
  /** The largest time of the run, its last completion check and its last delivery, less its start. */
  high = 0;
  last = 0;
  deliver = 0;
  nLinks = 0;
  links = new Int32Array(0);
  linkBytes = new Float64Array(0);
  linkBusy = new Float64Array(0);
  nEnds = 0;
  ends = new Int32Array(0);
  sent = new Float64Array(0);
  received = new Float64Array(0);
  delivered = new Float64Array(0);
  solves = 0;
  solvedFlows = 0;
  flowsDone = 0;
  tags = 0;
  /** When it was last kept or found (RepeatRuns' clock): the least recently used is replaced. */
  used = 0;
}

/** The counters a run changes, as the network holds them (FlowState) and as they were before it (the snapshot). */
export interface RunCounters {
  linkBytes: Float64Array;
  linkBusy: Float64Array;
  sentBytes: Float64Array;
  receivedBytes: Float64Array;
  deliveredBytes: Float64Array;
}

export class RepeatRuns {
  private readonly byTable = new WeakMap<PairRoutes, RepeatRun[]>();
  private clock = 0;
  // the binade of the last start asked about: [2^k, 2^(k+1))
  private k = -1;
  private lo = Infinity;
  private hi = -Infinity;

  /** binadeOf(t0), from the last one asked about when t0 lies in it (starts come in increasing order). */
  private binade(t0: number): number {
    if (t0 >= this.lo && t0 < this.hi) return this.k;
    const k = binadeOf(t0);
    this.k = k;
    this.lo = k < 0 ? Infinity : 2 ** k;
    this.hi = k < 0 ? -Infinity : 2 ** (k + 1);
    return k;
  }

  /** A kept run of these sizes over t that may be shifted to start at t0, or null. */
  find(t: PairRoutes, sizes: ArrayLike<number>, t0: number): RepeatRun | null {
    const kept = this.byTable.get(t);
    if (kept === undefined) return null;
    const k = this.binade(t0);
    if (k < 0 || k > 51) return null;
    const nn = t.n * t.n;
    for (const r of kept) {
      if (r.binade !== k || !(t0 + r.high < 2 ** (k + 1))) continue;
      const s = r.sizes;
      let p = 0;
      while (p < nn && s[p] === sizes[p]) p++;
      if (p === nn) {
        r.used = ++this.clock;
        return r;
      }
    }
    return null;
  }

  /**
   * Keeps the run of `sizes` over t just computed from t0 (counters `now`, as they were before it
   * `before`; `high` its largest time), if it can be shifted: t0 and high in one binade below 2^52.
   */
  keep(
    t: PairRoutes,
    sizes: ArrayLike<number>,
    t0: number,
    high: number,
    last: number,
    deliver: number,
    now: RunCounters,
    before: RunCounters,
    nLinks: number,
    counts: readonly [number, number, number, number],
  ): void {
    const nn = t.n * t.n;
    const k = this.binade(t0);
    if (nn > MAX_REPEAT_PAIRS || k < 0 || k > 51 || !(high < 2 ** (k + 1))) return;
    let kept = this.byTable.get(t);
    if (kept === undefined) this.byTable.set(t, (kept = []));
    let r: RepeatRun;
    if (kept.length < WAYS) kept.push((r = new RepeatRun()));
    else {
      r = kept[0];
      for (const x of kept) if (x.used < r.used) r = x;
    }
    r.used = ++this.clock;
    if (r.sizes.length !== nn) r.sizes = new Float64Array(nn);
    for (let p = 0; p < nn; p++) r.sizes[p] = sizes[p];
    r.binade = k;
    r.high = high - t0; // exact: both in [2^k, 2^(k+1))
    r.last = last - t0;
    r.deliver = deliver - t0;
    if (r.links.length < nLinks) {
      r.links = new Int32Array(nLinks);
      r.linkBytes = new Float64Array(nLinks);
      r.linkBusy = new Float64Array(nLinks);
    }
    let nl = 0;
    for (let l = 0; l < nLinks; l++) {
      const db = now.linkBytes[l] - before.linkBytes[l];
      const dt = now.linkBusy[l] - before.linkBusy[l];
      if (db === 0 && dt === 0) continue;
      r.links[nl] = l;
      r.linkBytes[nl] = db;
      r.linkBusy[nl++] = dt;
    }
    r.nLinks = nl;
    const ne = now.sentBytes.length;
    if (r.ends.length < ne) {
      r.ends = new Int32Array(ne);
      r.sent = new Float64Array(ne);
      r.received = new Float64Array(ne);
      r.delivered = new Float64Array(ne);
    }
    let m = 0;
    for (let e = 0; e < ne; e++) {
      const ds = now.sentBytes[e] - before.sentBytes[e];
      const dr = now.receivedBytes[e] - before.receivedBytes[e];
      const dd = now.deliveredBytes[e] - before.deliveredBytes[e];
      if (ds === 0 && dr === 0 && dd === 0) continue;
      r.ends[m] = e;
      r.sent[m] = ds;
      r.received[m] = dr;
      r.delivered[m++] = dd;
    }
    r.nEnds = m;
    [r.solves, r.solvedFlows, r.flowsDone, r.tags] = counts;
  }

  /** Adds a kept run's counter changes to the network's counters. */
  static apply(r: RepeatRun, c: RunCounters): void {
    for (let i = 0; i < r.nLinks; i++) {
      const l = r.links[i];
      c.linkBytes[l] += r.linkBytes[i];
      c.linkBusy[l] += r.linkBusy[i];
    }
    for (let i = 0; i < r.nEnds; i++) {
      const e = r.ends[i];
      c.sentBytes[e] += r.sent[i];
      c.receivedBytes[e] += r.received[i];
      c.deliveredBytes[e] += r.delivered[i];
    }
  }
}
