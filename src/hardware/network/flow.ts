/**
 * The flow model on the engine's clock: flows share their links max-min fairly (maxmin.ts),
 * recomputed whenever flows start or end. A flow's bytes move at its fair rate; it is delivered
 * the route's latency (sum of its links' latencies) after its last byte leaves.
 *
 * Every start or end at one instant is batched into one recomputation (an event at the same time,
 * after the others). After starts, a recomputation re-solves the connected components (flows
 * linked through shared links) that contain a link whose flows changed: max-min fair rates
 * decompose exactly over components, so the others keep their rates. It costs O(component flows
 * x route length + component links x log). After ends only, it re-solves only the flows whose
 * rates may change (MaxMin.affected; none when every flow beside an ended one keeps a
 * bottleneck), on what the others leave of their links' capacity. A flow's projected finish time
 * sits in a heap, so the next completion is found in O(log flows), and the engine sees one
 * pending event for it, not one per flow. Link busy time is counted from the instant a link gets
 * its first flow to the one it loses its last. `advance` runs the same steps on a private clock
 * (the fast path, fast-path.ts).
 */
import type { Simulation } from "../../sim/engine.js";
import type { ScheduledEvent } from "../../sim/queue.js";
import { grown } from "../../util/arrays.js";
import { sortIdsByIndex } from "./heap.js";
import { FINISHING, FlowState } from "./flow-state.js";
import { MAX_ROUTE } from "./routes.js";

/** Runs after all other events at the same instant, so that simultaneous starts and ends are solved once. */
const PRIORITY_SOLVE = 1_000_000;

export abstract class FlowModel extends FlowState {
  solvePending = false;
  nextDone: ScheduledEvent | null = null;
  private readonly solveFn = (): void => this.solveEvent();
  readonly doneFn = (): void => this.completionEvent();
  private epoch = 0;
  private finishing = new Int32Array(64); // complete()'s flows whose bytes are gone
  /** Re-solve incrementally after ends (false: every recomputation solves whole components, as before). */
  incremental = true;
  /** The largest projected finish time put in the completion heap since it was last set (repeat.ts). */
  protected keyHigh = -Infinity;
  /** Links found by searchComponents for the solve under way; -1: none (an incremental solve). */
  private nCompLinks = -1;

  constructor(sim: Simulation, endpoints: number) {
    super(sim, endpoints);
  }

  /** No flow active and no recomputation or completion pending. */
  protected get quiet(): boolean {
    return this.nActive === 0 && !this.solvePending && this.nextDone === null && this.nDirty === 0;
  }

  requestSolve(): void {
    if (this.solvePending) return;
    this.solvePending = true;
    this.sim.scheduleRaw(0, this.solveFn, PRIORITY_SOLVE, "network.solve");
  }

  private completionEvent(): void {
    this.nextDone = null;
    if (this.complete(this.sim.now)) this.requestSolve();
    else this.scheduleNextCompletion();
  }

  /** Finishes the flows whose bytes are gone at `now`; false when there were none. */
  private complete(now: number): boolean {
    // Every flow whose remaining bytes are (within rounding) gone: the top of the finish-time heap.
    const h = this.doneHeap;
    const tag = this.fTag;
    let fin = this.finishing;
    let nFin = 0;
    const rate = this.mm.value;
    while (h.size > 0) {
      const f = h.ids[0];
      if (h.tags[0] !== tag[f]) {
        h.pop(); // stale: the flow was re-rated or has finished
        continue;
      }
      const rem = this.remainingAt(f, now);
      if (!(rem <= rate[f] * 1e-3 || rem <= this.fBytes[f] * 1e-12)) break;
      h.pop();
      tag[f] = FINISHING;
      if (nFin === fin.length) this.finishing = fin = grown(fin, 2 * nFin);
      fin[nFin++] = f;
    }
    if (nFin === 0) return false;
    // Finish them in the order a scan of the active list with swap-removal meets them (so that
    // groups ending at one instant fire in a deterministic, position-based order).
    const pos = this.fPos;
    const act = this.active;
    sortIdsByIndex(fin, nFin, pos);
    for (let i = 0; i < nFin; i++) {
      const f = fin[i];
      if (tag[f] !== FINISHING) continue; // finished already, when it was swapped into an earlier position
      const p = pos[f];
      while (p < this.nActive && tag[act[p]] === FINISHING) this.finishFlow(act[p], now);
    }
    return true;
  }

  private solveEvent(): void {
    this.solvePending = false;
    this.solve(this.sim.now);
    this.scheduleNextCompletion();
  }

  private scheduleNextCompletion(): void {
    if (this.nextDone !== null) {
      this.sim.cancel(this.nextDone);
      this.nextDone = null;
    }
    const delay = this.nextDelay(this.sim.now);
    if (delay >= 0) this.nextDone = this.sim.scheduleRaw(delay, this.doneFn, 0, "network.flowDone");
  }

  /** Delay from `now` to the next completion check (the earliest projected finish); -1 if no flow is active. */
  private nextDelay(now: number): number {
    const h = this.doneHeap;
    while (h.size > 0 && h.tags[0] !== this.fTag[h.ids[0]]) h.pop();
    if (h.size === 0) return -1;
    const f = h.ids[0];
    const best = this.remainingAt(f, now) / this.mm.value[f];
    return Math.max(0, Math.ceil(best - 1e-6));
  }

  /**
   * Runs the network from `t0` (flows added, not yet solved) on a private clock: the solve at t0,
   * then completion checks and solves as the engine would run them, up to `until`. Returns the time
   * of the last completion check done. With a finite `until`, leaves the state as the event-driven
   * path would have it at `until` (a completion at `until` done, its solve left to the engine) and
   * hands the next completion check to the engine.
   */
  protected advance(t0: number, until: number): number {
    let now = t0;
    this.solve(now);
    for (;;) {
      const d = this.nextDelay(now);
      if (d < 0) return now;
      if (now + d > until) {
        this.nextDone = this.sim.scheduleRaw(now + d - this.sim.now, this.doneFn, 0, "network.flowDone");
        return now;
      }
      now += d;
      if (this.complete(now)) {
        if (now === until) {
          this.requestSolve();
          return now;
        }
        this.solve(now);
      }
    }
  }

  /**
   * Max-min fair rates for the flows connected (through shared links) to a link whose flows
   * changed since the last recomputation; other flows keep their rates. When flows only ended
   * since then, incrementally: only the flows whose rates may change (MaxMin.affected).
   */
  private solve(now: number): void {
    this.solves++;
    const mm = this.mm;
    const comp = this.compFlows;
    let nF: number;
    if (!this.started && this.incremental) {
      for (let i = 0; i < this.nDirty; i++) this.linkSeen[this.dirty[i]] = 0;
      this.nDirty = 0;
      nF = mm.affected(comp);
    } else {
      nF = this.searchComponents();
    }
    this.started = false;
    const nL = this.nCompLinks;
    this.nCompLinks = -1;
    const ep = ++this.epoch;
    const seenF = this.fSeen;
    for (let i = 0; i < nF; i++) seenF[comp[i]] = ep;
    this.solvedFlows += nF;
    if (nF === 0) {
      mm.clearRemovals();
      return;
    }
    // Bring the re-solved flows to now at their old rates, then solve them.
    const rate = mm.value;
    const rem = this.fRemaining;
    const since = this.fSince;
    for (let i = 0; i < nF; i++) {
      const f = comp[i];
      rem[f] -= rate[f] * (now - since[f]);
      since[f] = now;
    }
    if (nL < 0) mm.solveAbove(comp, nF);
    else mm.solve(comp, nF, this.compLinks, nL);
    mm.clearRemovals();
    // New projected finish times. Re-rated flows leave stale entries behind: when they would
    // outnumber the live ones, or most flows were re-rated, rebuild the heap in O(flows).
    const dh = this.doneHeap;
    const tag = this.fTag;
    const rebuild = dh.size + nF > 2 * this.nActive + 1024 || 2 * nF > this.nActive;
    if (rebuild) dh.clear();
    for (let i = 0; i < nF; i++) {
      const f = comp[i];
      if (!(rate[f] > 0)) rate[f] = 1e-12; // every flow has >= 1 link, but keep rates sane
      const t = (this.nextTag = (this.nextTag + 1) & 0x3fffffff);
      tag[f] = t;
      const key = now + rem[f] / rate[f];
      if (key > this.keyHigh) this.keyHigh = key;
      if (rebuild) dh.append(key, f, t);
      else dh.push(key, f, t);
    }
    if (rebuild) {
      const act = this.active;
      for (let i = 0; i < this.nActive; i++) {
        const f = act[i];
        if (tag[f] >= 0 && seenF[f] !== ep) dh.append(since[f] + rem[f] / rate[f], f, tag[f]);
      }
      dh.heapify();
    }
  }

  /**
   * The flows (compFlows) and links (compLinks, nCompLinks) of the components that contain a
   * dirty link: a search over link -> flows -> links. Returns how many flows.
   */
  private searchComponents(): number {
    const ep = ++this.epoch;
    const seenL = this.linkSeen;
    const seenF = this.fSeen;
    const stack = this.dirty;
    let top = this.nDirty;
    this.nDirty = 0;
    for (let i = 0; i < top; i++) seenL[stack[i]] = ep;
    const comp = this.compFlows;
    const compL = this.compLinks;
    let nF = 0;
    let nL = 0;
    const mm = this.mm;
    const fRoute = mm.cons;
    const fLen = mm.len;
    const la = mm.count;
    const linkFlows = mm.vars;
    while (top > 0) {
      const l = stack[--top];
      const cnt = la[l];
      if (cnt === 0) continue;
      compL[nL++] = l;
      const list = linkFlows[l];
      for (let j = 0; j < cnt; j++) {
        const f = list[j];
        if (seenF[f] === ep) continue;
        seenF[f] = ep;
        comp[nF++] = f;
        const base = f * MAX_ROUTE;
        const len = fLen[f];
        for (let k = 0; k < len; k++) {
          const l2 = fRoute[base + k];
          if (seenL[l2] !== ep) {
            seenL[l2] = ep;
            stack[top++] = l2;
          }
        }
      }
    }
    this.nCompLinks = nL;
    return nF;
  }
}
