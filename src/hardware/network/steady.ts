/**
 * Components of a quotient all-to-all (quotient.ts) whose max-min rates never change, computed in
 * closed form instead of by progressive filling (QuotientSolver).
 *
 * Give every flow the rate r = the smallest fair share (capacity / flows on it) among the orbits of
 * its route. That allocation is always feasible: on an orbit each flow gets at most its share. Call
 * an orbit a steady bottleneck when all its flows have that one size and each has the orbit's
 * share as its rate. A component (flows linked through shared orbits, which max-min solves on its
 * own) is steady when every flow crosses a steady bottleneck whose share is its rate. Then each flow
 * runs at r from start to end: the bottleneck is saturated with every flow on it at the same rate,
 * so by the bottleneck characterisation (docs/hardware.md "Speed") r is the max-min allocation;
 * the bottleneck's flows, of one size at one rate, finish together, so while any of them runs it
 * keeps all of them, and the other orbits only lose load. In a load-level dispatch (sizes that
 * depend on the destination) the flows into one GPU (or, across nodes, into one GPU from each other
 * node's set of GPUs) share its receiving link, whose share no sending link undercuts: such
 * components are steady; a combine is the mirror.
 *
 * A flow of B bytes at rate R finishes at the completion check the event path would reach:
 * closedFinish where that is proven, else ceil(B / R - 1e-6) (the path's next-check rule; a
 * tolerance of the path can end it 1 ns earlier).
 */
import { closedFinish } from "./idle.js";
import { MAX_ROUTE } from "./routes.js";
import type { TableQuotient } from "./quotient.js";

export class SteadyComponents {
  private readonly tq: TableQuotient;
  /** Per quotient flow: its component (connected through orbits, with every flow of the table present). */
  private readonly comp: Int32Array;
  private readonly nComp: number;
  // per call
  private readonly onOrbit: Int32Array;
  private readonly uniform: Uint8Array;
  private readonly share: Float64Array;
  private readonly rate: Float64Array;
  /** Per orbit: 1 for a steady bottleneck in the call under way. */
  private readonly bottleneck: Uint8Array;
  private readonly ok: Uint8Array;
  /** Per quotient flow: 1 when the last call computed it in closed form. */
  readonly closed: Uint8Array;

  constructor(tq: TableQuotient) {
    this.tq = tq;
    const nO = tq.orbitCap.length;
    const parent = Int32Array.from({ length: tq.nq }, (_, q) => q);
    const find = (q: number): number => {
      while (parent[q] !== q) q = parent[q] = parent[parent[q]];
      return q;
    };
    for (let o = 0; o < nO; o++) {
      const a = tq.oStart[o];
      for (let e = a + 1; e < tq.oStart[o + 1]; e++) parent[find(tq.oq[e])] = find(tq.oq[a]);
    }
    this.comp = new Int32Array(tq.nq);
    const id = new Int32Array(tq.nq).fill(-1);
    let n = 0;
    for (let q = 0; q < tq.nq; q++) {
      const r = find(q);
      if (id[r] < 0) id[r] = n++;
      this.comp[q] = id[r];
    }
    this.nComp = n;
    this.onOrbit = new Int32Array(nO);
    this.uniform = new Uint8Array(nO);
    this.share = new Float64Array(nO);
    this.rate = new Float64Array(tq.nq);
    this.bottleneck = new Uint8Array(nO);
    this.ok = new Uint8Array(n);
    this.closed = new Uint8Array(tq.nq);
  }

  /**
   * For the call's member sizes `bytes` (0: no flow) from t0: the flows of steady components get
   * closed[q] = 1 and fin[q] (their completion check); out = [last such check (t0 if none), largest
   * projected finish (-Infinity if none)]. Returns how many flows were computed.
   */
  run(bytes: Float64Array, t0: number, fin: Float64Array, out: number[]): number {
    const { tq, onOrbit, uniform, share, rate, bottleneck, ok, closed } = this;
    const { oStart, oq, orbitCap, qRoute, qLen, mult } = tq;
    const nO = orbitCap.length;
    for (let o = 0; o < nO; o++) {
      let n = 0;
      let size = -1;
      let uni = 1;
      for (let e = oStart[o]; e < oStart[o + 1]; e++) {
        const b = bytes[oq[e]];
        if (!(b > 0)) continue;
        n++;
        if (size < 0) size = b;
        else if (b !== size) uni = 0;
      }
      onOrbit[o] = n;
      uniform[o] = uni;
      share[o] = n > 0 ? orbitCap[o] / n : Infinity;
    }
    for (let q = 0; q < tq.nq; q++) {
      if (!(bytes[q] > 0)) continue;
      let r = Infinity;
      for (let x = q * MAX_ROUTE, end = x + qLen[q]; x < end; x++) if (share[qRoute[x]] < r) r = share[qRoute[x]];
      rate[q] = r;
    }
    for (let o = 0; o < nO; o++) {
      let steady = onOrbit[o] > 0 && uniform[o] === 1;
      for (let e = oStart[o]; e < oStart[o + 1] && steady; e++) {
        const q = oq[e];
        if (bytes[q] > 0 && rate[q] !== share[o]) steady = false;
      }
      bottleneck[o] = steady ? 1 : 0;
    }
    ok.fill(1, 0, this.nComp);
    for (let q = 0; q < tq.nq; q++) {
      if (!(bytes[q] > 0)) continue;
      let has = false;
      // a steady bottleneck gives every flow on it its share as rate: q's among them
      for (let x = q * MAX_ROUTE, end = x + qLen[q]; x < end && !has; x++) has = bottleneck[qRoute[x]] === 1;
      if (!has) ok[this.comp[q]] = 0;
    }
    let last = t0;
    let high = -Infinity;
    let count = 0;
    for (let q = 0; q < tq.nq; q++) {
      closed[q] = 0;
      if (!(bytes[q] > 0) || ok[this.comp[q]] === 0) continue;
      const b = bytes[q] * mult[q];
      const x = b / rate[q];
      let o = closedFinish(b, rate[q]);
      if (o < 0) o = Math.max(0, Math.ceil(x - 1e-6));
      closed[q] = 1;
      fin[q] = t0 + o;
      if (fin[q] > last) last = fin[q];
      if (t0 + x > high) high = t0 + x;
      count++;
    }
    out[0] = last;
    out[1] = high;
    return count;
  }
}
