// The flow solver as it was before component-local recomputation (git 5959978, src/hardware/network.ts):
// every start or end re-solved all active flows. Kept only as the reference that
// network-components.test.ts compares the current solver against.
/**
 * A flow-level network on top of the engine: links with a bandwidth and a latency; flows that cross
 * a route of links and share each link's bandwidth max-min fairly (progressive filling), recomputed
 * whenever flows start or end. A flow's bytes move at its fair rate; it is delivered the route's
 * latency (sum of its links' latencies) after its last byte leaves.
 *
 * Speed: flows live in typed arrays (struct of arrays, slots reused); every start or end at one
 * instant is batched into one recomputation (an event at the same time, after the others); a
 * recomputation is O(flows x route length + links x log links); the engine sees one pending event
 * for the next completion, not one per flow.
 */
import type { Simulation } from "../../src/sim/engine.js";
import type { ScheduledEvent } from "../../src/sim/queue.js";
import type { PairRoutes } from "../../src/hardware/network/index.js";

export type LinkKind = "nvlink" | "pcie" | "nic" | "fabric" | "memory";

/** Max links on one route. */
export const MAX_ROUTE = 12;

/** Runs after all other events at the same instant, so that simultaneous starts and ends are solved once. */
const PRIORITY_SOLVE = 1_000_000;

interface Group {
  left: number;
  deliverAt: number;
  onDone: () => void;
}

/** A binary min-heap of (key, id) in typed arrays. */
class MinHeap {
  keys = new Float64Array(1024);
  ids = new Int32Array(1024);
  size = 0;
  clear(): void {
    this.size = 0;
  }
  push(key: number, id: number): void {
    if (this.size === this.keys.length) {
      const k = new Float64Array(this.size * 2);
      k.set(this.keys);
      this.keys = k;
      const d = new Int32Array(this.size * 2);
      d.set(this.ids);
      this.ids = d;
    }
    const keys = this.keys;
    const ids = this.ids;
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (keys[p] <= key) break;
      keys[i] = keys[p];
      ids[i] = ids[p];
      i = p;
    }
    keys[i] = key;
    ids[i] = id;
  }
  /** Removes the top; read topKey/topId before. */
  pop(): void {
    const keys = this.keys;
    const ids = this.ids;
    const n = --this.size;
    if (n === 0) return;
    const key = keys[n];
    const id = ids[n];
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && keys[c + 1] < keys[c]) c++;
      if (keys[c] >= key) break;
      keys[i] = keys[c];
      ids[i] = ids[c];
      i = c;
    }
    keys[i] = key;
    ids[i] = id;
  }
}

export class FlowNetwork {
  // ---- links ----
  private nLinks = 0;
  private linkCap = new Float64Array(64); // bytes per ns
  private linkLat = new Float64Array(64);
  private linkBytes = new Float64Array(64);
  private linkBusy = new Float64Array(64);
  private linkActive = new Int32Array(64); // active flows crossing the link
  readonly linkNames: string[] = [];
  readonly linkKinds: LinkKind[] = [];

  // ---- flows (slots) ----
  private cap = 0;
  private fRemaining = new Float64Array(0);
  private fBytes = new Float64Array(0);
  private fLogical = new Float64Array(0);
  private fRate = new Float64Array(0);
  private fMaxRate = new Float64Array(0);
  private fLat = new Float64Array(0);
  private fRouteLen = new Int32Array(0);
  private fRoute = new Int32Array(0);
  private fGroup = new Int32Array(0);
  private fSrc = new Int32Array(0);
  private fDst = new Int32Array(0);
  private fPos = new Int32Array(0);
  private fFrozen = new Uint8Array(0);
  private freeSlots: number[] = [];
  private active = new Int32Array(0);
  private nActive = 0;

  // ---- groups ----
  private groups: Array<Group | null> = [];
  private freeGroups: number[] = [];

  // ---- solver scratch ----
  private remCap = new Float64Array(64);
  private unfrozen = new Int32Array(64);
  private adjStart = new Int32Array(65);
  private adjFill = new Int32Array(64);
  private adj = new Int32Array(0);
  private heap = new MinHeap();

  private lastT = 0;
  private solvePending = false;
  private nextDone: ScheduledEvent | null = null;
  private readonly solveFn = (): void => this.solveEvent();
  private readonly doneFn = (): void => this.completionEvent();

  /** Bytes sent / received per endpoint (network-level, counted when a flow's last byte leaves). */
  readonly sentBytes: Float64Array;
  readonly receivedBytes: Float64Array;
  /** Bytes delivered to their final destination per endpoint (excludes bytes a node only forwards). */
  readonly deliveredBytes: Float64Array;
  /** Recomputations of the fair shares so far. */
  solves = 0;
  /** Flows completed so far. */
  flowsDone = 0;

  constructor(
    readonly sim: Simulation,
    endpoints: number,
  ) {
    this.sentBytes = new Float64Array(endpoints);
    this.receivedBytes = new Float64Array(endpoints);
    this.deliveredBytes = new Float64Array(endpoints);
    this.lastT = sim.now;
  }

  get linkCount(): number {
    return this.nLinks;
  }
  get activeFlows(): number {
    return this.nActive;
  }

  /** Adds a link; returns its id. */
  addLink(name: string, kind: LinkKind, bandwidthBytesPerS: number, latencyNs: number): number {
    if (!(bandwidthBytesPerS > 0)) throw new Error(`link ${name}: bandwidth must be > 0, got ${bandwidthBytesPerS}`);
    if (!(latencyNs >= 0)) throw new Error(`link ${name}: latency must be >= 0, got ${latencyNs}`);
    const id = this.nLinks++;
    if (id >= this.linkCap.length) {
      const n = this.linkCap.length * 2;
      this.linkCap = grow(this.linkCap, n);
      this.linkLat = grow(this.linkLat, n);
      this.linkBytes = grow(this.linkBytes, n);
      this.linkBusy = grow(this.linkBusy, n);
      this.linkActive = growI(this.linkActive, n);
      this.remCap = new Float64Array(n);
      this.unfrozen = new Int32Array(n);
      this.adjStart = new Int32Array(n + 1);
      this.adjFill = new Int32Array(n);
    }
    this.linkCap[id] = bandwidthBytesPerS / 1e9;
    this.linkLat[id] = latencyNs;
    this.linkNames.push(name);
    this.linkKinds.push(kind);
    return id;
  }

  linkLatencyNs(id: number): number {
    return this.linkLat[id];
  }
  linkBandwidthBytesPerS(id: number): number {
    return this.linkCap[id] * 1e9;
  }

  /** Per-link bytes carried (by completed flows) and time with at least one active flow. */
  linkStats(): Array<{ link: string; kind: LinkKind; bytes: number; busyNs: number }> {
    this.advance(this.sim.now);
    const out = [];
    for (let l = 0; l < this.nLinks; l++) {
      out.push({
        link: this.linkNames[l],
        kind: this.linkKinds[l],
        bytes: this.linkBytes[l],
        busyNs: this.linkBusy[l],
      });
    }
    return out;
  }

  /**
   * The active flows with their current fair rates (bytes/s) and routes, and every link's capacity
   * (bytes/s): for tests and inspection. Rates are those of the last recomputation.
   */
  snapshot(): {
    flows: Array<{ rateBytesPerS: number; maxRateBytesPerS: number; route: number[]; remainingBytes: number }>;
    linkCapBytesPerS: number[];
  } {
    const flows = [];
    for (let i = 0; i < this.nActive; i++) {
      const f = this.active[i];
      const route = Array.from(this.fRoute.subarray(f * MAX_ROUTE, f * MAX_ROUTE + this.fRouteLen[f]));
      flows.push({
        rateBytesPerS: this.fRate[f] * 1e9,
        maxRateBytesPerS: this.fMaxRate[f] * 1e9,
        route,
        remainingBytes: this.fRemaining[f],
      });
    }
    return { flows, linkCapBytesPerS: Array.from(this.linkCap.subarray(0, this.nLinks), (c) => c * 1e9) };
  }

  /** The event-driven path only (no fast path): a group, then its flows. */
  runGroup(count: number, onDone: () => void, add: (group: number) => void): void {
    add(this.group(count, onDone));
  }

  /** An all-to-all over precomputed routes: one flow per nonzero size, in pair order, in one group. */
  /** Cluster's entry point (sizes counted by the caller): the reference counts them again itself. */
  runAllToAllChecked(
    t: PairRoutes,
    sizes: ArrayLike<number>,
    _count: number,
    _whole: boolean,
    onDone: () => void,
  ): void {
    this.runAllToAll(t, sizes, onDone);
  }

  runAllToAll(t: PairRoutes, sizes: ArrayLike<number>, onDone: () => void): void {
    const nn = t.n * t.n;
    let count = 0;
    for (let p = 0; p < nn; p++) if (sizes[p] > 0) count++;
    const g = this.group(count, onDone);
    for (let p = 0; p < nn; p++) {
      if (!(sizes[p] > 0)) continue;
      this.startFlow(
        t.route.subarray(p * MAX_ROUTE, p * MAX_ROUTE + t.len[p]),
        t.len[p],
        sizes[p],
        g,
        t.src[p],
        t.dst[p],
      );
    }
  }

  /** A completion group: `onDone` runs once `count` flows have been delivered (at once, at the current time, if count is 0). */
  group(count: number, onDone: () => void): number {
    if (count === 0) {
      this.sim.scheduleRaw(0, onDone, 0, "network.group");
      return -1;
    }
    const g: Group = { left: count, deliverAt: this.sim.now, onDone };
    const id = this.freeGroups.pop();
    if (id !== undefined) {
      this.groups[id] = g;
      return id;
    }
    this.groups.push(g);
    return this.groups.length - 1;
  }

  /**
   * Starts a flow of `bytes` over `route[0..len)` (link ids) at the current time. `logical` of its
   * bytes count as delivered to `dst` (the rest is forwarded further by the caller).
   * `maxRateBytesPerS` caps the flow's own rate (e.g. a pageable host copy).
   */
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
    if (!(bytes >= 0) || !Number.isFinite(bytes))
      throw new Error(`flow size must be a finite number >= 0, got ${bytes}`);
    if (len > MAX_ROUTE) throw new Error(`route of ${len} links exceeds ${MAX_ROUTE}`);
    let lat = 0;
    for (let i = 0; i < len; i++) lat += this.linkLat[route[i]];
    if (bytes === 0 || len === 0) {
      // Nothing to share: delivered after the route's latency.
      this.sentBytes[src] += bytes;
      this.receivedBytes[dst] += bytes;
      this.deliveredBytes[dst] += logical;
      this.flowsDone++;
      this.groupDone(group, this.sim.now + lat);
      return;
    }
    this.advance(this.sim.now);
    let f = this.freeSlots.pop();
    if (f === undefined) {
      if (this.cap === this.nActive + this.freeSlots.length) this.growFlows(Math.max(1024, this.cap * 2));
      f = this.nActive + this.freeSlots.length;
      // slots are handed out densely: the next never-used slot is nActive + free (all used slots are active or free)
    }
    this.fRemaining[f] = bytes;
    this.fBytes[f] = bytes;
    this.fLogical[f] = logical;
    this.fRate[f] = 0;
    this.fMaxRate[f] = maxRateBytesPerS / 1e9;
    this.fLat[f] = lat;
    this.fRouteLen[f] = len;
    const base = f * MAX_ROUTE;
    for (let i = 0; i < len; i++) {
      const l = route[i];
      this.fRoute[base + i] = l;
      this.linkActive[l]++;
    }
    this.fGroup[f] = group;
    this.fSrc[f] = src;
    this.fDst[f] = dst;
    this.fPos[f] = this.nActive;
    this.active[this.nActive++] = f;
    this.requestSolve();
  }

  private growFlows(n: number): void {
    this.fRemaining = grow(this.fRemaining, n);
    this.fBytes = grow(this.fBytes, n);
    this.fLogical = grow(this.fLogical, n);
    this.fRate = grow(this.fRate, n);
    this.fMaxRate = grow(this.fMaxRate, n);
    this.fLat = grow(this.fLat, n);
    this.fRouteLen = growI(this.fRouteLen, n);
    this.fRoute = growI(this.fRoute, n * MAX_ROUTE);
    this.fGroup = growI(this.fGroup, n);
    this.fSrc = growI(this.fSrc, n);
    this.fDst = growI(this.fDst, n);
    this.fPos = growI(this.fPos, n);
    this.active = growI(this.active, n);
    const fr = new Uint8Array(n);
    fr.set(this.fFrozen);
    this.fFrozen = fr;
    this.cap = n;
  }

  private groupDone(group: number, deliverAt: number): void {
    if (group < 0) return;
    const g = this.groups[group]!;
    if (deliverAt > g.deliverAt) g.deliverAt = deliverAt;
    if (--g.left === 0) {
      this.groups[group] = null;
      this.freeGroups.push(group);
      this.sim.scheduleRaw(Math.ceil(g.deliverAt) - this.sim.now, g.onDone, 0, "network.delivered");
    }
  }

  private requestSolve(): void {
    if (this.solvePending) return;
    this.solvePending = true;
    this.sim.scheduleRaw(0, this.solveFn, PRIORITY_SOLVE, "network.solve");
  }

  /** Moves every active flow forward to time `t` at its current rate. */
  private advance(t: number): void {
    const dt = t - this.lastT;
    if (dt <= 0) return;
    const act = this.active;
    const rem = this.fRemaining;
    const rate = this.fRate;
    for (let i = 0; i < this.nActive; i++) {
      const f = act[i];
      rem[f] -= rate[f] * dt;
    }
    const la = this.linkActive;
    const busy = this.linkBusy;
    for (let l = 0; l < this.nLinks; l++) if (la[l] > 0) busy[l] += dt;
    this.lastT = t;
  }

  private completionEvent(): void {
    this.nextDone = null;
    this.advance(this.sim.now);
    // Complete every flow whose remaining bytes are (within rounding) gone.
    const act = this.active;
    const rem = this.fRemaining;
    const rate = this.fRate;
    let i = 0;
    let any = false;
    while (i < this.nActive) {
      const f = act[i];
      if (rem[f] <= rate[f] * 1e-3 || rem[f] <= this.fBytes[f] * 1e-12) {
        this.finishFlow(f);
        any = true; // finishFlow swapped the last active flow into position i
      } else {
        i++;
      }
    }
    if (any) this.requestSolve();
    else this.scheduleNextCompletion();
  }

  private finishFlow(f: number): void {
    const now = this.sim.now;
    const len = this.fRouteLen[f];
    const base = f * MAX_ROUTE;
    const bytes = this.fBytes[f];
    for (let k = 0; k < len; k++) {
      const l = this.fRoute[base + k];
      this.linkActive[l]--;
      this.linkBytes[l] += bytes;
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
    this.freeSlots.push(f);
    this.groupDone(this.fGroup[f], now + this.fLat[f]);
  }

  private solveEvent(): void {
    this.solvePending = false;
    this.advance(this.sim.now);
    this.solve();
    this.scheduleNextCompletion();
  }

  private scheduleNextCompletion(): void {
    if (this.nextDone !== null) {
      this.sim.cancel(this.nextDone);
      this.nextDone = null;
    }
    let best = Infinity;
    const act = this.active;
    const rem = this.fRemaining;
    const rate = this.fRate;
    for (let i = 0; i < this.nActive; i++) {
      const f = act[i];
      const t = rem[f] / rate[f];
      if (t < best) best = t;
    }
    if (best === Infinity) return;
    const delay = Math.max(0, Math.ceil(best - 1e-6));
    this.nextDone = this.sim.scheduleRaw(delay, this.doneFn, 0, "network.flowDone");
  }

  /** Max-min fair rates for the active flows by progressive filling. */
  private solve(): void {
    this.solves++;
    const nL = this.nLinks;
    const n = this.nActive;
    const act = this.active;
    const remCap = this.remCap;
    const unf = this.unfrozen;
    const fRoute = this.fRoute;
    const fLen = this.fRouteLen;
    const frozen = this.fFrozen;
    const rate = this.fRate;
    // Count unfrozen flows per link and build link -> flows adjacency (CSR).
    unf.fill(0, 0, nL);
    let total = 0;
    for (let i = 0; i < n; i++) {
      const f = act[i];
      frozen[f] = 0;
      const base = f * MAX_ROUTE;
      const len = fLen[f];
      for (let k = 0; k < len; k++) unf[fRoute[base + k]]++;
      total += len;
    }
    if (this.adj.length < total) this.adj = new Int32Array(Math.max(total, this.adj.length * 2));
    const adj = this.adj;
    const start = this.adjStart;
    const fill = this.adjFill;
    start[0] = 0;
    for (let l = 0; l < nL; l++) {
      start[l + 1] = start[l] + unf[l];
      fill[l] = start[l];
      remCap[l] = this.linkCap[l];
    }
    for (let i = 0; i < n; i++) {
      const f = act[i];
      const base = f * MAX_ROUTE;
      const len = fLen[f];
      for (let k = 0; k < len; k++) adj[fill[fRoute[base + k]]++] = f;
    }
    const heap = this.heap;
    heap.clear();
    for (let l = 0; l < nL; l++) if (unf[l] > 0) heap.push(remCap[l] / unf[l], l);
    const maxRate = this.fMaxRate;
    for (let i = 0; i < n; i++) {
      const f = act[i];
      if (maxRate[f] !== Infinity) heap.push(maxRate[f], nL + f);
    }
    let left = n;
    while (heap.size > 0 && left > 0) {
      const key = heap.keys[0];
      const id = heap.ids[0];
      heap.pop();
      if (id >= nL) {
        const f = id - nL;
        if (frozen[f] === 1) continue;
        this.freeze(f, key);
        left--;
        continue;
      }
      const l = id;
      if (unf[l] === 0) continue;
      const share = Math.max(0, remCap[l]) / unf[l];
      if (share > key * (1 + 1e-12) + 1e-300) {
        heap.push(share, l); // stale: shares only grow as flows elsewhere freeze
        continue;
      }
      for (let j = start[l]; j < start[l + 1]; j++) {
        const f = adj[j];
        if (frozen[f] === 1) continue;
        this.freeze(f, share);
        left--;
      }
    }
    // Flows with no finite constraint cannot happen (every flow has >= 1 link), but keep rates sane.
    for (let i = 0; i < n; i++) if (!(rate[act[i]] > 0)) rate[act[i]] = 1e-12;
  }

  private freeze(f: number, r: number): void {
    this.fFrozen[f] = 1;
    this.fRate[f] = r;
    const base = f * MAX_ROUTE;
    const len = this.fRouteLen[f];
    for (let k = 0; k < len; k++) {
      const l = this.fRoute[base + k];
      this.remCap[l] -= r;
      this.unfrozen[l]--;
    }
  }
}

function grow(a: Float64Array, n: number): Float64Array<ArrayBuffer> {
  const b = new Float64Array(n);
  b.set(a.subarray(0, Math.min(a.length, n)));
  return b;
}
function growI(a: Int32Array, n: number): Int32Array<ArrayBuffer> {
  const b = new Int32Array(n);
  b.set(a.subarray(0, Math.min(a.length, n)));
  return b;
}
