/**
 * Runs an all-to-all on its table's symmetry quotient (quotient.ts): progressive filling over the
 * quotient flows on a private flow model whose links are the orbits, then every member's finish,
 * delivery and counters written onto the network as the member path would leave them.
 */
import { Simulation } from "../../sim/engine.js";
import type { NetworkCore } from "./core.js";
import { FlowModel } from "./flow.js";
import { quotientSizes, sharesLinks, type TableQuotient } from "./quotient.js";
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
  run(net: NetworkCore, t: PairRoutes, sizes: ArrayLike<number>, lat: Float64Array, t0: number, out: number[]): void {
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
  private apply(net: NetworkCore, t: PairRoutes, sizes: ArrayLike<number>, t0: number): void {
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
    const nn = t.n * t.n;
    for (let p = 0; p < nn; p++) {
      const b = sizes[p];
      if (!(b > 0)) continue;
      net.sentBytes[t.src[p]] += b;
      net.receivedBytes[t.dst[p]] += b;
      net.deliveredBytes[t.dst[p]] += b;
    }
  }
}
