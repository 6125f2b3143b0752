/**
 * The analytic network model: every link serves bytes at its capacity, first come first served;
 * a group queues its bytes on each link at once, a flow ends when the last link on its route is
 * through with them. No flow is simulated: one event per group. For a collective alone on the
 * network, a lower bound on the flow model's times (equal for flows that share no link, to the ns
 * rounding); see docs/hardware.md.
 */
import type { Simulation } from "../../sim/engine.js";
import { grown } from "../../util/arrays.js";
import { NetworkCore, type NetworkModel } from "./core.js";
import { BY_PAIRS, BY_ROWS, LinkBlocks } from "./link-blocks.js";
import type { ProductSizes } from "./product-sizes.js";
import { MAX_ROUTE, type PairRoutes, type PairsByLink, type TableRates } from "./routes.js";

/** The group id handed to runGroup's add callback. */
const RECORDING = -2;

export class AnalyticNetwork extends NetworkCore implements NetworkModel {
  private building = false;
  private aLoad = new Float64Array(0); // bytes per link of the group being computed
  private aTouched = new Int32Array(0);
  private aBusyUntil = new Float64Array(0); // when each link has drained the bytes queued on it so far
  private readonly aRoute = new Int32Array(MAX_ROUTE);
  /**
   * All-to-alls sum the loads of links with more than this many pairs by blocks where that saves work
   * (link-blocks.ts); null: half the group's size. Infinity sums every link pair by pair (tests compare both).
   */
  blockMinPairs: number | null = null;
  private readonly tableBlocks = new WeakMap<PairsByLink, LinkBlocks>();
  private sumRows = new Float64Array(0); // per (source, destination block)
  private sumCols = new Float64Array(0); // per (source block, destination)
  private vSums = new Float64Array(0); // the destination factor's sums over blocks (product sizes: factorSums)
  private uSums = new Float64Array(0); // the source factor's
  private coverSums = new Float64Array(0); // per cover, the other factor over its blocks (product sizes)
  private readonly productScratch = new ProductLoads(); // an all-to-all's loads and totals (product sizes)
  /** Constant product sizes' (ProductSizes.constant) loads and endpoint totals, for the table last used. */
  private readonly constantSums = new WeakMap<ProductSizes, ProductLoads>();

  constructor(sim: Simulation, endpoints: number) {
    super(sim, endpoints);
  }

  protected linksGrown(): void {}
  protected linkAdded(): void {}
  protected openBusyNs(): number {
    return 0;
  }

  startFlow(
    route: ArrayLike<number>,
    len: number,
    bytes: number,
    group: number,
    src: number,
    dst: number,
    logical = bytes,
    maxRateBytesPerS = Infinity,
  ): void {
    this.checkFlow(bytes, len);
    if (this.building) {
      if (group !== RECORDING) {
        throw new Error("runGroup: a flow of another group was started while the group's flows were being added");
      }
      this.rec.push(route, len, bytes, logical, maxRateBytesPerS, src, dst);
      return;
    }
    if (group === RECORDING) throw new Error("runGroup: its group id is valid only inside its add callback");
    // A single flow: a group of one (analyticRecords), delivered to its own group.
    const now = this.sim.now;
    this.rec.n = 0;
    this.rec.push(route, len, bytes, logical, maxRateBytesPerS, src, dst);
    this.deliver(group, this.analyticRecords(now), now);
  }

  /** A group: its flows recorded by `add`, computed by analyticRecords. One engine event. */
  runGroup(count: number, onDone: () => void, add: (group: number) => void): void {
    if (count === 0) {
      add(this.group(count, onDone));
      return;
    }
    const now = this.sim.now;
    this.rec.n = 0;
    this.building = true;
    try {
      add(RECORDING);
    } finally {
      this.building = false;
    }
    const n = this.rec.n;
    if (n !== count) throw new Error(`runGroup: ${count - n} of ${count} flows were not started by add()`);
    this.sim.scheduleRaw(Math.ceil(this.analyticRecords(now)) - now, onDone, 0, "network.delivered");
  }

  runAllToAll(t: PairRoutes, sizes: ArrayLike<number>, onDone: () => void): void {
    const nn = t.n * t.n;
    if (sizes.length !== nn) {
      throw new Error(`allToAll: sizes has ${sizes.length} entries, expected ${t.n} x ${t.n} = ${nn}`);
    }
    let count = 0;
    for (let p = 0; p < nn; p++) {
      const b = sizes[p];
      if (!(b >= 0) || !Number.isFinite(b)) throw new Error(`flow size must be a finite number >= 0, got ${b}`);
      if (b > 0) count++;
    }
    this.runAllToAllChecked(t, sizes, count, true, onDone);
  }

  runAllToAllChecked(
    t: PairRoutes,
    sizes: ArrayLike<number>,
    count: number,
    _whole: boolean,
    onDone: () => void,
  ): void {
    if (count === 0) {
      this.group(0, onDone);
      return;
    }
    const now = this.sim.now;
    this.sim.scheduleRaw(Math.ceil(this.analyticTable(t, sizes, count, now)) - now, onDone, 0, "network.delivered");
  }

  /** An all-to-all of product sizes (product-sizes.ts) with `count` of them > 0, checked by the caller. */
  runAllToAllProduct(t: PairRoutes, sizes: ProductSizes, count: number, onDone: () => void): void {
    if (sizes.n !== t.n) throw new Error(`allToAll: sizes are for ${sizes.n} members, the group has ${t.n}`);
    if (count === 0) {
      this.group(0, onDone);
      return;
    }
    const now = this.sim.now;
    this.sim.scheduleRaw(Math.ceil(this.analyticProduct(t, sizes, count, now)) - now, onDone, 0, "network.delivered");
  }

  /** Readies the model for all-to-alls over t: its per-pair latencies, pairs by link and block sums, now. */
  prepareTable(t: PairRoutes): void {
    this.blocksOf(t, this.linksOf(t, this.ratesOf(t)));
  }

  /** A table's block structure (link-blocks.ts), built on first use, and room for its sums. */
  private blocksOf(t: PairRoutes, al: PairsByLink): LinkBlocks {
    let lb = this.tableBlocks.get(al);
    if (lb === undefined) {
      lb = new LinkBlocks(t.n, al, this.blockMinPairs ?? undefined);
      this.tableBlocks.set(al, lb);
    }
    if (lb.rows && this.sumRows.length < t.n * lb.nbD) this.sumRows = new Float64Array(t.n * lb.nbD);
    if (lb.cols && this.sumCols.length < t.n * lb.nbS) this.sumCols = new Float64Array(t.n * lb.nbS);
    return lb;
  }

  /** A table's pairs by link, built on first use. */
  /**
   * Queues `bytes` on link l at time t0: the link serves bytes at its capacity, first come first
   * served across all traffic, so they start when it has drained what came before (or at t0) and
   * take bytes / capacity. Returns when they are through; counts link bytes and busy time.
   */
  private drain(l: number, t0: number, bytes: number): number {
    if (this.aBusyUntil.length < this.linkCap.length) this.aBusyUntil = grown(this.aBusyUntil, this.linkCap.length);
    const dur = bytes / this.linkCap[l];
    const end = Math.max(t0, this.aBusyUntil[l]) + dur;
    this.aBusyUntil[l] = end;
    this.linkBusy[l] += dur;
    this.linkBytes[l] += bytes;
    return end;
  }

  /**
   * analyticRecords for an all-to-all, straight from its table, link by link (PairsByLink): the
   * same link loads, drains and counters, and the same last delivery (the maximum over flows of
   * their slowest link's end plus their latency is the maximum over links of the link's end plus
   * its sending pairs' longest latency: rounding is monotone). A link that carries a product set
   * of pairs over whole blocks of members takes its load from the block sums of one pass over the
   * sizes (link-blocks.ts); the others sum their pairs in pair order. Block sums add the same
   * bytes in another order: equal for whole-byte sizes (exact sums), within float rounding
   * otherwise; a load is 0 either way exactly when all its pairs send nothing. No records
   * written. All-to-all flows have no rate cap of their own.
   */
  private analyticTable(t: PairRoutes, sizes: ArrayLike<number>, count: number, now: number): number {
    const tr = this.ratesOf(t);
    const al = this.linksOf(t, tr);
    const lb = this.blocksOf(t, al);
    this.sweep(t, sizes, lb);
    const n = t.n;
    const lat = tr.lat;
    const links = al.links;
    const start = al.start;
    const pairs = al.pairs;
    const byLat = al.byLat;
    const mode = lb.mode;
    const mStart = lb.mStart;
    const members = lb.members;
    const cover = lb.cover;
    const cStart = lb.cStart;
    const blocks = lb.cBlocks;
    const rows = this.sumRows;
    const cols = this.sumCols;
    const nbD = lb.nbD;
    let deliver = now;
    // Link by link: its load, drained after what was queued there before. A flow ends when the
    // last link on its route has drained and is delivered its route's latency later, so the last
    // delivery is, over the loaded links, the link's end plus the longest latency among its pairs
    // that send.
    for (let i = 0; i < links.length; i++) {
      const a = start[i];
      const b = start[i + 1];
      let load = 0;
      const m = mode[i];
      if (m === BY_PAIRS) {
        for (let x = a; x < b; x++) load += sizes[pairs[x]];
      } else {
        const c = cover[i];
        const y0 = cStart[c];
        const y1 = cStart[c + 1];
        for (let x = mStart[i], xe = mStart[i + 1]; x < xe; x++) {
          const mb = members[x];
          if (m === BY_ROWS) for (let y = y0; y < y1; y++) load += rows[mb * nbD + blocks[y]];
          else for (let y = y0; y < y1; y++) load += cols[blocks[y] * n + mb];
        }
      }
      if (!(load > 0)) continue;
      const end = this.drain(links[i], now, load);
      let x = a;
      while (!(sizes[byLat[x]] > 0)) x++;
      const at = end + lat[byLat[x]];
      if (at > deliver) deliver = at;
    }
    this.flowsDone += count;
    return deliver;
  }

  /**
   * One pass over an all-to-all's sizes, in pair order: the endpoint counters, and the block sums
   * its links need (sumRows[source * nbD + destination block], sumCols[source block * n +
   * destination]). Each counter and sum adds its pairs' bytes in pair order, as a pass adding pair
   * by pair would (adding the zeros changes nothing); a row's sent bytes and block sums are kept in
   * locals over the row.
   */
  private sweep(t: PairRoutes, sizes: ArrayLike<number>, lb: LinkBlocks): void {
    const n = t.n;
    const src = t.src;
    const dst = t.dst; // dst[j]: member j's endpoint (row 0)
    const sent = this.sentBytes;
    const received = this.receivedBytes;
    const delivered = this.deliveredBytes;
    const byRows = lb.rows;
    const byCols = lb.cols;
    const rows = this.sumRows;
    const cols = this.sumCols;
    const nbD = lb.nbD;
    const dFirst = lb.dFirst;
    const sBlock = lb.sBlock;
    if (byCols) cols.fill(0, 0, n * lb.nbS);
    for (let i = 0; i < n; i++) {
      const row = i * n;
      const s = src[row];
      const rBase = i * nbD;
      const cBase = sBlock[i] * n - row;
      let out = sent[s];
      for (let k = 0; k < nbD; k++) {
        let sum = 0;
        for (let p = row + dFirst[k], end = row + dFirst[k + 1]; p < end; p++) {
          const b = sizes[p];
          sum += b;
          out += b;
          const d = dst[p - row];
          received[d] += b;
          delivered[d] += b;
          if (byCols) cols[cBase + p] += b;
        }
        if (byRows) rows[rBase + k] = sum;
      }
      sent[s] = out;
    }
  }

  /**
   * analyticTable for product sizes, in O(members x block size + links x members on them + covers
   * x blocks): a link's pairs {S} x {whole blocks} send sum over s in S of u[s] * (v summed over
   * the blocks) * k1 * k2 (with a member's pair to itself left out, where it sends nothing to
   * itself, by the per-block sums); the endpoint totals likewise; links summed pair by pair compute
   * their pairs' sizes. The sums add the same bytes in another order than a pass over the dense
   * matrix (within float rounding of it); a sum of sizes is 0 exactly when each of them is.
   */
  private analyticProduct(t: PairRoutes, ps: ProductSizes, count: number, now: number): number {
    const tr = this.ratesOf(t);
    const al = this.linksOf(t, tr);
    const lb = this.blocksOf(t, al);
    const n = t.n;
    // constant sizes (the counts all-to-all, one per MoE layer) keep their loads and endpoint totals per table
    let sums = ps.constant ? this.constantSums.get(ps) : this.productScratch;
    if (sums === undefined || sums.lb !== lb || !ps.constant) {
      if (sums === undefined) this.constantSums.set(ps, (sums = new ProductLoads()));
      this.productLoads(t, ps, al, sums.fit(lb, al.links.length, n));
    }
    // the endpoint counters, each member's total added as productSums computed it
    const sent = this.sentBytes;
    const received = this.receivedBytes;
    const delivered = this.deliveredBytes;
    for (let i = 0; i < n; i++) sent[t.src[i * n]] += sums.sent[i];
    for (let j = 0; j < n; j++) {
      received[t.dst[j]] += sums.got[j];
      delivered[t.dst[j]] += sums.got[j];
    }
    const deliver = this.drainLoads(tr, al, ps, sums.loads, now);
    this.flowsDone += count;
    return deliver;
  }

  /** Product sizes' link loads (sums.loads) and endpoint totals (sums.sent, got) over a table. */
  private productLoads(t: PairRoutes, ps: ProductSizes, al: PairsByLink, sums: ProductLoads): void {
    const lb = sums.lb!;
    const coverSum = this.productSums(t, ps, lb, sums.sent, sums.got);
    const n = t.n;
    const { u, v, k1, k2, noSelf } = ps;
    const loads = sums.loads;
    // each link's load, by kind of link (LinkBlocks.byPairs, byBlocks): a loop per kind, without a branch per link
    const { byPairs, qStart, qSrc, qDst, byBlocks, mode, mStart, members, cover, cStart, selfIn } = lb;
    for (let y = 0; y < byPairs.length; y++) {
      let load = 0;
      const xe = qStart[y + 1];
      if (noSelf) {
        for (let x = qStart[y]; x < xe; x++) if (qSrc[x] !== qDst[x]) load += u[qSrc[x]] * v[qDst[x]] * k1 * k2;
      } else {
        for (let x = qStart[y]; x < xe; x++) load += u[qSrc[x]] * v[qDst[x]] * k1 * k2;
      }
      loads[byPairs[y]] = load;
    }
    const blocks = lb.cBlocks;
    const rows = this.sumRows;
    const cols = this.sumCols;
    const nbD = lb.nbD;
    for (let y = 0; y < byBlocks.length; y++) {
      const i = byBlocks[y];
      const m = mode[i];
      let load = 0;
      if (noSelf && selfIn[i] === 1) {
        // per block, a member's own block without its pair to itself (productSums)
        const c = cover[i];
        for (let x = mStart[i], xe = mStart[i + 1]; x < xe; x++) {
          const mb = members[x];
          for (let z = cStart[c]; z < cStart[c + 1]; z++) {
            load += m === BY_ROWS ? rows[mb * nbD + blocks[z]] : cols[blocks[z] * n + mb];
          }
        }
      } else {
        const f = m === BY_ROWS ? u : v; // the members' own factor
        const sum = coverSum[cover[i]]; // the other factor over the link's blocks
        for (let x = mStart[i], xe = mStart[i + 1]; x < xe; x++) load += f[members[x]] * sum * k1 * k2;
      }
      loads[i] = load;
    }
  }

  /**
   * Each loaded link of a table drains its load from `now` (drain() written out; with the loops by
   * kind ~10% less time per all-to-all); returns the last delivery.
   */
  private drainLoads(tr: TableRates, al: PairsByLink, ps: ProductSizes, loads: Float64Array, now: number): number {
    if (this.aBusyUntil.length < this.linkCap.length) this.aBusyUntil = grown(this.aBusyUntil, this.linkCap.length);
    const busyUntil = this.aBusyUntil;
    const cap = this.linkCap;
    const busy = this.linkBusy;
    const linkBytes = this.linkBytes;
    const lat = tr.lat;
    const { links, start, byLat, oneLat } = al;
    const n = ps.n;
    const { u, v, k1, k2, noSelf } = ps;
    let deliver = now;
    for (let i = 0; i < links.length; i++) {
      const load = loads[i];
      if (!(load > 0)) continue;
      const l = links[i];
      const dur = load / cap[l];
      const end = Math.max(now, busyUntil[l]) + dur;
      busyUntil[l] = end;
      busy[l] += dur;
      linkBytes[l] += load;
      let latency = oneLat[i];
      if (Number.isNaN(latency)) {
        // the link's pairs differ in latency: the longest among those that send (byLat: longest first)
        let x = start[i];
        for (; ; x++) {
          const p = byLat[x];
          const s = (p / n) | 0;
          const d = p - s * n;
          if (!(noSelf && s === d) && u[s] * v[d] * k1 * k2 > 0) break;
        }
        latency = lat[byLat[x]];
      }
      const at = end + latency;
      if (at > deliver) deliver = at;
    }
    return deliver;
  }

  /**
   * Product sizes' endpoint counters and, per cover (link-blocks.ts), the other factor summed over
   * its blocks (returned); with no pairs to self, the block sums of the links that hold a member's
   * own block (sweep's sumRows, sumCols). A member's total is its factor times the other's sum over
   * the blocks before its own, its own block without it (with no pairs to self), and the blocks after.
   */
  private productSums(
    t: PairRoutes,
    ps: ProductSizes,
    lb: LinkBlocks,
    sentOf: Float64Array,
    gotOf: Float64Array,
  ): Float64Array {
    const n = t.n;
    const { u, v, k1, k2, noSelf } = ps;
    const { nbD, nbS, dBlock, sBlock, dFirst, sFirst } = lb;
    if (this.vSums.length < 3 * nbD) this.vSums = new Float64Array(3 * nbD);
    if (this.uSums.length < 3 * nbS) this.uSums = new Float64Array(3 * nbS);
    const vb = factorSums(v, dBlock, nbD, this.vSums);
    const ub = factorSums(u, sBlock, nbS, this.uSums);
    const nc = lb.cMode.length;
    if (this.coverSums.length < nc) this.coverSums = new Float64Array(2 * nc);
    const coverSum = this.coverSums;
    for (let c = 0; c < nc; c++) {
      const rowsOf = lb.cMode[c] === BY_ROWS;
      const f = rowsOf ? vb : ub;
      const nb = rowsOf ? nbD : nbS;
      const head = lb.cHead[c];
      const tail = lb.cTail[c];
      if (head >= 0) {
        // blocks [0, head) and [tail, nb): the sums before block head and from block tail on
        coverSum[c] =
          (head < nb ? f[nb + head] : f[nb + nb - 1] + f[nb - 1]) + (tail < nb ? f[2 * nb + tail] + f[tail] : 0);
        continue;
      }
      let sum = 0;
      for (let y = lb.cStart[c]; y < lb.cStart[c + 1]; y++) sum += f[lb.cBlocks[y]];
      coverSum[c] = sum;
    }
    const rows = noSelf && lb.rowsSelf ? this.sumRows : null;
    const cols = noSelf && lb.colsSelf ? this.sumCols : null;
    for (let i = 0; i < n; i++) {
      const own = dBlock[i];
      const ownSum = noSelf ? sumBut(v, dFirst[own], dFirst[own + 1], i) : vb[own];
      sentOf[i] = u[i] * (vb[nbD + own] + ownSum + vb[2 * nbD + own]) * k1 * k2;
      if (rows !== null)
        for (let k = 0; k < nbD; k++) rows[i * nbD + k] = u[i] * (k === own ? ownSum : vb[k]) * k1 * k2;
    }
    for (let j = 0; j < n; j++) {
      const own = sBlock[j];
      const ownSum = noSelf ? sumBut(u, sFirst[own], sFirst[own + 1], j) : ub[own];
      const got = (ub[nbS + own] + ownSum + ub[2 * nbS + own]) * v[j] * k1 * k2;
      gotOf[j] = got;
      if (cols !== null) for (let k = 0; k < nbS; k++) cols[k * n + j] = (k === own ? ownSum : ub[k]) * v[j] * k1 * k2;
    }
    return coverSum;
  }

  /**
   * The analytic model over the records: each link drains the records' bytes on it at its
   * capacity, after what earlier traffic queued there (from now if the link is free); a flow ends
   * when the last link on its route has drained (and no sooner than its own rate cap allows) and
   * is delivered its route's latency later. Counts link, endpoint and flow counters; returns when
   * the last flow is delivered.
   */
  private analyticRecords(now: number): number {
    const rec = this.rec;
    const n = rec.n;
    if (this.aLoad.length < this.linkCap.length) {
      this.aLoad = new Float64Array(this.linkCap.length);
      this.aTouched = new Int32Array(this.linkCap.length);
    }
    const load = this.aLoad;
    const touched = this.aTouched;
    let nt = 0;
    const route = rec.route;
    const len = rec.len;
    const bytes = rec.bytes;
    for (let i = 0; i < n; i++) {
      const b = bytes[i];
      if (!(b > 0)) continue;
      const base = i * MAX_ROUTE;
      for (let k = base, end = base + len[i]; k < end; k++) {
        const l = route[k];
        if (load[l] === 0) touched[nt++] = l;
        load[l] += b;
      }
    }
    // load[l] becomes the time the link is through with the records' bytes
    for (let x = 0; x < nt; x++) {
      const l = touched[x];
      load[l] = this.drain(l, now, load[l]);
    }
    const linkLat = this.linkLat;
    const maxRate = rec.maxRate;
    const logical = rec.logical;
    const src = rec.src;
    const dst = rec.dst;
    const sent = this.sentBytes;
    const received = this.receivedBytes;
    const delivered = this.deliveredBytes;
    let deliver = now;
    for (let i = 0; i < n; i++) {
      const b = bytes[i];
      let finish = now;
      let lat = 0;
      const base = i * MAX_ROUTE;
      const end = base + len[i];
      for (let k = base; k < end; k++) {
        const l = route[k];
        lat += linkLat[l];
        if (b > 0 && load[l] > finish) finish = load[l];
      }
      // a rate cap of its own (pageable copies); uncapped flows (Infinity) have none to add
      if (b > 0 && end > base && maxRate[i] !== Infinity) {
        const own = now + b / (maxRate[i] / 1e9);
        if (own > finish) finish = own;
      }
      const at = finish + lat;
      if (at > deliver) deliver = at;
      sent[src[i]] += b;
      received[dst[i]] += b;
      delivered[dst[i]] += logical[i];
    }
    for (let t = 0; t < nt; t++) load[touched[t]] = 0;
    this.flowsDone += n;
    return deliver;
  }
}

/** An all-to-all of product sizes over a table (lb): per link its load, per member the bytes it sends and receives. */
class ProductLoads {
  lb: LinkBlocks | null = null;
  loads = new Float64Array(0);
  sent = new Float64Array(0);
  got = new Float64Array(0);

  /** Readied for a table of nl links and n members. */
  fit(lb: LinkBlocks, nl: number, n: number): this {
    this.lb = lb;
    if (this.loads.length < nl) this.loads = new Float64Array(nl);
    if (this.sent.length < n) {
      this.sent = new Float64Array(n);
      this.got = new Float64Array(n);
    }
    return this;
  }
}

/**
 * A factor's sums over blocks (block[m] of member m) at out[k], the sums over the blocks before
 * block k at out[nb + k] and after it at out[2 nb + k] (out has room for 3 nb). Written into a
 * scratch array of its own, not a view of a shared one (a view per call allocated).
 */
function factorSums(f: Float64Array, block: Int32Array, nb: number, out: Float64Array): Float64Array {
  out.fill(0, 0, nb);
  for (let m = 0; m < f.length; m++) out[block[m]] += f[m];
  let before = 0;
  for (let k = 0; k < nb; k++) {
    out[nb + k] = before;
    before += out[k];
  }
  let after = 0;
  for (let k = nb - 1; k >= 0; k--) {
    out[2 * nb + k] = after;
    after += out[k];
  }
  return out;
}

/** f[a .. b) summed without f[m]. */
function sumBut(f: Float64Array, a: number, b: number, m: number): number {
  let sum = 0;
  for (let j = a; j < b; j++) if (j !== m) sum += f[j];
  return sum;
}
