/**
 * Runs an all-to-all on its table's symmetry quotient (quotient.ts): progressive filling over the
 * quotient flows on a private flow model whose links are the orbits, then every member's finish,
 * delivery and counters written onto the network as the member path would leave them.
 */
import { Simulation } from "../../sim/engine.js";
import type { NetworkCore } from "./core.js";
import { FlowModel } from "./flow.js";
import { ProductSizes } from "./product-sizes.js";
import { LinkBlocks } from "./link-blocks.js";
import {
  BY_DEST,
  BY_SOURCE,
  productQuotientSizes,
  quotientSizes,
  sharesLinks,
  tableQuotient,
  type TableQuotient,
} from "./quotient.js";
import { MAX_ROUTE, type PairRoutes } from "./routes.js";
import { SteadyComponents } from "./steady.js";

export class QuotientSolver extends FlowModel {
  readonly tq: TableQuotient;
  /** Per quotient flow: its bytes in the call under way (0: none), then its finish (completion check, ns). */
  private readonly bytes: Float64Array;
  private readonly fin: Float64Array;
  private readonly mark: Int32Array;
  private runs = 0;
  /** Components whose rates never change, computed without progressive filling (steady.ts). */
  private readonly steady: SteadyComponents;
  private readonly steadyOut = [0, 0];
  private readonly blockSums: Float64Array;
  /** Quotient flows computed so far in closed form (steady components) and by progressive filling. */
  steadyFlows = 0;
  filledFlows = 0;

  constructor(tq: TableQuotient) {
    super(new Simulation(), 1);
    this.tq = tq;
    this.bytes = new Float64Array(tq.nq);
    this.fin = new Float64Array(tq.nq);
    this.mark = new Int32Array(tq.orbitCap.length);
    this.steady = new SteadyComponents(tq);
    let nb = 0;
    for (const b of tq.block) if (b + 1 > nb) nb = b + 1;
    this.blockSums = new Float64Array(nb);
    for (let o = 0; o < tq.orbitCap.length; o++) {
      const id = this.addLink(`orbit${o}`, "fabric", 1, 0);
      // the orbit's capacity as it is (addLink's bytes/s -> bytes/ns division would round it)
      this.linkCap[id] = tq.orbitCap[o];
      this.mm.cap[id] = tq.orbitCap[o];
    }
  }

  /** A member's flows finish together: the quotient flow's completion check. */
  override groupDone(group: number, _deliverAt: number, now: number): void {
    this.fin[group] = now;
  }

  /**
   * Takes the sizes of a call (bytes per pair of the quotient's table): true when they are equal
   * within every aggregate and two of their flows share a link (else the member path's closed forms
   * for flows alone on their links apply), so that run() may follow.
   */
  fits(sizes: ArrayLike<number>): boolean {
    const count = quotientSizes(this.tq, sizes, this.bytes);
    return count > 0 && sharesLinks(this.tq, this.bytes, this.mark, ++this.runs);
  }

  /**
   * The all-to-all whose sizes fits() took, over t (the quotient's table), from t0 on an idle
   * network `net`: every member's bytes, busy time and endpoint counters added to net, and [last
   * delivery, last completion check, the largest projected finish, solves, solved flows] written to
   * `out`.
   */
  run(
    net: NetworkCore,
    t: PairRoutes,
    sizes: ArrayLike<number> | ProductSizes,
    lat: Float64Array,
    t0: number,
    out: number[],
  ): void {
    const tq = this.tq;
    const solves0 = this.solves;
    const solved0 = this.solvedFlows;
    const { bytes, fin } = this;
    let deliver = t0;
    const so = this.steadyOut;
    const closed = this.steady.closed;
    let solved = 0;
    this.steadyFlows += this.steady.run(bytes, t0, fin, so);
    for (let q = 0; q < tq.nq; q++) {
      const b = bytes[q];
      if (!(b > 0) || closed[q] === 1) continue;
      this.addFlow(t0, tq.qRoute, tq.qLen[q], b * tq.mult[q], q, 0, 0, 0, Infinity, q * MAX_ROUTE);
      solved++;
    }
    this.filledFlows += solved;
    this.keyHigh = -Infinity;
    out[1] = Math.max(solved > 0 ? this.advance(t0, Infinity) : t0, so[0]);
    if (so[1] > this.keyHigh) this.keyHigh = so[1];
    for (let q = 0; q < tq.nq; q++) {
      if (!(bytes[q] > 0)) continue;
      const d = fin[q] + lat[tq.rep[q]];
      if (d > deliver) deliver = d;
    }
    out[0] = deliver;
    out[2] = this.keyHigh;
    out[3] = this.solves - solves0;
    out[4] = this.solvedFlows - solved0;
    this.apply(net, t, sizes, t0);
  }

  /** Adds the members' counters to net (an orbit's links carry the same members: the same bytes and last finish). */
  private apply(net: NetworkCore, t: PairRoutes, sizes: ArrayLike<number> | ProductSizes, t0: number): void {
    const { oLinkStart, oLinks, oStart, oq, oCount } = this.tq;
    const { bytes, fin } = this;
    for (let o = 0; o + 1 < oStart.length; o++) {
      let sum = 0;
      let last = -Infinity;
      for (let e = oStart[o]; e < oStart[o + 1]; e++) {
        const q = oq[e];
        const b = bytes[q];
        if (!(b > 0)) continue;
        sum += b * oCount[e];
        if (fin[q] > last) last = fin[q];
      }
      if (last === -Infinity) continue;
      for (let k = oLinkStart[o]; k < oLinkStart[o + 1]; k++) {
        const l = oLinks[k];
        net.linkBytes[l] += sum;
        net.linkBusy[l] += last - t0;
      }
    }
    if (sizes instanceof ProductSizes) {
      this.applyEndpoints(net, t);
      return;
    }
    const nn = t.n * t.n;
    for (let p = 0; p < nn; p++) {
      const b = sizes[p];
      if (!(b > 0)) continue;
      net.sentBytes[t.src[p]] += b;
      net.receivedBytes[t.dst[p]] += b;
      net.deliveredBytes[t.dst[p]] += b;
    }
  }

  /**
   * fits() for sizes given as a product (productQuotientSizes): [pairs > 0, every size whole] when
   * they fit and two flows share a link, else null. A table with pairs of empty routes (whose
   * aggregates may miss members of a block) takes the matrix.
   */
  fitsProduct(ps: ProductSizes): [number, boolean] | null {
    if (this.tq.empty.length > 0) return null;
    const r = productQuotientSizes(this.tq, ps, this.bytes);
    if (r === null || r[0] === 0 || !sharesLinks(this.tq, this.bytes, this.mark, ++this.runs)) return null;
    return [r[1], r[2]];
  }

  /**
   * The endpoint counters of a product-size call, per quotient flow: an aggregate over a block of
   * sources (destinations) adds its size to each of the block's members once per aggregate, summed
   * per block first, and M times its size to its one destination (source). Whole sizes give the sums
   * the pair-by-pair path gives; fractional ones agree to rounding.
   */
  private applyEndpoints(net: NetworkCore, t: PairRoutes): void {
    const { tq, bytes } = this;
    const n = t.n;
    const block = tq.block;
    const bySource = tq.kind === BY_SOURCE;
    const perBlock = this.blockSums;
    perBlock.fill(0);
    for (let q = 0; q < tq.nq; q++) {
      const b = bytes[q];
      if (!(b > 0)) continue;
      const r = tq.rep[q];
      const i = (r / n) | 0;
      const j = r - i * n;
      const m = tq.mult[q];
      if (m === 1) {
        net.sentBytes[t.src[r]] += b;
        net.receivedBytes[t.dst[r]] += b;
        net.deliveredBytes[t.dst[r]] += b;
      } else if (bySource) {
        perBlock[block[i]] += b;
        net.receivedBytes[t.dst[r]] += m * b;
        net.deliveredBytes[t.dst[r]] += m * b;
      } else {
        perBlock[block[j]] += b;
        net.sentBytes[t.src[r]] += m * b;
      }
    }
    for (let k = 0; k < n; k++) {
      const add = perBlock[block[k]];
      if (add === 0) continue;
      if (bySource) net.sentBytes[t.src[k * n]] += add;
      else {
        net.receivedBytes[t.dst[k]] += add;
        net.deliveredBytes[t.dst[k]] += add;
      }
    }
  }
}

/**
 * The quotients of the tables a network's all-to-alls run over, built once per table: by source
 * and by destination blocks (link-blocks.ts), those that exist. The blocks are LinkBlocks' (bounds
 * set by links of more than n/2 pairs); where they give none, the blocks of links of n/2 pairs or
 * more are tried: on two nodes of G GPUs a GPU's NIC carries G = n/2 pairs and its NVLink port G - 1.
 * The blocks only choose the aggregates: tableQuotient checks the condition whatever they are.
 */
export class QuotientTables {
  private readonly byTable = new WeakMap<PairRoutes, QuotientSolver[]>();
  private readonly identities = new WeakMap<PairRoutes, QuotientSolver[]>();

  constructor(private readonly net: NetworkCore) {}

  /** The quotients of t (empty where none exists). */
  of(t: PairRoutes): QuotientSolver[] {
    let qs = this.byTable.get(t);
    if (qs !== undefined) return qs;
    const net = this.net;
    const al = net.linksOf(t);
    qs = [];
    for (const minPairs of [t.n / 2, t.n / 2 - 1]) {
      const lb = new LinkBlocks(t.n, al, minPairs);
      for (const [kind, block] of [
        [BY_SOURCE, lb.sBlock],
        [BY_DEST, lb.dBlock],
      ] as const) {
        const tq = tableQuotient(t, block, kind, net.linkCap, net.linkLat);
        if (tq !== null) qs.push(new QuotientSolver(tq));
      }
      if (qs.length > 0) break;
    }
    this.byTable.set(t, qs);
    return qs;
  }

  /**
   * The quotients product sizes may run on: t's (of), or where it has none (one node, or an NVLink
   * domain of many GPUs) its identity quotient of single pairs, whose steady components (steady.ts)
   * are still computed in closed form. Only this path takes the identity: dense sizes keep the
   * member path, which is exact to the ns.
   */
  forProduct(t: PairRoutes): QuotientSolver[] {
    const qs = this.of(t);
    if (qs.length > 0) return qs;
    let id = this.identities.get(t);
    if (id === undefined) {
      const tq = tableQuotient(t, new Int32Array(t.n), BY_SOURCE, this.net.linkCap, this.net.linkLat, true);
      id = tq === null ? [] : [new QuotientSolver(tq)];
      this.identities.set(t, id);
    }
    return id;
  }
}
