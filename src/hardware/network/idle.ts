/**
 * Closed forms for a group of flows that runs alone on an idle network and whose flows share no
 * link: each flow runs at its route's minimum capacity (and its own cap) from start to end, so its
 * completion follows from its size alone, without progressive filling, heaps or flow slots.
 *
 * - closedFinish: the one finish-time helper. A flow of whole `bytes` at rate r finishes at the
 *   completion check start + ceil(bytes / r) of the event-driven path whenever x = bytes / r is
 *   below 1e9 ns and not within 2e-3 ns above an integer: every completion check then lands on an
 *   integer ns, the path's incremental arithmetic errs by a few ulps (which cannot cross an
 *   integer there), and its done tolerance of 1e-3 ns cannot catch the flow at an earlier check.
 *   The checks are the distinct finish offsets, and the endpoint sums are exact in any order.
 * - tableFinishes / applyTable: an all-to-all straight from its PairRoutes (no records); applied
 *   counters can be taken back exactly (takeBackTable) because every counter holds whole numbers.
 * - closedIsolated: the same from the fast path's records.
 * - advanceIsolated: the check-by-check replay for records outside closedFinish's bounds (same
 *   arithmetic, order and counters as the event-driven path).
 */
import { sortIdsByKey } from "./heap.js";
import type { FlowState } from "./flow-state.js";
import { MAX_ROUTE, type PairRoutes, type TableRates } from "./routes.js";

/**
 * The completion check (offset from the start, whole ns) at which a flow of `b` bytes alone on its
 * links at rate `r` (bytes per ns) finishes, or -1 where that is not provably the event-driven
 * path's (see the file comment).
 */
export function closedFinish(b: number, r: number): number {
  if (b !== Math.floor(b) || !(r > 0)) return -1;
  const x = b / r;
  const o = Math.ceil(x);
  if (!(x < 1e9) || x - (o - 1) <= 2e-3) return -1;
  return o;
}

export class IdleForms {
  // the table's per-pair finish offsets and sizes (kept while its group is live, for takeBackTable)
  private fin = new Float64Array(0);
  private keep = new Float64Array(0);
  private colSums = new Float64Array(64);
  // distinctFinishes' set: slot h is taken when finSetMark[h] === finMark
  private finSetMark = new Int32Array(0);
  private finSetKey = new Float64Array(0);
  private finMark = 0;
  // scratch of advanceIsolated, by record
  private rate = new Float64Array(0);
  private key = new Float64Array(0);
  private order = new Int32Array(0);
  private sorted = new Float64Array(0);
  private rank = new Int32Array(0);
  private act = new Int32Array(0);
  private pos = new Int32Array(0);
  private state = new Uint8Array(0);
  private hId = new Int32Array(0);
  private hKey = new Float64Array(0);
  private dOrder = new Int32Array(0);
  private cnt = new Int32Array(0);
  private readonly bits64 = new Float64Array(1);
  private readonly bits32 = new Uint32Array(this.bits64.buffer);

  /** Sizes the scratch for tables of nn pairs over n members now, rather than at the first all-to-all. */
  prepare(nn: number, n: number): void {
    this.closedScratch(nn);
    this.finSetFor(nn);
    this.colScratch(n);
  }

  /**
   * Each nonzero pair's finish offset (closedFinish) for an all-to-all over t, kept for applyTable
   * and takeBackTable; false when a pair falls outside closedFinish's bounds.
   */
  tableFinishes(t: PairRoutes, tr: TableRates, sizes: ArrayLike<number>): boolean {
    const nn = t.n * t.n;
    const rate = tr.rate;
    this.closedScratch(nn);
    const fin = this.fin;
    // (keep belongs to the live fast group, if any; the network is idle, so none is live)
    const keep = this.keep;
    for (let p = 0; p < nn; p++) {
      const b = sizes[p];
      if (!(b > 0)) {
        keep[p] = 0;
        continue;
      }
      keep[p] = b;
      if (t.len[p] === 0) return false;
      const o = closedFinish(b, rate[p]);
      if (o < 0) return false;
      fin[p] = o;
    }
    return true;
  }

  /**
   * The all-to-all of tableFinishes, started at `now`, brought to its end: link, endpoint, flow and
   * solve counters, and net.isoDeliver. Returns the last finish offset.
   */
  applyTable(net: FlowState, t: PairRoutes, tr: TableRates, count: number, now: number): number {
    const nn = t.n * t.n;
    const fin = this.fin;
    const keep = this.keep;
    const lat = tr.lat;
    const distinct = this.distinctFinishes(fin, nn, keep);
    let last = 0;
    const route = t.route;
    const len = t.len;
    const linkBusy = net.linkBusy;
    const linkBytes = net.linkBytes;
    const sent = net.sentBytes;
    const received = net.receivedBytes;
    const delivered = net.deliveredBytes;
    let deliver = now;
    // Endpoint bytes summed per row (source) and per column (destination) first, then added once
    // each: every count is a whole number (integral), so the order of the additions cannot matter.
    const n = t.n;
    const col = this.colScratch(n);
    for (let i = 0, p = 0; i < n; i++) {
      let row = 0;
      for (let j = 0; j < n; j++, p++) {
        const b = keep[p];
        if (b === 0) continue;
        const o = fin[p];
        if (o > last) last = o;
        for (let k = p * MAX_ROUTE, end = k + len[p]; k < end; k++) {
          const l = route[k];
          linkBusy[l] += o;
          linkBytes[l] += b;
        }
        row += b;
        col[j] += b;
        const at = now + o + lat[p];
        if (at > deliver) deliver = at;
      }
      if (row > 0) sent[t.src[i * n]] += row;
    }
    for (let j = 0; j < n; j++) {
      const c = col[j];
      if (c === 0) continue;
      received[t.dst[j]] += c;
      delivered[t.dst[j]] += c;
    }
    net.isoDeliver = deliver;
    net.flowsDone += count;
    net.solves += 1 + distinct;
    net.solvedFlows += count;
    net.nextTag = (net.nextTag + count) & 0x3fffffff;
    return last;
  }

  /** applyTable's link and endpoint counters taken back (exactly: whole numbers), its flows written as records. */
  takeBackTable(net: FlowState, t: PairRoutes): void {
    const nn = t.n * t.n;
    const fin = this.fin;
    const keep = this.keep;
    net.rec.n = 0;
    for (let p = 0; p < nn; p++) {
      const b = keep[p];
      if (b === 0) continue;
      const o = fin[p];
      const base = p * MAX_ROUTE;
      for (let k = base, end = base + t.len[p]; k < end; k++) {
        net.linkBusy[t.route[k]] -= o;
        net.linkBytes[t.route[k]] -= b;
      }
      net.sentBytes[t.src[p]] -= b;
      net.receivedBytes[t.dst[p]] -= b;
      net.deliveredBytes[t.dst[p]] -= b;
      net.rec.push(t.route.subarray(base, base + t.len[p]), t.len[p], b, b, Infinity, t.src[p], t.dst[p]);
    }
  }

  /**
   * How many distinct finish offsets fin[0..n) holds (only where use[i] > 0, when use is given):
   * the closed forms' completion checks, one re-solve each. A small open-addressed set; offsets
   * are whole ns below 1e9.
   */
  private distinctFinishes(fin: Float64Array, n: number, use: Float64Array | null): number {
    const hsize = this.finSetFor(n);
    const taken = this.finSetMark;
    const keys = this.finSetKey;
    const mark = ++this.finMark;
    const mask = hsize - 1;
    let distinct = 0;
    for (let i = 0; i < n; i++) {
      if (use !== null && !(use[i] > 0)) continue;
      const o = fin[i];
      let h = (Math.imul(o | 0, 0x9e3779b1) >>> 0) & mask;
      while (taken[h] === mark && keys[h] !== o) h = (h + 1) & mask;
      if (taken[h] !== mark) {
        taken[h] = mark;
        keys[h] = o;
        distinct++;
      }
    }
    return distinct;
  }

  /** The per-pair finish offsets and sizes, grown to nn pairs if smaller. */
  private closedScratch(nn: number): void {
    if (this.fin.length < nn) {
      this.fin = new Float64Array(nn);
      this.keep = new Float64Array(nn);
    }
  }

  /** A zeroed scratch of n per-destination sums (applyTable). */
  private colScratch(n: number): Float64Array {
    if (this.colSums.length < n) this.colSums = new Float64Array(Math.max(n, 2 * this.colSums.length));
    const c = this.colSums;
    c.fill(0, 0, n);
    return c;
  }

  /** distinctFinishes' table for n offsets (a power of two >= 2n), grown if smaller; returns its size. */
  private finSetFor(n: number): number {
    let hsize = 16;
    while (hsize < 2 * n) hsize *= 2;
    if (this.finSetMark.length < hsize) {
      this.finSetMark = new Int32Array(hsize);
      this.finSetKey = new Float64Array(hsize);
      this.finMark = 0;
    }
    return hsize;
  }

  /**
   * advanceIsolated in closed form (closedFinish for every record) for records started at t0:
   * counters brought to the group's end. Returns the time of the last completion check, or null,
   * having changed nothing, when a record falls outside closedFinish's bounds.
   */
  closedIsolated(net: FlowState, t0: number): number | null {
    const rec = net.rec;
    const n = rec.n;
    if (this.rate.length < n) this.growIsoScratch(n);
    const fin = this.key;
    const bytes = rec.bytes;
    const route = rec.route;
    const len = rec.len;
    const cap = net.linkCap;
    const maxRate = rec.maxRate;
    for (let i = 0; i < n; i++) {
      const b = bytes[i];
      if (!(b > 0) || len[i] === 0) return null;
      let r = maxRate[i] / 1e9;
      const base = i * MAX_ROUTE;
      for (let k = len[i] - 1; k >= 0; k--) {
        const c = cap[route[base + k]];
        if (c < r) r = c;
      }
      const o = closedFinish(b, r);
      if (o < 0) return null;
      fin[i] = o;
    }
    const distinct = this.distinctFinishes(fin, n, null);
    let last = 0;
    const linkLat = net.linkLat;
    const linkBusy = net.linkBusy;
    const linkBytes = net.linkBytes;
    const sent = net.sentBytes;
    const received = net.receivedBytes;
    const delivered = net.deliveredBytes;
    const logical = rec.logical;
    const src = rec.src;
    const dst = rec.dst;
    let deliver = net.isoDeliver;
    for (let i = 0; i < n; i++) {
      const o = fin[i];
      if (o > last) last = o;
      // finishIso(i, t0 + o): the flow had its links to itself from t0
      const b = bytes[i];
      const base = i * MAX_ROUTE;
      let lat = 0;
      for (let k = base, end = base + len[i]; k < end; k++) {
        const l = route[k];
        lat += linkLat[l];
        linkBusy[l] += o;
        linkBytes[l] += b;
      }
      sent[src[i]] += b;
      received[dst[i]] += b;
      delivered[dst[i]] += logical[i];
      const at = t0 + o + lat;
      if (at > deliver) deliver = at;
    }
    net.isoDeliver = deliver;
    net.flowsDone += n;
    net.isoLeft -= n;
    net.solves += 1 + distinct;
    net.solvedFlows += n;
    net.nextTag = (net.nextTag + n) & 0x3fffffff;
    return t0 + last;
  }

  /**
   * The event-driven path for records started at t0 whose flows share no link, computed from the
   * records without flow slots or heaps. Progressive filling gives a flow alone on its links
   * min(their capacities, its own cap) for its whole life, so the completion checks reduce to
   * visiting the flows in order of projected finish. Every check's arithmetic (remaining bytes,
   * next delay, done test), the finishing order (the active list's, with swap-removal) and so every
   * completion time and counter are those of the event-driven path; slot bookkeeping is skipped
   * (nothing outside the network sees slots). Returns the time of the last completion check.
   */
  advanceIsolated(net: FlowState, t0: number): number {
    const rec = net.rec;
    const n = rec.n;
    if (this.rate.length < n) this.growIsoScratch(n);
    const rate = this.rate;
    const key = this.key;
    const bytes = rec.bytes;
    const route = rec.route;
    const len = rec.len;
    const cap = net.linkCap;
    const act = this.act;
    const pos = this.pos;
    const state = this.state; // 0 running, 1 finishing, 2 finished
    // Zero-byte (or linkless) flows are delivered at once, as addFlow does; the others are active
    // in record order. Then solve(t0): each flow's rate.
    let na = 0;
    for (let i = 0; i < n; i++) {
      if (bytes[i] === 0 || len[i] === 0) {
        this.finishIso(net, i, t0, t0);
        state[i] = 2;
        continue;
      }
      state[i] = 0;
      pos[i] = na;
      act[na++] = i;
      let r = rec.maxRate[i] / 1e9;
      const b = i * MAX_ROUTE;
      for (let k = len[i] - 1; k >= 0; k--) {
        const c = cap[route[b + k]];
        if (c < r) r = c;
      }
      if (!(r > 0)) r = 1e-12;
      rate[i] = r;
      key[i] = t0 + bytes[i] / r;
    }
    net.solves++;
    net.solvedFlows += na;
    net.nextTag = (net.nextTag + na) & 0x3fffffff;
    const order = this.orderByKey(na);
    for (let a = 0; a < na; a++) pos[act[a]] = a;
    let now = t0;
    let idx = 0;
    let live = na;
    while (idx < na) {
      // nextDelay(now) for the earliest flow, then complete(now)
      const f0 = order[idx];
      now += Math.max(0, Math.ceil((bytes[f0] - rate[f0] * (now - t0)) / rate[f0] - 1e-6));
      const first = idx;
      while (idx < na) {
        const i = order[idx];
        const left = bytes[i] - rate[i] * (now - t0);
        if (!(left <= rate[i] * 1e-3 || left <= bytes[i] * 1e-12)) break;
        state[i] = 1;
        idx++;
      }
      if (idx === first) continue;
      // complete() finishes them in active-list order, swap-removal included: one scan does the same
      for (let p = 0; p < live; p++) {
        while (p < live && state[act[p]] === 1) {
          const i = act[p];
          this.finishIso(net, i, now, t0);
          state[i] = 2;
          const last = act[--live];
          act[p] = last;
          pos[last] = p;
        }
      }
      net.solves++; // solve(now): nothing left to re-rate
    }
    return now;
  }

  private growIsoScratch(n: number): void {
    const m = 2 * n;
    this.rate = new Float64Array(m);
    this.key = new Float64Array(m);
    this.order = new Int32Array(m);
    this.sorted = new Float64Array(m);
    this.rank = new Int32Array(m + 1);
    this.act = new Int32Array(m);
    this.pos = new Int32Array(m);
    this.state = new Uint8Array(m);
  }

  /**
   * The active records (act[0..na)) in order of projected finish (key), the order the completion
   * heap yields them. An all-to-all has few distinct message sizes, hence few distinct keys: they
   * are found through a small hash table on the key's bits, sorted (insertion sort, or a
   * comparator sort when many), and the records counting-sorted by rank.
   */
  private orderByKey(na: number): Int32Array {
    const act = this.act;
    const key = this.key;
    const order = this.order;
    const flowD = this.pos; // (scratch: a record's distinct-key id; the caller sets pos after)
    let hsize = 16;
    while (hsize < 2 * na) hsize *= 2;
    if (this.hId.length < hsize) {
      this.hId = new Int32Array(hsize);
      this.hKey = new Float64Array(hsize);
    }
    const hid = this.hId;
    const hkey = this.hKey;
    hid.fill(-1, 0, hsize);
    const mask = hsize - 1;
    const shift = 32 - Math.log2(hsize);
    const bits = this.bits64;
    const words = this.bits32;
    const dKey = this.sorted; // distinct keys, by id
    let nd = 0;
    for (let a = 0; a < na; a++) {
      const k = key[act[a]];
      bits[0] = k;
      let h = Math.imul(words[0] ^ words[1], 0x9e3779b1) >>> shift;
      while (hid[h] >= 0 && hkey[h] !== k) h = (h + 1) & mask;
      if (hid[h] < 0) {
        hid[h] = nd;
        hkey[h] = k;
        dKey[nd++] = k;
      }
      flowD[a] = hid[h];
    }
    // distinct ids in key order -> rank of each id
    const dOrder = this.dOrder.length >= nd ? this.dOrder : (this.dOrder = new Int32Array(2 * nd));
    for (let d = 0; d < nd; d++) dOrder[d] = d;
    sortIdsByKey(dOrder, nd, dKey);
    const rank = this.rank; // rank of each distinct id, then counting-sort offsets after nd
    for (let r = 0; r < nd; r++) rank[dOrder[r]] = r;
    const cnt = this.cnt.length >= nd + 1 ? this.cnt : (this.cnt = new Int32Array(2 * nd + 2));
    cnt.fill(0, 0, nd + 1);
    for (let a = 0; a < na; a++) cnt[rank[flowD[a]] + 1]++;
    for (let r = 1; r <= nd; r++) cnt[r] += cnt[r - 1];
    for (let a = 0; a < na; a++) order[cnt[rank[flowD[a]]]++] = act[a];
    return order;
  }

  /** finishFlow for record i, started at t0, finished at `now`: counters and delivery. */
  private finishIso(net: FlowState, i: number, now: number, t0: number): void {
    const rec = net.rec;
    const b = i * MAX_ROUTE;
    const bytes = rec.bytes[i];
    let lat = 0;
    for (let k = 0; k < rec.len[i]; k++) {
      const l = rec.route[b + k];
      lat += net.linkLat[l];
      if (bytes > 0) {
        // the link carried this flow alone, from t0
        net.linkBusy[l] += now - t0;
        net.linkBytes[l] += bytes;
      }
    }
    net.sentBytes[rec.src[i]] += bytes;
    net.receivedBytes[rec.dst[i]] += bytes;
    net.deliveredBytes[rec.dst[i]] += rec.logical[i];
    net.flowsDone++;
    const at = now + lat;
    if (at > net.isoDeliver) net.isoDeliver = at;
    net.isoLeft--;
  }
}
