/**
 * The flow model's state: flows in typed arrays (struct of arrays, slots reused), each flow a
 * variable of the max-min system (maxmin.ts) whose constraints are its route's links; the links'
 * busy periods; the links whose flows changed since the last recomputation (dirty); the completion
 * heap. A flow's remaining bytes are kept as (bytes, time) and brought forward only when its rate
 * changes.
 */
import type { Simulation } from "../../sim/engine.js";
import { grown } from "../../util/arrays.js";
import { NetworkCore } from "./core.js";
import { MinHeap } from "./heap.js";
import { MaxMin } from "./maxmin.js";
import { MAX_ROUTE } from "./routes.js";

/** The group id of the flows of a group computed on the fast path. */
export const ISO_GROUP = -2;

/** fTag values other than a live completion-heap tag (>= 0). */
export const UNRATED = -1;
export const FINISHED = -2;
export const FINISHING = -3;

export interface FlowView {
  rateBytesPerS: number;
  maxRateBytesPerS: number;
  route: number[];
  remainingBytes: number;
}

export abstract class FlowState extends NetworkCore {
  /** The fair-share system: links are its constraints, flow slots its variables (rates: mm.value). */
  readonly mm = new MaxMin();
  linkBusySince = new Float64Array(64); // when the link got its first active flow

  // ---- flows (slots) ----
  private cap = 0;
  fRemaining = new Float64Array(0); // bytes left at time fSince
  fSince = new Float64Array(0);
  fBytes = new Float64Array(0);
  fLogical = new Float64Array(0);
  fLat = new Float64Array(0);
  fGroup = new Int32Array(0);
  fSrc = new Int32Array(0);
  fDst = new Int32Array(0);
  fPos = new Int32Array(0);
  fTag = new Int32Array(0); // matches the tag of the flow's live entry in the completion heap
  fSeen = new Int32Array(0); // component search epoch
  freeSlots: number[] = [];
  active = new Int32Array(0);
  nActive = 0;

  // ---- recomputation ----
  linkSeen = new Int32Array(64);
  dirty = new Int32Array(64); // links whose flows changed since the last recomputation
  nDirty = 0;
  /** A flow started since the last recomputation (else only ends: the incremental re-solve applies). */
  started = false;
  compFlows = new Int32Array(0);
  compLinks = new Int32Array(64);
  /** Projected finish time (absolute ns) of every active flow with a rate; stale entries are skipped by tag. */
  readonly doneHeap = new MinHeap();
  nextTag = 0;

  // ---- the fast group's delivery (flows of ISO_GROUP) ----
  isoLeft = 0;
  isoDeliver = 0;

  constructor(sim: Simulation, endpoints: number) {
    super(sim, endpoints);
  }

  get activeFlows(): number {
    return this.nActive;
  }

  protected linksGrown(n: number): void {
    this.linkBusySince = grown(this.linkBusySince, n);
    this.linkSeen = grown(this.linkSeen, n);
    this.dirty = new Int32Array(n);
    this.compLinks = new Int32Array(n);
  }
  protected linkAdded(id: number): void {
    this.mm.addConstraint(this.linkCap[id]);
  }
  protected openBusyNs(l: number, now: number): number {
    return this.mm.count[l] > 0 ? now - this.linkBusySince[l] : 0;
  }

  /**
   * The active flows with their current fair rates (bytes/s) and routes, and every link's capacity
   * (bytes/s): for tests and inspection. Rates are those of the last recomputation.
   */
  snapshot(): { flows: FlowView[]; linkCapBytesPerS: number[] } {
    const flows = [];
    const mm = this.mm;
    for (let i = 0; i < this.nActive; i++) {
      const f = this.active[i];
      const route = Array.from(mm.cons.subarray(f * MAX_ROUTE, f * MAX_ROUTE + mm.len[f]));
      flows.push({
        rateBytesPerS: mm.value[f] * 1e9,
        maxRateBytesPerS: mm.bound[f] * 1e9,
        route,
        remainingBytes: this.remainingAt(f, this.sim.now),
      });
    }
    return { flows, linkCapBytesPerS: Array.from(this.linkCap.subarray(0, this.nLinks), (c) => c * 1e9) };
  }

  /** Adds a flow over route[off .. off + len) at time `now` (no recomputation requested). */
  addFlow(
    now: number,
    route: ArrayLike<number>,
    len: number,
    bytes: number,
    group: number,
    src: number,
    dst: number,
    logical: number,
    maxRateBytesPerS: number,
    off = 0,
  ): void {
    let lat = 0;
    for (let i = 0; i < len; i++) lat += this.linkLat[route[off + i]];
    if (bytes === 0 || len === 0) {
      // Nothing to share: delivered after the route's latency.
      this.sentBytes[src] += bytes;
      this.receivedBytes[dst] += bytes;
      this.deliveredBytes[dst] += logical;
      this.flowsDone++;
      this.groupDone(group, now + lat, now);
      return;
    }
    let f = this.freeSlots.pop();
    if (f === undefined) {
      if (this.cap === this.nActive + this.freeSlots.length) this.growFlows(Math.max(1024, this.cap * 2));
      f = this.nActive + this.freeSlots.length;
      // slots are handed out densely: the next never-used slot is nActive + free (all used slots are active or free)
    }
    this.fRemaining[f] = bytes;
    this.fSince[f] = now;
    this.fBytes[f] = bytes;
    this.fLogical[f] = logical;
    this.fLat[f] = lat;
    this.fTag[f] = UNRATED; // no completion entry until its rate is known
    this.started = true;
    const mm = this.mm;
    mm.setVariable(f, len, maxRateBytesPerS / 1e9);
    for (let i = 0; i < len; i++) {
      const l = route[off + i];
      if (mm.attach(f, i, l) === 0) this.linkBusySince[l] = now;
      this.markDirty(l);
    }
    this.fGroup[f] = group;
    this.fSrc[f] = src;
    this.fDst[f] = dst;
    this.fPos[f] = this.nActive;
    this.active[this.nActive++] = f;
  }

  private growFlows(n: number): void {
    this.fRemaining = grown(this.fRemaining, n);
    this.fSince = grown(this.fSince, n);
    this.fBytes = grown(this.fBytes, n);
    this.fLogical = grown(this.fLogical, n);
    this.fLat = grown(this.fLat, n);
    this.fGroup = grown(this.fGroup, n);
    this.fSrc = grown(this.fSrc, n);
    this.fDst = grown(this.fDst, n);
    this.fPos = grown(this.fPos, n);
    this.fTag = grown(this.fTag, n);
    this.fSeen = grown(this.fSeen, n);
    this.active = grown(this.active, n);
    this.compFlows = new Int32Array(n);
    this.mm.growVariables(n);
    this.cap = n;
  }

  markDirty(l: number): void {
    if (this.linkSeen[l] === -1) return; // already listed
    this.linkSeen[l] = -1;
    this.dirty[this.nDirty++] = l;
  }

  /** Bytes the flow has left at time t (at its current rate). */
  remainingAt(f: number, t: number): number {
    return this.fRemaining[f] - this.mm.value[f] * (t - this.fSince[f]);
  }

  /** A flow of `group` is delivered at `deliverAt` (the fast group's flows: ISO_GROUP). */
  groupDone(group: number, deliverAt: number, now: number): void {
    if (group === ISO_GROUP) {
      if (deliverAt > this.isoDeliver) this.isoDeliver = deliverAt;
      this.isoLeft--;
      return;
    }
    this.deliver(group, deliverAt, now);
  }

  /** The flow's last byte has left at `now`: off its links, counted, its slot freed, delivered after its latency. */
  finishFlow(f: number, now: number): void {
    const mm = this.mm;
    const len = mm.len[f];
    const base = f * MAX_ROUTE;
    const bytes = this.fBytes[f];
    mm.release(f);
    for (let k = 0; k < len; k++) {
      const l = mm.cons[base + k];
      if (mm.detach(f, k) === 0) this.linkBusy[l] += now - this.linkBusySince[l];
      this.linkBytes[l] += bytes;
      this.markDirty(l);
    }
    this.sentBytes[this.fSrc[f]] += bytes;
    this.receivedBytes[this.fDst[f]] += bytes;
    this.deliveredBytes[this.fDst[f]] += this.fLogical[f];
    this.flowsDone++;
    // swap-remove from the active list
    const pos = this.fPos[f];
    const last = this.active[--this.nActive];
    this.active[pos] = last;
    this.fPos[last] = pos;
    this.fTag[f] = FINISHED;
    this.freeSlots.push(f);
    this.groupDone(this.fGroup[f], now + this.fLat[f], now);
  }
}
