/**
 * FlowNetwork: the flow model (flow.ts) with its fast path for groups on an idle network.
 *
 * A group of flows started together on an idle network (no flow active or pending) runs alone
 * until another flow starts. Its whole course is then computed at once, by the same progressive
 * filling and completion steps on a private clock instead of engine events (advance), and the
 * engine gets one event: the group's delivery. The steps, and so every rate, remaining byte and
 * completion time, are those of the event-driven path (the same code, the same floating-point
 * operations; for flows alone on their links, the closed forms of idle.ts where they provably give
 * the same completion checks). Should another flow start before the group's last flow has
 * finished, the network goes back to the group's start, replays it up to that instant and
 * continues event-driven from there, as if the fast path had never been taken. Counters (link
 * bytes and busy time, bytes per endpoint) are brought up to the group's end when it starts.
 */
import type { Simulation } from "../../sim/engine.js";
import type { ScheduledEvent } from "../../sim/queue.js";
import { grown } from "../../util/arrays.js";
import type { NetworkModel } from "./core.js";
import { FlowModel } from "./flow.js";
import { ISO_GROUP } from "./flow-state.js";
import { IdleForms } from "./idle.js";
import type { ProductSizes } from "./product-sizes.js";
import { QuotientTables, type QuotientSolver } from "./quotient-solver.js";
import { DeferredTable } from "./records.js";
import { RepeatRuns } from "./repeat.js";
import { MAX_ROUTE, type PairRoutes } from "./routes.js";

export class FlowNetwork extends FlowModel implements NetworkModel {
  /** Use the fast path for groups started on an idle network (false: always event-driven). */
  fastGroups = true;
  /** Groups computed on the fast path so far, and how many were replayed because a flow joined. */
  fastRuns = 0;
  fastReplays = 0;
  /** Of the fast runs, those whose flows shared no link (computed without progressive filling). */
  fastIsolated = 0;
  /** Of the isolated runs, those computed in closed form rather than check by check. */
  fastClosed = 0;
  /** Of the replays, those of a group computed from its table without records (applyTable), unwound first. */
  fastUnwound = 0;
  /**
   * Reuse the run of an all-to-all (shared links) that started on an idle network with the same
   * sizes over the same routes before (repeat.ts; false: solve every one).
   */
  repeatGroups = true;
  /** Of the fast runs, those taken from a kept run of the same sizes (repeat.ts). */
  fastRepeats = 0;
  private readonly repeats = new RepeatRuns();
  /**
   * Solve an all-to-all whose flows share links on its table's symmetry quotient where its sizes
   * allow (quotient.ts: one flow per set of a node's GPUs that send the same bytes to one GPU, or
   * receive the same from one; false: flow by flow).
   */
  quotientGroups = true;
  /** Of the fast runs, those solved on a quotient; of those, the ones taken from product sizes' factors. */
  fastQuotients = 0;
  fastQuotientProducts = 0;
  /** Their quotient flows computed in closed form (steady components, steady.ts) and by progressive filling. */
  quotientSteadyFlows = 0;
  quotientFilledFlows = 0;
  private readonly quotients = new QuotientTables(this);
  private readonly qOut = [0, 0, 0, 0, 0];
  /** A quotient run's table and sizes, for writing its records if it is replayed. */
  private readonly deferred = new DeferredTable();
  private readonly idleForms = new IdleForms();
  private isoBuilding = false;
  private isoLive = false;
  private isoT0 = 0;
  private isoCount = 0;
  private isoLastFinish = 0;
  private isoOnDone: (() => void) | null = null;
  private isoEnd: ScheduledEvent | null = null;
  private isoShared = false;
  private isoStamp = 0;
  private linkStamp = new Int32Array(64); // isoStamp of the fast group whose records use the link
  /**
   * Every flow so far had whole bytes, so every counter (bytes, and busy ns) holds an integer:
   * adding and then subtracting a whole number gives it back exactly (takeBackTable).
   */
  private integral = true;
  // the live group computed from its table (records written only on a replay)
  private isoLazy = false;
  private isoTable: PairRoutes | null = null;
  private readonly snapLazy = [0, 0, 0, 0]; // the counters when that group started
  // the network's counters when the group started (it was idle then)
  private snapLinkBytes = new Float64Array(64);
  private snapLinkBusy = new Float64Array(64);
  private snapSent = new Float64Array(0);
  private snapReceived = new Float64Array(0);
  private snapDelivered = new Float64Array(0);
  private snapFree: number[] = [];
  private snapCounters = [0, 0, 0, 0];
  private readonly aRoute = new Int32Array(MAX_ROUTE);

  constructor(sim: Simulation, endpoints: number) {
    super(sim, endpoints);
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
    if (this.integral && !(Number.isInteger(bytes) && Number.isInteger(logical))) this.integral = false;
    if (this.isoBuilding) {
      if (group !== ISO_GROUP) {
        throw new Error("runGroup: a flow of another group was started while the group's flows were being added");
      }
      this.recordIso(route, len, bytes, logical, maxRateBytesPerS, src, dst);
      return; // added (or computed directly) once the group is complete
    }
    if (group === ISO_GROUP) throw new Error("runGroup: its group id is valid only inside its add callback");
    if (this.isoLive && this.sim.now < this.isoLastFinish) this.replayIso(this.sim.now);
    this.addFlow(this.sim.now, route, len, bytes, group, src, dst, logical, maxRateBytesPerS);
    this.requestSolve();
  }

  /** True when no flow is active and nothing is pending: a group started now would run alone. */
  get idle(): boolean {
    return this.quiet && !(this.isoLive && this.sim.now < this.isoLastFinish);
  }

  /**
   * Runs a group of `count` flows whose `onDone` fires once all have been delivered; `add(group)`
   * starts them (startFlow with that group id, at the current time). On an idle network the group
   * is computed at once (the fast path, see the file comment); otherwise, or with `fastGroups` off,
   * it is the same as `group(count, onDone)` followed by `add`.
   */
  runGroup(count: number, onDone: () => void, add: (group: number) => void): void {
    if (count === 0 || !this.fastGroups || !this.idle) {
      add(this.group(count, onDone));
      return;
    }
    const now = this.sim.now;
    this.beginFast(count, now);
    this.isoShared = false;
    if (this.linkStamp.length < this.nLinks) this.linkStamp = grown(this.linkStamp, this.linkCap.length);
    this.isoStamp++;
    this.isoBuilding = true;
    try {
      add(ISO_GROUP);
    } finally {
      this.isoBuilding = false;
    }
    if (!this.isoShared) {
      this.isoLastFinish = this.isolated(now);
    } else {
      this.addIsoFlows(now);
      this.isoLastFinish = this.advance(now, Infinity);
    }
    this.endFast(count, onDone);
  }

  /** The records' group, its flows sharing no link, from t0: in closed form if it can be, else check by check. */
  private isolated(t0: number): number {
    this.fastIsolated++;
    const closed = this.idleForms.closedIsolated(this, t0);
    if (closed !== null) {
      this.fastClosed++;
      return closed;
    }
    return this.idleForms.advanceIsolated(this, t0);
  }

  /** The fast path's start at t0 on a network idle then: the counters are saved (for a replay), the records emptied. */
  private beginFast(count: number, t0: number): void {
    // A previous fast group may still await its delivery event, but its flows are done.
    this.fastRuns++;
    this.isoLazy = false;
    this.snapshotIdle();
    this.isoT0 = t0;
    this.isoCount = count;
    this.isoLeft = count;
    this.isoDeliver = t0;
    this.isoOnDone = null;
    this.rec.n = 0;
    this.deferred.clear();
  }

  /** The fast path's end, every flow computed: the engine gets one event, the group's delivery. */
  private endFast(count: number, onDone: () => void): void {
    if (this.isoLeft !== 0) throw new Error(`runGroup: ${this.isoLeft} of ${count} flows were not started by add()`);
    this.isoLive = true;
    this.isoOnDone = onDone;
    this.isoEnd = this.sim.scheduleRaw(Math.ceil(this.isoDeliver) - this.sim.now, onDone, 0, "network.delivered");
  }

  /** The sizes of an all-to-all over t, checked; returns how many are nonzero. */
  private countSizes(t: PairRoutes, sizes: ArrayLike<number>): number {
    const nn = t.n * t.n;
    if (sizes.length !== nn) {
      throw new Error(`allToAll: sizes has ${sizes.length} entries, expected ${t.n} x ${t.n} = ${nn}`);
    }
    let count = 0;
    for (let p = 0; p < nn; p++) {
      const b = sizes[p];
      if (!(b >= 0) || !Number.isFinite(b)) throw new Error(`flow size must be a finite number >= 0, got ${b}`);
      if (b > 0) count++;
      if (b !== Math.floor(b)) this.integral = false;
    }
    return count;
  }

  /** Writes the records of an all-to-all's nonzero sizes, in pair order (stamping links when `stamp`: isoShared). */
  private recordTable(t: PairRoutes, sizes: ArrayLike<number>, count: number, stamp: boolean): void {
    const nn = t.n * t.n;
    const rec = this.rec;
    if (rec.len.length < count) rec.grow(count);
    if (stamp) {
      if (this.linkStamp.length < this.nLinks) this.linkStamp = grown(this.linkStamp, this.linkCap.length);
      this.isoStamp++;
      this.isoShared = false;
    }
    const st = this.isoStamp;
    const linkStamp = this.linkStamp;
    const route = rec.route;
    const len = rec.len;
    const bytes = rec.bytes;
    const logical = rec.logical;
    const maxRate = rec.maxRate;
    const src = rec.src;
    const dst = rec.dst;
    let i = 0;
    for (let p = 0; p < nn; p++) {
      const b = sizes[p];
      if (!(b > 0)) continue;
      const k = t.len[p];
      for (let x = 0, o = i * MAX_ROUTE, q = p * MAX_ROUTE; x < k; x++) {
        const l = t.route[q + x];
        route[o + x] = l;
        if (stamp) {
          if (linkStamp[l] === st) this.isoShared = true;
          else linkStamp[l] = st;
        }
      }
      len[i] = k;
      bytes[i] = b;
      logical[i] = b;
      maxRate[i] = Infinity;
      src[i] = t.src[p];
      dst[i] = t.dst[p];
      i++;
    }
    rec.n = i;
  }

  /**
   * The fast path of an all-to-all over t starting at t0 on a network idle then: every flow
   * computed (closed form, check by check alone on its links, or progressive filling on a private
   * clock), counters brought to its end; isoDeliver and isoLastFinish set. No event scheduled.
   */
  private fastAllToAll(t: PairRoutes, sizes: ArrayLike<number>, count: number, t0: number): void {
    if (t.disjoint && this.integral && this.closedTable(t, sizes, count, t0)) return;
    this.beginFast(count, t0);
    const qs = !t.disjoint && this.quotientGroups ? this.quotientFor(t, sizes) : null;
    if (qs !== null) {
      // its flows share links (QuotientSolver.fits); records are written only if it is replayed
      this.deferred.keepSizes(t, sizes, count);
    } else {
      this.recordTable(t, sizes, count, !t.disjoint);
      if (t.disjoint || !this.isoShared) {
        this.isoShared = false;
        this.isoLastFinish = this.isolated(t0);
        return;
      }
    }
    const kept = this.repeatGroups && this.integral ? this.repeats.find(t, sizes, t0) : null;
    if (kept !== null) {
      // the same run as a kept one, shifted (repeat.ts): its counter changes added, no re-solve
      this.fastRepeats++;
      RepeatRuns.apply(kept, this);
      this.solves += kept.solves;
      this.solvedFlows += kept.solvedFlows;
      this.flowsDone += kept.flowsDone;
      this.nextTag = (this.nextTag + kept.tags) & 0x3fffffff;
      this.isoLeft = 0;
      this.isoDeliver = t0 + kept.deliver;
      this.isoLastFinish = t0 + kept.last;
      return;
    }
    this.keyHigh = -Infinity;
    if (qs !== null) this.quotientRun(qs, t, sizes, count, t0);
    else {
      this.addIsoFlows(t0);
      this.isoLastFinish = this.advance(t0, Infinity);
    }
    if (this.repeatGroups && this.integral) this.keepRun(t, sizes, t0);
  }

  /** The quotient of t (quotient.ts) that these sizes fit and whose flows share links, if any. */
  private quotientFor(t: PairRoutes, sizes: ArrayLike<number>): QuotientSolver | null {
    for (const qs of this.quotients.of(t)) if (qs.fits(sizes)) return qs;
    return null;
  }

  /** The fast path's all-to-all on the quotient qs (fits() took its sizes): counters and delivery set. */
  private quotientRun(
    qs: QuotientSolver,
    t: PairRoutes,
    sizes: ArrayLike<number> | ProductSizes,
    count: number,
    t0: number,
  ): void {
    const out = this.qOut;
    const steady0 = qs.steadyFlows;
    const filled0 = qs.filledFlows;
    qs.run(this, t, sizes, this.ratesOf(t).lat, t0, out);
    this.fastQuotients++;
    this.quotientSteadyFlows += qs.steadyFlows - steady0;
    this.quotientFilledFlows += qs.filledFlows - filled0;
    this.flowsDone += count;
    this.isoLeft = 0;
    if (out[0] > this.isoDeliver) this.isoDeliver = out[0];
    this.isoLastFinish = out[1];
    this.keyHigh = out[2];
    this.solves += out[3];
    this.solvedFlows += out[4];
  }

  /** Keeps the all-to-all just computed from t0 for repeat.ts (beginFast's snapshot holds the counters before it). */
  private keepRun(t: PairRoutes, sizes: ArrayLike<number>, t0: number): void {
    const c = this.snapCounters;
    const high = Math.max(this.keyHigh, this.isoLastFinish, this.isoDeliver);
    const before = {
      linkBytes: this.snapLinkBytes,
      linkBusy: this.snapLinkBusy,
      sentBytes: this.snapSent,
      receivedBytes: this.snapReceived,
      deliveredBytes: this.snapDelivered,
    };
    this.repeats.keep(t, sizes, t0, high, this.isoLastFinish, this.isoDeliver, this, before, this.nLinks, [
      this.solves - c[0],
      this.solvedFlows - c[1],
      this.flowsDone - c[2],
      (this.nextTag - c[3]) & 0x3fffffff,
    ]);
  }

  /**
   * An all-to-all over a group whose routes are precomputed (PairRoutes): member i sends
   * sizes[i * n + j] bytes to member j; zero sizes start no flow; onDone runs once all are
   * delivered. The same as runGroup with one startFlow per nonzero size in pair order; when the
   * routes share no link and the network is idle, the records are written straight from the
   * table, without per-flow route lookups, link stamps or checks.
   */
  runAllToAll(t: PairRoutes, sizes: ArrayLike<number>, onDone: () => void): void {
    this.startAllToAll(t, sizes, this.countSizes(t, sizes), onDone);
  }

  /**
   * An all-to-all of product sizes (ProductSizes: the load-level MoE exchanges). On an idle network,
   * where a quotient of t fits them (quotient.ts), it is run on the quotient straight from the
   * factors, in O(members + quotient flows), without the n x n matrix (and without repeat.ts's kept
   * runs, whose check compares the matrix); otherwise the matrix is built and run as
   * runAllToAllChecked. `_count` (ProductSizes.checkedCount) is not used: the path counts what it runs.
   */
  runAllToAllProduct(t: PairRoutes, ps: ProductSizes, _count: number, onDone: () => void): void {
    if (this.fastGroups && this.idle && this.quotientGroups && !t.disjoint) {
      for (const qs of this.quotients.forProduct(t)) {
        const fit = qs.fitsProduct(ps);
        if (fit === null) continue;
        const [count, whole] = fit;
        if (!whole) this.integral = false;
        const t0 = this.sim.now;
        this.beginFast(count, t0);
        this.deferred.keepProduct(t, ps, count);
        this.fastQuotientProducts++;
        this.quotientRun(qs, t, ps, count, t0);
        this.endFast(count, onDone);
        return;
      }
    }
    const [dense, whole, nonzero] = ps.denseWhole();
    this.runAllToAllChecked(t, dense, nonzero, whole, onDone);
  }

  /**
   * runAllToAll for sizes its caller has already checked (their number included: Cluster.allToAll,
   * at call time): `count` of them nonzero, `whole` when every one is a whole number. Spares the
   * all-to-all a second pass over its sizes.
   */
  runAllToAllChecked(t: PairRoutes, sizes: ArrayLike<number>, count: number, whole: boolean, onDone: () => void): void {
    if (!whole) this.integral = false;
    this.startAllToAll(t, sizes, count, onDone);
  }

  private startAllToAll(t: PairRoutes, sizes: ArrayLike<number>, count: number, onDone: () => void): void {
    if (count === 0 || !(this.fastGroups && this.idle)) {
      const r = this.aRoute;
      const nn = t.n * t.n;
      this.runGroup(count, onDone, (grp) => {
        for (let p = 0; p < nn; p++) {
          const b = sizes[p];
          if (!(b > 0)) continue;
          const k = t.len[p];
          for (let x = 0; x < k; x++) r[x] = t.route[p * MAX_ROUTE + x];
          this.startFlow(r, k, b, grp, t.src[p], t.dst[p]);
        }
      });
      return;
    }
    this.fastAllToAll(t, sizes, count, this.sim.now);
    this.endFast(count, onDone);
  }

  /**
   * Readies the network for all-to-alls over t: its per-pair rates and the closed form's scratch,
   * sized now rather than at the first all-to-all (docs/performance.md, "Network").
   */
  prepareTable(t: PairRoutes): void {
    this.ratesOf(t);
    this.idleForms.prepare(t.n * t.n, t.n);
  }

  /**
   * The fast path of an all-to-all over an idle network whose routes share no link, in closed form
   * straight from the table: no records, no snapshot. Its flows' records are written, and its
   * counters taken back (exactly: every counter holds whole numbers, see `integral`), only if
   * another flow starts before it ends (replayIso). Returns false, having changed nothing, when a
   * size falls outside closedFinish's bounds.
   */
  private closedTable(t: PairRoutes, sizes: ArrayLike<number>, count: number, t0: number): boolean {
    const tr = this.ratesOf(t);
    if (!this.idleForms.tableFinishes(t, tr, sizes)) return false;
    this.fastRuns++;
    this.fastIsolated++;
    this.fastClosed++;
    const c = this.snapLazy;
    c[0] = this.solves;
    c[1] = this.solvedFlows;
    c[2] = this.flowsDone;
    c[3] = this.nextTag;
    this.isoLazy = true;
    this.isoTable = t;
    this.isoT0 = t0;
    this.isoCount = count;
    this.isoLeft = 0;
    this.isoOnDone = null;
    this.rec.n = 0;
    this.deferred.clear(); // an earlier quotient run's: a replay writes this group's records (unwindLazy)
    this.isoShared = false;
    this.isoLastFinish = t0 + this.idleForms.applyTable(this, t, tr, count, t0);
    return true;
  }

  /** closedTable's group, when a flow joins it: counters taken back, records written, as if beginFast had run. */
  private unwindLazy(): void {
    this.fastUnwound++;
    this.isoLazy = false;
    const t = this.isoTable!;
    this.isoTable = null;
    this.idleForms.takeBackTable(this, t);
    // what beginFast would have saved: the counters as they are now (the group taken back)
    this.snapshotIdle();
    const c = this.snapCounters;
    c[0] = this.snapLazy[0];
    c[1] = this.snapLazy[1];
    c[2] = this.snapLazy[2];
    c[3] = this.snapLazy[3];
  }

  /** Starts the recorded flows of the fast group as flows of the event-driven path, at t0. */
  private addIsoFlows(t0: number): void {
    const rec = this.rec;
    for (let i = 0; i < rec.n; i++) {
      this.addFlow(
        t0,
        rec.route,
        rec.len[i],
        rec.bytes[i],
        ISO_GROUP,
        rec.src[i],
        rec.dst[i],
        rec.logical[i],
        rec.maxRate[i],
        i * MAX_ROUTE,
      );
    }
  }

  /** Records a flow of the fast group being built, noting whether it shares a link with an earlier one. */
  private recordIso(
    route: ArrayLike<number>,
    len: number,
    bytes: number,
    logical: number,
    maxRate: number,
    src: number,
    dst: number,
  ): void {
    this.rec.push(route, len, bytes, logical, maxRate, src, dst);
    const st = this.isoStamp;
    for (let k = 0; k < len; k++) {
      const l = route[k];
      if (this.linkStamp[l] === st) this.isoShared = true;
      else this.linkStamp[l] = st;
    }
  }

  /** Saves what running a group changes on an idle network, so that it can be replayed. */
  private snapshotIdle(): void {
    if (this.snapLinkBytes.length < this.nLinks) {
      this.snapLinkBytes = new Float64Array(this.linkCap.length);
      this.snapLinkBusy = new Float64Array(this.linkCap.length);
    }
    this.snapLinkBytes.set(this.linkBytes.subarray(0, this.nLinks));
    this.snapLinkBusy.set(this.linkBusy.subarray(0, this.nLinks));
    if (this.snapSent.length !== this.sentBytes.length) {
      this.snapSent = new Float64Array(this.sentBytes.length);
      this.snapReceived = new Float64Array(this.sentBytes.length);
      this.snapDelivered = new Float64Array(this.sentBytes.length);
    }
    this.snapSent.set(this.sentBytes);
    this.snapReceived.set(this.receivedBytes);
    this.snapDelivered.set(this.deliveredBytes);
    const fs = this.freeSlots;
    const sf = this.snapFree;
    sf.length = fs.length;
    for (let i = 0; i < fs.length; i++) sf[i] = fs[i];
    const c = this.snapCounters;
    c[0] = this.solves;
    c[1] = this.solvedFlows;
    c[2] = this.flowsDone;
    c[3] = this.nextTag;
  }

  /**
   * A flow starts at `t` while the fast group is still running: restore the network as it was at
   * the group's start, run the group again up to `t` and leave it to the event-driven path.
   */
  private replayIso(t: number): void {
    if (this.isoLazy) this.unwindLazy();
    const deferred = this.deferred.take();
    if (deferred !== null) this.recordTable(deferred[0], deferred[1], deferred[2], false);
    this.fastReplays++;
    this.isoLive = false;
    if (this.isoEnd !== null) this.sim.cancel(this.isoEnd);
    this.isoEnd = null;
    this.linkBytes.set(this.snapLinkBytes.subarray(0, this.nLinks));
    this.linkBusy.set(this.snapLinkBusy.subarray(0, this.nLinks));
    this.sentBytes.set(this.snapSent);
    this.receivedBytes.set(this.snapReceived);
    this.deliveredBytes.set(this.snapDelivered);
    const fs = this.freeSlots;
    const sf = this.snapFree;
    fs.length = sf.length;
    for (let i = 0; i < sf.length; i++) fs[i] = sf[i];
    const c = this.snapCounters;
    this.solves = c[0];
    this.solvedFlows = c[1];
    this.flowsDone = c[2];
    this.nextTag = c[3];
    this.doneHeap.clear();
    const t0 = this.isoT0;
    this.isoLeft = this.isoCount;
    this.isoDeliver = t0;
    this.addIsoFlows(t0);
    this.advance(t0, t);
    // The flows still running belong to an ordinary group from now on.
    const onDone = this.isoOnDone!;
    this.isoOnDone = null;
    if (this.isoLeft === 0) {
      // every flow finished (at t at the latest): deliver as the event-driven path would
      this.sim.scheduleRaw(Math.ceil(this.isoDeliver) - t, onDone, 0, "network.delivered");
      return;
    }
    const id = this.group(this.isoLeft, onDone);
    this.setDeliverAt(id, this.isoDeliver);
    for (let i = 0; i < this.nActive; i++) this.fGroup[this.active[i]] = id;
  }
}
