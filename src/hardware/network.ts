/**
 * A flow-level network on top of the engine: links with a bandwidth and a latency; flows that cross
 * a route of links and share each link's bandwidth max-min fairly (progressive filling), recomputed
 * whenever flows start or end. A flow's bytes move at its fair rate; it is delivered the route's
 * latency (sum of its links' latencies) after its last byte leaves.
 *
 * Speed: flows live in typed arrays (struct of arrays, slots reused); every start or end at one
 * instant is batched into one recomputation (an event at the same time, after the others). A
 * recomputation only re-solves the connected components (flows linked through shared links) that
 * contain a link whose flows changed: max-min fair rates decompose exactly over components, so the
 * others keep their rates. It costs O(component flows x route length + component links x log). A
 * flow's remaining bytes are kept as (bytes, time) and only brought forward when its rate changes;
 * its projected finish time sits in a heap, so the next completion is found in O(log flows), and
 * the engine sees one pending event for it, not one per flow. Link busy time is counted from the
 * instant a link gets its first flow to the one it loses its last.
 *
 * Fast path (`runGroup`): a group of flows started together on an idle network (no flow active or
 * pending) runs alone until another flow starts. Its whole course is then computed at once, by the
 * same progressive filling and completion steps on a private clock instead of engine events, and
 * the engine gets one event: the group's delivery. The steps, and so every rate, remaining byte
 * and completion time, are those of the event-driven path (the same code, the same floating-point
 * operations; for flows alone on their links, a closed form where it provably gives the same
 * completion checks: closedIsolated, closedTable). Should another flow start before the group's last flow has finished, the network
 * goes back to the group's start, replays it up to that instant and continues event-driven from
 * there, as if the fast path had never been taken. Counters (link bytes and busy time, bytes per
 * endpoint) are brought up to the group's end when it starts.
 */
import type { Simulation } from "../sim/engine.js";
import type { ScheduledEvent } from "../sim/queue.js";
import { grown } from "../util/arrays.js";

export type LinkKind = "nvlink" | "pcie" | "nic" | "fabric" | "memory";

/** Max links on one route. */
export const MAX_ROUTE = 12;

/**
 * The routes between the members of a collective group, precomputed once per group (Cluster
 * memoises them): pair p = i * n + j (member i to member j) crosses route[p * MAX_ROUTE ..] for
 * len[p] links, from endpoint src[p] to dst[p].
 */
export interface PairRoutes {
  n: number;
  route: Int32Array;
  len: Int32Array;
  src: Int32Array;
  dst: Int32Array;
  /** No link lies on the routes of two pairs (an all-to-all over point-to-point links): its flows never share one. */
  disjoint: boolean;
}

/** Runs after all other events at the same instant, so that simultaneous starts and ends are solved once. */
const PRIORITY_SOLVE = 1_000_000;

/** The group id of the flows of a group computed on the fast path. */
const ISO_GROUP = -2;

/** fTag values other than a live completion-heap tag (>= 0). */
const UNRATED = -1;
const FINISHED = -2;
const FINISHING = -3;

interface Group {
  left: number;
  deliverAt: number;
  onDone: () => void;
}

/** A binary min-heap of (key, id, tag) in typed arrays. */
class MinHeap {
  keys = new Float64Array(1024);
  ids = new Int32Array(1024);
  tags = new Int32Array(1024);
  size = 0;
  clear(): void {
    this.size = 0;
  }
  push(key: number, id: number, tag = 0): void {
    if (this.size === this.keys.length) this.growTo(this.size * 2);
    const keys = this.keys;
    const ids = this.ids;
    const tags = this.tags;
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (keys[p] <= key) break;
      keys[i] = keys[p];
      ids[i] = ids[p];
      tags[i] = tags[p];
      i = p;
    }
    keys[i] = key;
    ids[i] = id;
    tags[i] = tag;
  }
  /** Adds an entry without keeping the heap order: call heapify() after a run of appends. */
  append(key: number, id: number, tag: number): void {
    if (this.size === this.keys.length) this.growTo(this.size * 2);
    this.keys[this.size] = key;
    this.ids[this.size] = id;
    this.tags[this.size++] = tag;
  }
  /** Restores the heap order in O(size) (Floyd). */
  heapify(): void {
    for (let i = (this.size >> 1) - 1; i >= 0; i--) this.siftDown(i, this.keys[i], this.ids[i], this.tags[i], this.size);
  }
  private growTo(n: number): void {
    this.keys = grown(this.keys, n);
    this.ids = grown(this.ids, n);
    this.tags = grown(this.tags, n);
  }
  private siftDown(i: number, key: number, id: number, tag: number, n: number): void {
    const keys = this.keys;
    const ids = this.ids;
    const tags = this.tags;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && keys[c + 1] < keys[c]) c++;
      if (keys[c] >= key) break;
      keys[i] = keys[c];
      ids[i] = ids[c];
      tags[i] = tags[c];
      i = c;
    }
    keys[i] = key;
    ids[i] = id;
    tags[i] = tag;
  }
  /** Removes the top; read keys[0]/ids[0]/tags[0] before. */
  pop(): void {
    const n = --this.size;
    if (n === 0) return;
    this.siftDown(0, this.keys[n], this.ids[n], this.tags[n], n);
  }
}

export class FlowNetwork {
  // ---- links ----
  private nLinks = 0;
  private linkCap = new Float64Array(64); // bytes per ns
  private linkLat = new Float64Array(64);
  private linkBytes = new Float64Array(64);
  private linkBusy = new Float64Array(64);
  private linkBusySince = new Float64Array(64); // when the link got its first active flow
  private linkActive = new Int32Array(64); // active flows crossing the link
  private linkFlows: Int32Array[] = []; // the active flows crossing each link, [0, linkActive)
  readonly linkNames: string[] = [];
  readonly linkKinds: LinkKind[] = [];

  // ---- flows (slots) ----
  private cap = 0;
  private fRemaining = new Float64Array(0); // bytes left at time fSince
  private fSince = new Float64Array(0);
  private fBytes = new Float64Array(0);
  private fLogical = new Float64Array(0);
  private fRate = new Float64Array(0);
  private fMaxRate = new Float64Array(0);
  private fLat = new Float64Array(0);
  private fRouteLen = new Int32Array(0);
  private fRoute = new Int32Array(0);
  private fLinkPos = new Int32Array(0); // index of the flow in linkFlows of its route's k-th link
  private fGroup = new Int32Array(0);
  private fSrc = new Int32Array(0);
  private fDst = new Int32Array(0);
  private fPos = new Int32Array(0);
  private fFrozen = new Uint8Array(0);
  private fTag = new Int32Array(0); // matches the tag of the flow's live entry in the completion heap
  private fSeen = new Int32Array(0); // component search epoch
  private freeSlots: number[] = [];
  private active = new Int32Array(0);
  private nActive = 0;

  // ---- groups ----
  private groups: Array<Group | null> = [];
  private freeGroups: number[] = [];

  // ---- solver scratch ----
  private remCap = new Float64Array(64);
  private unfrozen = new Int32Array(64);
  private linkSeen = new Int32Array(64);
  private dirty = new Int32Array(64); // links whose flows changed since the last recomputation
  private nDirty = 0;
  private epoch = 0;
  private compFlows = new Int32Array(0);
  private compLinks = new Int32Array(64);
  private heap = new MinHeap();
  /** Projected finish time (absolute ns) of every active flow with a rate; stale entries are skipped by tag. */
  private doneHeap = new MinHeap();
  private nextTag = 0;
  private finishing: number[] = [];

  private solvePending = false;
  private nextDone: ScheduledEvent | null = null;
  private readonly solveFn = (): void => this.solveEvent();
  private readonly doneFn = (): void => this.completionEvent();

  // ---- fast path: one group alone on the network (see runGroup) ----
  /** Use the fast path for groups started on an idle network (false: always event-driven). */
  fastGroups = true;
  /** Groups computed on the fast path so far, and how many were replayed because a flow joined. */
  fastRuns = 0;
  fastReplays = 0;
  /** Of the fast runs, those whose flows shared no link (computed without progressive filling). */
  fastIsolated = 0;
  /** Of the isolated runs, those computed in closed form (closedIsolated) rather than check by check. */
  fastClosed = 0;
  /** Of the replays, those of a group computed from its table without records (closedTable), unwound first. */
  fastUnwound = 0;
  private isoBuilding = false;
  private isoLive = false;
  private isoT0 = 0;
  private isoLeft = 0;
  private isoCount = 0;
  private isoDeliver = 0;
  private isoLastFinish = 0;
  private isoOnDone: (() => void) | null = null;
  private isoEnd: ScheduledEvent | null = null;
  // the group's flows, to replay them: routes, bytes, logical bytes, rate caps, endpoints
  private isoN = 0;
  private isoShared = false;
  private isoStamp = 0;
  private linkStamp = new Int32Array(64); // isoStamp of the fast group whose records use the link
  // scratch of advanceIsolated, by record
  private isoRate = new Float64Array(0);
  private isoKey = new Float64Array(0);
  private isoOrder = new Int32Array(0);
  private isoSorted = new Float64Array(0);
  private isoRank = new Int32Array(0);
  private isoAct = new Int32Array(0);
  private isoPos = new Int32Array(0);
  private isoState = new Uint8Array(0);
  private isoHId = new Int32Array(0);
  private isoHKey = new Float64Array(0);
  // distinctFinishes' set: slot h is taken when finSetMark[h] === finMark
  private finSetMark = new Int32Array(0);
  private finSetKey = new Float64Array(0);
  private finMark = 0;
  /**
   * Every flow so far had whole bytes, so every counter (bytes, and busy ns) holds an integer:
   * adding and then subtracting a whole number gives it back exactly (closedTable's undo).
   */
  private integral = true;
  // closedTable's live group: its pair routes, sizes and finish offsets (records written only on a replay)
  private isoLazy = false;
  private isoTable: PairRoutes | null = null;
  private isoSizes = new Float64Array(0);
  private isoFin = new Float64Array(0);
  private colSums = new Float64Array(64);
  private readonly snapLazy = [0, 0, 0, 0]; // the counters when closedTable's group started
  private readonly tableRates = new WeakMap<PairRoutes, TableRates>();
  private isoDOrder = new Int32Array(0);
  private isoCnt = new Int32Array(0);
  private readonly bits64 = new Float64Array(1);
  private readonly bits32 = new Uint32Array(this.bits64.buffer);
  private isoRoute = new Int32Array(64 * MAX_ROUTE);
  private isoLen = new Int32Array(64);
  private isoBytes = new Float64Array(64);
  private isoLogical = new Float64Array(64);
  private isoMaxRate = new Float64Array(64);
  private isoSrc = new Int32Array(64);
  private isoDst = new Int32Array(64);
  // the network's counters when the group started (it was idle then)
  private snapLinkBytes = new Float64Array(64);
  private snapLinkBusy = new Float64Array(64);
  private snapSent = new Float64Array(0);
  private snapReceived = new Float64Array(0);
  private snapDelivered = new Float64Array(0);
  private snapFree: number[] = [];
  private snapCounters = [0, 0, 0, 0];

  /** Bytes sent / received per endpoint (network-level, counted when a flow's last byte leaves). */
  readonly sentBytes: Float64Array;
  readonly receivedBytes: Float64Array;
  /** Bytes delivered to their final destination per endpoint (excludes bytes a node only forwards). */
  readonly deliveredBytes: Float64Array;
  /** Recomputations of the fair shares so far. */
  solves = 0;
  /** Flows whose rates were recomputed, summed over recomputations (the solver's work). */
  solvedFlows = 0;
  /** Flows completed so far. */
  flowsDone = 0;

  /**
   * Analytic model instead of flow-level sharing (set before any flow starts): every link serves
   * bytes at its capacity, first come first served; a collective queues its bytes on each link at
   * once, a flow ends when the last link on its route is through with them. No flow is simulated:
   * one event per group. For a collective alone on the network, a lower bound on the flow model's
   * times (equal for flows that share no link, to the ns rounding); see docs/hardware.md.
   */
  analytic = false;
  private aLoad = new Float64Array(0); // bytes per link of the group being computed (analytic)
  private aTouched = new Int32Array(0);
  private aBusyUntil = new Float64Array(0); // when each link has drained the bytes queued on it so far (analytic)

  constructor(
    readonly sim: Simulation,
    endpoints: number,
  ) {
    this.sentBytes = new Float64Array(endpoints);
    this.receivedBytes = new Float64Array(endpoints);
    this.deliveredBytes = new Float64Array(endpoints);
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
      this.linkCap = grown(this.linkCap, n);
      this.linkLat = grown(this.linkLat, n);
      this.linkBytes = grown(this.linkBytes, n);
      this.linkBusy = grown(this.linkBusy, n);
      this.linkBusySince = grown(this.linkBusySince, n);
      this.linkActive = grown(this.linkActive, n);
      this.linkSeen = grown(this.linkSeen, n);
      this.remCap = new Float64Array(n);
      this.unfrozen = new Int32Array(n);
      this.dirty = new Int32Array(n);
      this.compLinks = new Int32Array(n);
    }
    this.linkCap[id] = bandwidthBytesPerS / 1e9;
    this.linkLat[id] = latencyNs;
    this.linkFlows.push(new Int32Array(4));
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
    const now = this.sim.now;
    const out = [];
    for (let l = 0; l < this.nLinks; l++) {
      const busy = this.linkBusy[l] + (this.linkActive[l] > 0 ? now - this.linkBusySince[l] : 0);
      out.push({ link: this.linkNames[l], kind: this.linkKinds[l], bytes: this.linkBytes[l], busyNs: busy });
    }
    return out;
  }

  /**
   * The active flows with their current fair rates (bytes/s) and routes, and every link's capacity
   * (bytes/s): for tests and inspection. Rates are those of the last recomputation.
   */
  snapshot(): { flows: Array<{ rateBytesPerS: number; maxRateBytesPerS: number; route: number[]; remainingBytes: number }>; linkCapBytesPerS: number[] } {
    const flows = [];
    for (let i = 0; i < this.nActive; i++) {
      const f = this.active[i];
      const route = Array.from(this.fRoute.subarray(f * MAX_ROUTE, f * MAX_ROUTE + this.fRouteLen[f]));
      flows.push({ rateBytesPerS: this.fRate[f] * 1e9, maxRateBytesPerS: this.fMaxRate[f] * 1e9, route, remainingBytes: this.remainingAt(f, this.sim.now) });
    }
    return { flows, linkCapBytesPerS: Array.from(this.linkCap.subarray(0, this.nLinks), (c) => c * 1e9) };
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
    if (!(bytes >= 0) || !Number.isFinite(bytes)) throw new Error(`flow size must be a finite number >= 0, got ${bytes}`);
    if (len > MAX_ROUTE) throw new Error(`route of ${len} links exceeds ${MAX_ROUTE}`);
    if (this.integral && !(Number.isInteger(bytes) && Number.isInteger(logical))) this.integral = false;
    if (this.isoBuilding) {
      if (group !== ISO_GROUP) throw new Error("runGroup: a flow of another group was started while the group's flows were being added");
      this.recordIso(route, len, bytes, logical, maxRateBytesPerS, src, dst);
    } else if (this.analytic) {
      if (group === ISO_GROUP) throw new Error("runGroup: its group id is valid only inside its add callback");
      this.analyticFlow(route, len, bytes, group, src, dst, logical, maxRateBytesPerS);
      return;
    } else {
      if (group === ISO_GROUP) throw new Error("runGroup: its group id is valid only inside its add callback");
      if (this.isoLive && this.sim.now < this.isoLastFinish) this.replayIso(this.sim.now);
    }
    if (this.isoBuilding) return; // added (or computed directly) once the group is complete
    this.addFlow(this.sim.now, route, len, bytes, group, src, dst, logical, maxRateBytesPerS);
    this.requestSolve();
  }

  /** Adds a flow at time `now` (no recomputation requested). */
  private addFlow(
    now: number,
    route: ArrayLike<number>,
    len: number,
    bytes: number,
    group: number,
    src: number,
    dst: number,
    logical: number,
    maxRateBytesPerS: number,
  ): void {
    let lat = 0;
    for (let i = 0; i < len; i++) lat += this.linkLat[route[i]];
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
    this.fRate[f] = 0;
    this.fMaxRate[f] = maxRateBytesPerS / 1e9;
    this.fLat[f] = lat;
    this.fRouteLen[f] = len;
    this.fTag[f] = UNRATED; // no completion entry until its rate is known
    const base = f * MAX_ROUTE;
    for (let i = 0; i < len; i++) {
      const l = route[i];
      this.fRoute[base + i] = l;
      const k = this.linkActive[l]++;
      if (k === 0) this.linkBusySince[l] = now;
      let list = this.linkFlows[l];
      if (k === list.length) {
        const bigger = new Int32Array(list.length * 2);
        bigger.set(list);
        this.linkFlows[l] = list = bigger;
      }
      list[k] = f;
      this.fLinkPos[base + i] = k;
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
    this.fRate = grown(this.fRate, n);
    this.fMaxRate = grown(this.fMaxRate, n);
    this.fLat = grown(this.fLat, n);
    this.fRouteLen = grown(this.fRouteLen, n);
    this.fRoute = grown(this.fRoute, n * MAX_ROUTE);
    this.fLinkPos = grown(this.fLinkPos, n * MAX_ROUTE);
    this.fGroup = grown(this.fGroup, n);
    this.fSrc = grown(this.fSrc, n);
    this.fDst = grown(this.fDst, n);
    this.fPos = grown(this.fPos, n);
    this.fTag = grown(this.fTag, n);
    this.fSeen = grown(this.fSeen, n);
    this.active = grown(this.active, n);
    this.compFlows = new Int32Array(n);
    const fr = new Uint8Array(n);
    fr.set(this.fFrozen);
    this.fFrozen = fr;
    this.cap = n;
  }

  private markDirty(l: number): void {
    if (this.linkSeen[l] === -1) return; // already listed
    this.linkSeen[l] = -1;
    this.dirty[this.nDirty++] = l;
  }

  /** Bytes the flow has left at time t (at its current rate). */
  private remainingAt(f: number, t: number): number {
    return this.fRemaining[f] - this.fRate[f] * (t - this.fSince[f]);
  }

  private groupDone(group: number, deliverAt: number, now: number): void {
    if (group === ISO_GROUP) {
      if (deliverAt > this.isoDeliver) this.isoDeliver = deliverAt;
      this.isoLeft--;
      return;
    }
    if (group < 0) return;
    const g = this.groups[group]!;
    if (deliverAt > g.deliverAt) g.deliverAt = deliverAt;
    if (--g.left === 0) {
      this.groups[group] = null;
      this.freeGroups.push(group);
      this.sim.scheduleRaw(Math.ceil(g.deliverAt) - now, g.onDone, 0, "network.delivered");
    }
  }

  private requestSolve(): void {
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
    const fin = this.finishing;
    fin.length = 0;
    while (h.size > 0) {
      const f = h.ids[0];
      if (h.tags[0] !== tag[f]) {
        h.pop(); // stale: the flow was re-rated or has finished
        continue;
      }
      const rem = this.remainingAt(f, now);
      if (!(rem <= this.fRate[f] * 1e-3 || rem <= this.fBytes[f] * 1e-12)) break;
      h.pop();
      tag[f] = FINISHING;
      fin.push(f);
    }
    if (fin.length === 0) return false;
    // Finish them in the order a scan of the active list with swap-removal meets them (so that
    // groups ending at one instant fire in a deterministic, position-based order).
    const pos = this.fPos;
    sortIdsByKey(fin, fin.length, pos);
    const act = this.active;
    for (const f of fin) {
      if (tag[f] !== FINISHING) continue; // finished already, when it was swapped into an earlier position
      const p = pos[f];
      while (p < this.nActive && tag[act[p]] === FINISHING) this.finishFlow(act[p], now);
    }
    return true;
  }

  private finishFlow(f: number, now: number): void {
    const len = this.fRouteLen[f];
    const base = f * MAX_ROUTE;
    const bytes = this.fBytes[f];
    for (let k = 0; k < len; k++) {
      const l = this.fRoute[base + k];
      // swap-remove from the link's flow list
      const list = this.linkFlows[l];
      const last = --this.linkActive[l];
      const at = this.fLinkPos[base + k];
      const moved = list[last];
      if (moved !== f) {
        list[at] = moved;
        const mb = moved * MAX_ROUTE;
        const ml = this.fRouteLen[moved];
        for (let j = 0; j < ml; j++) {
          if (this.fRoute[mb + j] === l) {
            this.fLinkPos[mb + j] = at;
            break;
          }
        }
      }
      if (last === 0) this.linkBusy[l] += now - this.linkBusySince[l];
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
    const best = this.remainingAt(f, now) / this.fRate[f];
    return Math.max(0, Math.ceil(best - 1e-6));
  }

  // ---------------------------------------------------------------------------------------------
  // Fast path

  /** True when no flow is active and nothing is pending: a group started now would run alone. */
  get idle(): boolean {
    return this.nActive === 0 && !this.solvePending && this.nextDone === null && this.nDirty === 0 && !(this.isoLive && this.sim.now < this.isoLastFinish);
  }

  /**
   * Runs a group of `count` flows whose `onDone` fires once all have been delivered; `add(group)`
   * starts them (startFlow with that group id, at the current time). On an idle network the group
   * is computed at once (the fast path, see the file comment); otherwise, or with `fastGroups` off,
   * it is the same as `group(count, onDone)` followed by `add`.
   */
  runGroup(count: number, onDone: () => void, add: (group: number) => void): void {
    if (this.analytic && count > 0) {
      this.runAnalyticGroup(count, onDone, add);
      return;
    }
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
      this.fastIsolated++;
      this.isoLastFinish = this.closedIsolated(now) ?? this.advanceIsolated(now);
    } else {
      this.addIsoFlows(now);
      this.isoLastFinish = this.advance(now, Infinity);
    }
    this.endFast(count, onDone);
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
    this.isoN = 0;
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
    if (sizes.length !== nn) throw new Error(`allToAll: sizes has ${sizes.length} entries, expected ${t.n} x ${t.n} = ${nn}`);
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
    if (this.isoLen.length < count) this.growIso(count);
    if (stamp) {
      if (this.linkStamp.length < this.nLinks) this.linkStamp = grown(this.linkStamp, this.linkCap.length);
      this.isoStamp++;
      this.isoShared = false;
    }
    const st = this.isoStamp;
    const linkStamp = this.linkStamp;
    const route = this.isoRoute;
    const len = this.isoLen;
    const bytes = this.isoBytes;
    const logical = this.isoLogical;
    const maxRate = this.isoMaxRate;
    const src = this.isoSrc;
    const dst = this.isoDst;
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
    this.isoN = i;
  }

  /**
   * The fast path of an all-to-all over t starting at t0 on a network idle then: every flow
   * computed (closed form, check by check alone on its links, or progressive filling on a private
   * clock), counters brought to its end; isoDeliver and isoLastFinish set. No event scheduled.
   */
  private fastAllToAll(t: PairRoutes, sizes: ArrayLike<number>, count: number, t0: number): void {
    if (t.disjoint && this.integral && this.closedTable(t, sizes, count, t0)) return;
    this.beginFast(count, t0);
    this.recordTable(t, sizes, count, !t.disjoint);
    if (t.disjoint || !this.isoShared) {
      this.isoShared = false;
      this.fastIsolated++;
      this.isoLastFinish = this.closedIsolated(t0) ?? this.advanceIsolated(t0);
    } else {
      this.addIsoFlows(t0);
      this.isoLastFinish = this.advance(t0, Infinity);
    }
  }

  /**
   * An all-to-all over a group whose routes are precomputed (PairRoutes): member i sends
   * sizes[i * n + j] bytes to member j; zero sizes start no flow; onDone runs once all are
   * delivered. The same as runGroup (or the analytic model's group) with one startFlow per nonzero
   * size in pair order; when the routes share no link and the network is idle, the records are
   * written straight from the table, without per-flow route lookups, link stamps or checks.
   */
  runAllToAll(t: PairRoutes, sizes: ArrayLike<number>, onDone: () => void): void {
    this.startAllToAll(t, sizes, this.countSizes(t, sizes), onDone);
  }

  /**
   * runAllToAll for sizes its caller has already checked (Cluster.allToAll, at call time): `count`
   * of them nonzero, `whole` when every one is a whole number. Spares the all-to-all a second
   * pass over its sizes.
   */
  runAllToAllChecked(t: PairRoutes, sizes: ArrayLike<number>, count: number, whole: boolean, onDone: () => void): void {
    if (sizes.length !== t.n * t.n) throw new Error(`allToAll: sizes has ${sizes.length} entries, expected ${t.n} x ${t.n} = ${t.n * t.n}`);
    if (!whole) this.integral = false;
    this.startAllToAll(t, sizes, count, onDone);
  }

  private startAllToAll(t: PairRoutes, sizes: ArrayLike<number>, count: number, onDone: () => void): void {
    if (count === 0 || (!this.analytic && !(this.fastGroups && this.idle))) {
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
    const now = this.sim.now;
    if (this.analytic) {
      this.sim.scheduleRaw(Math.ceil(this.analyticTable(t, sizes, count, now)) - now, onDone, 0, "network.delivered");
      return;
    }
    this.fastAllToAll(t, sizes, count, now);
    this.endFast(count, onDone);
  }

  /**
   * Readies the network for all-to-alls over t: its per-pair rates and the closed form's scratch,
   * sized now rather than at the first all-to-all. (Optimised code compiled in an earlier
   * simulation has never seen those first-time branches taken and would deoptimise on them.)
   */
  prepareTable(t: PairRoutes): void {
    const tr = this.ratesOf(t);
    if (this.analytic) this.linksOf(t, tr);
    const nn = t.n * t.n;
    this.closedScratch(nn);
    this.finSetFor(nn);
    this.colScratch(t.n);
  }

  /** A table's pairs by link (the analytic model's), built on first use. */
  private linksOf(t: PairRoutes, tr: TableRates): AnalyticLinks {
    return (tr.links ??= new AnalyticLinks(t, tr.lat, this.nLinks));
  }

  /** Per pair of a table: its route's minimum capacity (bytes per ns) and its latency (summed in route order). */
  private ratesOf(t: PairRoutes): TableRates {
    let r = this.tableRates.get(t);
    if (r === undefined) {
      const nn = t.n * t.n;
      r = new TableRates(nn);
      for (let p = 0; p < nn; p++) {
        let rate = Infinity;
        let lat = 0;
        for (let k = 0; k < t.len[p]; k++) {
          const l = t.route[p * MAX_ROUTE + k];
          lat += this.linkLat[l];
          if (this.linkCap[l] < rate) rate = this.linkCap[l];
        }
        r.rate[p] = rate;
        r.lat[p] = lat;
      }
      this.tableRates.set(t, r);
    }
    return r;
  }

  /**
   * The fast path of an all-to-all over an idle network whose routes share no link, in closed form
   * (closedIsolated's arithmetic and bounds) straight from the table: no records, no snapshot. Its
   * flows' records are written, and its counters taken back (exactly: every counter holds whole
   * numbers, see `integral`), only if another flow starts before it ends (replayIso). Returns
   * false, having changed nothing, when a size falls outside closedIsolated's bounds.
   */
  private closedTable(t: PairRoutes, sizes: ArrayLike<number>, count: number, t0: number): boolean {
    const nn = t.n * t.n;
    const { rate, lat } = this.ratesOf(t);
    this.closedScratch(nn);
    const fin = this.isoFin;
    // (isoSizes belongs to the live fast group, if any; the network is idle, so none is live)
    const keep = this.isoSizes;
    for (let p = 0; p < nn; p++) {
      const b = sizes[p];
      if (!(b > 0)) {
        keep[p] = 0;
        continue;
      }
      keep[p] = b;
      const r = rate[p];
      if (b !== Math.floor(b) || t.len[p] === 0 || !(r > 0)) return false;
      const x = b / r;
      const o = Math.ceil(x);
      if (!(x < 1e9) || x - (o - 1) <= 2e-3) return false;
      fin[p] = o;
    }
    const now = t0;
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
    this.isoT0 = now;
    this.isoCount = count;
    this.isoLeft = 0;
    this.isoOnDone = null;
    this.isoN = 0;
    this.isoShared = false;
    const distinct = this.distinctFinishes(fin, nn, keep);
    let last = 0;
    const route = t.route;
    const len = t.len;
    const linkBusy = this.linkBusy;
    const linkBytes = this.linkBytes;
    const sent = this.sentBytes;
    const received = this.receivedBytes;
    const delivered = this.deliveredBytes;
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
    this.isoDeliver = deliver;
    this.flowsDone += count;
    this.solves += 1 + distinct;
    this.solvedFlows += count;
    this.nextTag = (this.nextTag + count) & 0x3fffffff;
    this.isoLastFinish = now + last;
    return true;
  }

  /** closedTable's group, when a flow joins it: its counters taken back, its records written, as if beginFast had run. */
  private unwindLazy(): void {
    this.fastUnwound++;
    this.isoLazy = false;
    const t = this.isoTable!;
    this.isoTable = null;
    const nn = t.n * t.n;
    const fin = this.isoFin;
    const keep = this.isoSizes;
    this.isoN = 0;
    for (let p = 0; p < nn; p++) {
      const b = keep[p];
      if (b === 0) continue;
      const o = fin[p];
      const base = p * MAX_ROUTE;
      for (let k = base, end = base + t.len[p]; k < end; k++) {
        this.linkBusy[t.route[k]] -= o;
        this.linkBytes[t.route[k]] -= b;
      }
      this.sentBytes[t.src[p]] -= b;
      this.receivedBytes[t.dst[p]] -= b;
      this.deliveredBytes[t.dst[p]] -= b;
      this.pushIso(t.route.subarray(base, base + t.len[p]), t.len[p], b, b, Infinity, t.src[p], t.dst[p]);
    }
    // what beginFast would have saved: the counters as they are now (the group taken back)
    this.snapshotIdle();
    const c = this.snapCounters;
    c[0] = this.snapLazy[0];
    c[1] = this.snapLazy[1];
    c[2] = this.snapLazy[2];
    c[3] = this.snapLazy[3];
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

  /** closedTable's per-pair finish offsets and sizes (isoFin, isoSizes), grown to nn pairs if smaller. */
  private closedScratch(nn: number): void {
    if (this.isoFin.length < nn) {
      this.isoFin = new Float64Array(nn);
      this.isoSizes = new Float64Array(nn);
    }
  }

  /** A zeroed scratch of n per-destination sums (closedTable). */
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
   * advanceIsolated in closed form, where that is provably the same: a flow alone on its links runs
   * at its route's minimum capacity r, so its projected finish is t0 + x with x = bytes / r. When
   * every flow has an integer byte count, x below 1e9 ns and x not within 2e-3 ns above an
   * integer, then every completion check of the event-driven path lands on an integer ns; the
   * check that finishes a flow is t0 + ceil(x) (the path's incremental arithmetic errs by a few
   * ulps, which cannot cross an integer there, and its done tolerance of 1e-3 ns cannot catch the
   * flow at an earlier check); the checks are the distinct values of ceil(x); and the endpoint
   * sums are exact in any order. Returns null, having changed nothing, when a flow falls outside
   * those bounds: advanceIsolated then replays the checks one by one.
   */
  private closedIsolated(t0: number): number | null {
    const n = this.isoN;
    if (this.isoRate.length < n) this.growIsoScratch(n);
    const fin = this.isoKey;
    const bytes = this.isoBytes;
    const route = this.isoRoute;
    const len = this.isoLen;
    const cap = this.linkCap;
    const maxRate = this.isoMaxRate;
    for (let i = 0; i < n; i++) {
      const b = bytes[i];
      if (!(b > 0) || len[i] === 0 || b !== Math.floor(b)) return null;
      let r = maxRate[i] / 1e9;
      const base = i * MAX_ROUTE;
      for (let k = len[i] - 1; k >= 0; k--) {
        const c = cap[route[base + k]];
        if (c < r) r = c;
      }
      if (!(r > 0)) return null;
      const x = b / r;
      const o = Math.ceil(x);
      if (!(x < 1e9) || x - (o - 1) <= 2e-3) return null;
      fin[i] = o;
    }
    const distinct = this.distinctFinishes(fin, n, null);
    let last = 0;
    const linkLat = this.linkLat;
    const linkBusy = this.linkBusy;
    const linkBytes = this.linkBytes;
    const sent = this.sentBytes;
    const received = this.receivedBytes;
    const delivered = this.deliveredBytes;
    const logical = this.isoLogical;
    const src = this.isoSrc;
    const dst = this.isoDst;
    let deliver = this.isoDeliver;
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
    this.isoDeliver = deliver;
    this.flowsDone += n;
    this.isoLeft -= n;
    this.solves += 1 + distinct;
    this.solvedFlows += n;
    this.nextTag = (this.nextTag + n) & 0x3fffffff;
    this.fastClosed++;
    return t0 + last;
  }

  /**
   * Runs the network from `t0` (flows added, not yet solved) on a private clock: the solve at t0,
   * then completion checks and solves as the engine would run them, up to `until`. Returns the time
   * of the last completion check done. With a finite `until`, leaves the state as the event-driven
   * path would have it at `until` (a completion at `until` done, its solve left to the engine) and
   * hands the next completion check to the engine.
   */
  private advance(t0: number, until: number): number {
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

  /** Starts the recorded flows of the fast group as flows of the event-driven path, at t0. */
  private addIsoFlows(t0: number): void {
    for (let i = 0; i < this.isoN; i++) {
      this.addFlow(t0, this.isoRoute.subarray(i * MAX_ROUTE), this.isoLen[i], this.isoBytes[i], ISO_GROUP, this.isoSrc[i], this.isoDst[i], this.isoLogical[i], this.isoMaxRate[i]);
    }
  }

  /**
   * addIsoFlows + advance(t0, Infinity) for a fast group whose flows share no link (an all-to-all
   * over point-to-point NVLink, say), computed from its records without flow slots or heaps.
   * Progressive filling gives a flow alone on its links min(their capacities, its own cap) (its
   * share of a link is the capacity / 1) for its whole life, so the completion checks reduce to
   * visiting the flows in order of projected finish. Every check's arithmetic (remaining bytes,
   * next delay, done test), the finishing order (the active list's, with swap-removal) and so every
   * completion time and counter are those of the event-driven path; slot bookkeeping is skipped
   * (nothing outside the network sees slots). Returns the time of the last completion check.
   */
  private advanceIsolated(t0: number): number {
    const n = this.isoN;
    if (this.isoRate.length < n) this.growIsoScratch(n);
    const rate = this.isoRate;
    const key = this.isoKey;
    const bytes = this.isoBytes;
    const route = this.isoRoute;
    const len = this.isoLen;
    const cap = this.linkCap;
    const lat = this.linkLat;
    const act = this.isoAct;
    const pos = this.isoPos;
    const state = this.isoState; // 0 running, 1 finishing, 2 finished
    // Zero-byte (or linkless) flows are delivered at once, as addFlow does; the others are active
    // in record order. Then solve(t0): each flow's rate.
    let na = 0;
    for (let i = 0; i < n; i++) {
      if (bytes[i] === 0 || len[i] === 0) {
        this.finishIso(i, t0);
        state[i] = 2;
        continue;
      }
      state[i] = 0;
      pos[i] = na;
      act[na++] = i;
      let r = this.isoMaxRate[i] / 1e9;
      const b = i * MAX_ROUTE;
      for (let k = len[i] - 1; k >= 0; k--) {
        const c = cap[route[b + k]];
        if (c < r) r = c;
      }
      if (!(r > 0)) r = 1e-12;
      rate[i] = r;
      key[i] = t0 + bytes[i] / r;
    }
    this.solves++;
    this.solvedFlows += na;
    this.nextTag = (this.nextTag + na) & 0x3fffffff;
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
          this.finishIso(i, now);
          state[i] = 2;
          const last = act[--live];
          act[p] = last;
          pos[last] = p;
        }
      }
      this.solves++; // solve(now): nothing left to re-rate
    }
    return now;
  }

  private growIsoScratch(n: number): void {
    const m = 2 * n;
    this.isoRate = new Float64Array(m);
    this.isoKey = new Float64Array(m);
    this.isoOrder = new Int32Array(m);
    this.isoSorted = new Float64Array(m);
    this.isoRank = new Int32Array(m + 1);
    this.isoAct = new Int32Array(m);
    this.isoPos = new Int32Array(m);
    this.isoState = new Uint8Array(m);
  }

  /**
   * The active records of the fast group (isoAct[0..na)) in order of projected finish (isoKey),
   * the order the completion heap yields them. An all-to-all has few distinct message sizes, hence
   * few distinct keys: they are found through a small hash table on the key's bits, sorted
   * (insertion sort, or a comparator sort when many), and the records counting-sorted by rank.
   */
  private orderByKey(na: number): Int32Array {
    const act = this.isoAct;
    const key = this.isoKey;
    const order = this.isoOrder;
    const flowD = this.isoPos; // (scratch: a record's distinct-key id; the caller sets pos after)
    let hsize = 16;
    while (hsize < 2 * na) hsize *= 2;
    if (this.isoHId.length < hsize) {
      this.isoHId = new Int32Array(hsize);
      this.isoHKey = new Float64Array(hsize);
    }
    const hid = this.isoHId;
    const hkey = this.isoHKey;
    hid.fill(-1, 0, hsize);
    const mask = hsize - 1;
    const shift = 32 - Math.log2(hsize);
    const bits = this.bits64;
    const words = this.bits32;
    const dKey = this.isoSorted; // distinct keys, by id
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
    const dOrder = this.isoDOrder.length >= nd ? this.isoDOrder : (this.isoDOrder = new Int32Array(2 * nd));
    for (let d = 0; d < nd; d++) dOrder[d] = d;
    sortIdsByKey(dOrder, nd, dKey);
    const rank = this.isoRank; // rank of each distinct id, then counting-sort offsets after nd
    for (let r = 0; r < nd; r++) rank[dOrder[r]] = r;
    const cnt = this.isoCnt.length >= nd + 1 ? this.isoCnt : (this.isoCnt = new Int32Array(2 * nd + 2));
    cnt.fill(0, 0, nd + 1);
    for (let a = 0; a < na; a++) cnt[rank[flowD[a]] + 1]++;
    for (let r = 1; r <= nd; r++) cnt[r] += cnt[r - 1];
    for (let a = 0; a < na; a++) order[cnt[rank[flowD[a]]]++] = act[a];
    return order;
  }

  /** finishFlow for a record of the fast group computed directly: counters and delivery. */
  private finishIso(i: number, now: number): void {
    const b = i * MAX_ROUTE;
    const bytes = this.isoBytes[i];
    let lat = 0;
    for (let k = 0; k < this.isoLen[i]; k++) {
      const l = this.isoRoute[b + k];
      lat += this.linkLat[l];
      if (bytes > 0) {
        // the link carried this flow alone, from t0
        this.linkBusy[l] += now - this.isoT0;
        this.linkBytes[l] += bytes;
      }
    }
    this.sentBytes[this.isoSrc[i]] += bytes;
    this.receivedBytes[this.isoDst[i]] += bytes;
    this.deliveredBytes[this.isoDst[i]] += this.isoLogical[i];
    this.flowsDone++;
    const at = now + lat;
    if (at > this.isoDeliver) this.isoDeliver = at;
    this.isoLeft--;
  }

  // ---------------------------------------------------------------------------------------------
  // Analytic model

  /**
   * Queues `bytes` on link l at time t0 (analytic): the link serves bytes at its capacity, first
   * come first served across all traffic, so they start when it has drained what came before (or
   * at t0) and take bytes / capacity. Returns when they are through; counts link bytes and busy time.
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

  /** A single flow in the analytic model: a group of one (analyticRecords), delivered to its own group. */
  private analyticFlow(route: ArrayLike<number>, len: number, bytes: number, group: number, src: number, dst: number, logical: number, maxRateBytesPerS: number): void {
    const now = this.sim.now;
    // (the records are free: a group being recorded takes its flows in the branch before this)
    this.isoN = 0;
    this.pushIso(route, len, bytes, logical, maxRateBytesPerS, src, dst);
    this.groupDone(group, this.analyticRecords(now), now);
  }

  /** A group in the analytic model: its flows recorded by `add`, computed by analyticRecords. One engine event. */
  private runAnalyticGroup(count: number, onDone: () => void, add: (group: number) => void): void {
    const now = this.sim.now;
    if (this.linkStamp.length < this.nLinks) this.linkStamp = grown(this.linkStamp, this.linkCap.length);
    this.isoStamp++;
    this.isoN = 0;
    this.isoBuilding = true;
    try {
      add(ISO_GROUP);
    } finally {
      this.isoBuilding = false;
    }
    if (this.isoN !== count) throw new Error(`runGroup: ${count - this.isoN} of ${count} flows were not started by add()`);
    this.sim.scheduleRaw(Math.ceil(this.analyticRecords(now)) - now, onDone, 0, "network.delivered");
  }

  private readonly aRoute = new Int32Array(MAX_ROUTE);

  /** aLoad / aTouched as large as the link arrays (the analytic model's per-group scratch). */
  private loadScratch(): void {
    if (this.aLoad.length < this.linkCap.length) {
      this.aLoad = new Float64Array(this.linkCap.length);
      this.aTouched = new Int32Array(this.linkCap.length);
    }
  }

  /** Each link a group loaded (aTouched[0..nt)) drains its load after what was queued before: aLoad becomes when it is through. */
  private drainTouched(nt: number, now: number): void {
    const load = this.aLoad;
    const touched = this.aTouched;
    for (let x = 0; x < nt; x++) {
      const l = touched[x];
      load[l] = this.drain(l, now, load[l]);
    }
  }

  /**
   * analyticRecords for an all-to-all, straight from its table, link by link (AnalyticLinks): the
   * same link loads (summed in pair order), drains and counters, and the same last delivery (the
   * maximum over flows of their slowest link's end plus their latency is the maximum over links
   * of the link's end plus its sending pairs' longest latency: rounding is monotone), in
   * O(pairs x route length) sequential reads instead of two scattered passes. No records
   * written. All-to-all flows have no rate cap of their own.
   */
  private analyticTable(t: PairRoutes, sizes: ArrayLike<number>, count: number, now: number): number {
    const tr = this.ratesOf(t);
    const al = this.linksOf(t, tr);
    const lat = tr.lat;
    const links = al.links;
    const start = al.start;
    const pairs = al.pairs;
    const byLat = al.byLat;
    let deliver = now;
    // Link by link: its load (the bytes of its pairs, summed in pair order as a pass over the
    // pairs would), drained after what was queued there before. A flow ends when the last link
    // on its route has drained and is delivered its route's latency later, so the last delivery
    // is, over the loaded links, the link's end plus the longest latency among its pairs that send.
    for (let i = 0; i < links.length; i++) {
      const a = start[i];
      const b = start[i + 1];
      let load = 0;
      for (let x = a; x < b; x++) load += sizes[pairs[x]];
      if (!(load > 0)) continue;
      const end = this.drain(links[i], now, load);
      let x = a;
      while (!(sizes[byLat[x]] > 0)) x++;
      const at = end + lat[byLat[x]];
      if (at > deliver) deliver = at;
    }
    const sent = this.sentBytes;
    const received = this.receivedBytes;
    const delivered = this.deliveredBytes;
    const nn = t.n * t.n;
    for (let p = 0; p < nn; p++) {
      const b = sizes[p];
      if (!(b > 0)) continue;
      sent[t.src[p]] += b;
      received[t.dst[p]] += b;
      delivered[t.dst[p]] += b;
    }
    this.flowsDone += count;
    return deliver;
  }

  /**
   * The analytic model over the records 0..isoN: each link drains the records' bytes on it at its
   * capacity, after what earlier traffic queued there (from now if the link is free); a flow ends
   * when the last link on its route has drained (and no sooner than its own rate cap allows) and
   * is delivered its route's latency later. Counts link, endpoint and flow counters; returns when
   * the last flow is delivered.
   */
  private analyticRecords(now: number): number {
    const n = this.isoN;
    this.loadScratch();
    const load = this.aLoad;
    const touched = this.aTouched;
    let nt = 0;
    const route = this.isoRoute;
    const len = this.isoLen;
    const bytes = this.isoBytes;
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
    this.drainTouched(nt, now);
    const linkLat = this.linkLat;
    const maxRate = this.isoMaxRate;
    const logical = this.isoLogical;
    const src = this.isoSrc;
    const dst = this.isoDst;
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

  /** Room for n records, keeping those written. */
  private growIso(n: number): void {
    this.isoRoute = grown(this.isoRoute, n * MAX_ROUTE);
    this.isoLen = grown(this.isoLen, n);
    this.isoBytes = grown(this.isoBytes, n);
    this.isoLogical = grown(this.isoLogical, n);
    this.isoMaxRate = grown(this.isoMaxRate, n);
    this.isoSrc = grown(this.isoSrc, n);
    this.isoDst = grown(this.isoDst, n);
  }

  /** Appends a flow to the records, growing them as needed. */
  private pushIso(route: ArrayLike<number>, len: number, bytes: number, logical: number, maxRate: number, src: number, dst: number): void {
    const i = this.isoN++;
    if (i === this.isoLen.length) this.growIso(2 * i);
    for (let k = 0; k < len; k++) this.isoRoute[i * MAX_ROUTE + k] = route[k];
    this.isoLen[i] = len;
    this.isoBytes[i] = bytes;
    this.isoLogical[i] = logical;
    this.isoMaxRate[i] = maxRate;
    this.isoSrc[i] = src;
    this.isoDst[i] = dst;
  }

  /** Records a flow of the fast group being built, noting whether it shares a link with an earlier one. */
  private recordIso(route: ArrayLike<number>, len: number, bytes: number, logical: number, maxRate: number, src: number, dst: number): void {
    this.pushIso(route, len, bytes, logical, maxRate, src, dst);
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
    this.groups[id]!.deliverAt = this.isoDeliver;
    for (let i = 0; i < this.nActive; i++) this.fGroup[this.active[i]] = id;
  }

  /**
   * Max-min fair rates by progressive filling, for the flows connected (through shared links) to a
   * link whose flows changed since the last recomputation; other flows keep their rates.
   */
  private solve(now: number): void {
    this.solves++;
    // The affected components: search from the dirty links over link -> flows -> links.
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
    const fRoute = this.fRoute;
    const fLen = this.fRouteLen;
    const la = this.linkActive;
    while (top > 0) {
      const l = stack[--top];
      const cnt = la[l];
      if (cnt === 0) continue;
      compL[nL++] = l;
      const list = this.linkFlows[l];
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
    this.solvedFlows += nF;
    if (nF === 0) return;
    // Bring the component's flows to now at their old rates.
    const rate = this.fRate;
    const rem = this.fRemaining;
    const since = this.fSince;
    const frozen = this.fFrozen;
    for (let i = 0; i < nF; i++) {
      const f = comp[i];
      rem[f] -= rate[f] * (now - since[f]);
      since[f] = now;
      frozen[f] = 0;
    }
    const remCap = this.remCap;
    const unf = this.unfrozen;
    const nLinks = this.nLinks;
    const heap = this.heap;
    heap.clear();
    for (let i = 0; i < nL; i++) {
      const l = compL[i];
      remCap[l] = this.linkCap[l];
      unf[l] = la[l];
      heap.push(remCap[l] / unf[l], l);
    }
    const maxRate = this.fMaxRate;
    for (let i = 0; i < nF; i++) {
      const f = comp[i];
      if (maxRate[f] !== Infinity) heap.push(maxRate[f], nLinks + f);
    }
    let left = nF;
    while (heap.size > 0 && left > 0) {
      const key = heap.keys[0];
      const id = heap.ids[0];
      heap.pop();
      if (id >= nLinks) {
        const f = id - nLinks;
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
      const list = this.linkFlows[l];
      const cnt = la[l];
      for (let j = 0; j < cnt; j++) {
        const f = list[j];
        if (frozen[f] === 1) continue;
        this.freeze(f, share);
        left--;
      }
    }
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
      if (rebuild) dh.append(now + rem[f] / rate[f], f, t);
      else dh.push(now + rem[f] / rate[f], f, t);
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

/** Per pair of a table: its route's minimum capacity and latency (a class, not a literal: see PairTable). */
class TableRates {
  declare readonly rate: Float64Array;
  declare readonly lat: Float64Array;
  /** For the analytic model (built on first use): the links the table's routes use, and per link its pairs. */
  declare links: AnalyticLinks | null;
  constructor(nn: number) {
    this.rate = new Float64Array(nn);
    this.lat = new Float64Array(nn);
    this.links = null;
  }
}

/**
 * A table's pairs by link, for the analytic model: links[i] is the i-th distinct link of the
 * routes (in pair order), its pairs are pairs[start[i] .. start[i + 1]) in increasing pair order,
 * and byLat[start[i] ..) are the same pairs from the longest route latency down.
 */
class AnalyticLinks {
  declare readonly links: Int32Array;
  declare readonly start: Int32Array;
  declare readonly pairs: Int32Array;
  declare readonly byLat: Int32Array;
  constructor(t: PairRoutes, lat: Float64Array, nLinks: number) {
    const nn = t.n * t.n;
    const index = new Int32Array(nLinks).fill(-1);
    const order: number[] = [];
    const count: number[] = [];
    for (let p = 0; p < nn; p++) {
      for (let k = p * MAX_ROUTE, end = k + t.len[p]; k < end; k++) {
        const l = t.route[k];
        if (index[l] < 0) {
          index[l] = order.length;
          order.push(l);
          count.push(0);
        }
        count[index[l]]++;
      }
    }
    this.links = Int32Array.from(order);
    this.start = new Int32Array(order.length + 1);
    for (let i = 0; i < order.length; i++) this.start[i + 1] = this.start[i] + count[i];
    this.pairs = new Int32Array(this.start[order.length]);
    const fill = this.start.slice(0, order.length);
    for (let p = 0; p < nn; p++) {
      for (let k = p * MAX_ROUTE, end = k + t.len[p]; k < end; k++) this.pairs[fill[index[t.route[k]]]++] = p;
    }
    this.byLat = this.pairs.slice();
    for (let i = 0; i < order.length; i++) {
      const seg = Array.from(this.byLat.subarray(this.start[i], this.start[i + 1])).sort((a, b) => lat[b] - lat[a] || a - b);
      this.byLat.set(seg, this.start[i]);
    }
  }
}

/**
 * PairRoutes as a class rather than an object literal: a second literal would store new arrays
 * into fields V8 had seen written once, marking them mutable and deoptimising the all-to-all code
 * that read them (once per process, in its second simulation).
 */
class PairTable implements PairRoutes {
  declare n: number;
  declare route: Int32Array;
  declare len: Int32Array;
  declare src: Int32Array;
  declare dst: Int32Array;
  declare disjoint: boolean;
  constructor(n: number) {
    this.n = n;
    this.route = new Int32Array(n * n * MAX_ROUTE);
    this.len = new Int32Array(n * n);
    this.src = new Int32Array(n * n);
    this.dst = new Int32Array(n * n);
    this.disjoint = true;
  }
}

/**
 * The PairRoutes of a group: route(src, dst, r) writes the links from endpoint src to dst into r
 * and returns how many. disjoint is found by stamping every link of every pair's route.
 */
export function pairRoutes(group: readonly number[], route: (src: number, dst: number, r: Int32Array) => number): PairRoutes {
  const n = group.length;
  const t = new PairTable(n);
  const r = new Int32Array(MAX_ROUTE);
  const used = new Set<number>();
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const p = i * n + j;
      const k = route(group[i], group[j], r);
      if (k > MAX_ROUTE) throw new Error(`route of ${k} links exceeds ${MAX_ROUTE}`);
      t.len[p] = k;
      t.src[p] = group[i];
      t.dst[p] = group[j];
      for (let x = 0; x < k; x++) {
        t.route[p * MAX_ROUTE + x] = r[x];
        if (used.has(r[x])) t.disjoint = false;
        used.add(r[x]);
      }
    }
  }
  return t;
}

/**
 * Sorts ids[0..n) by key[id] ascending (ties keep no particular order: callers' keys are distinct or
 * their order among equal keys does not matter): insertion sort for short runs, no comparator
 * closure per call; a comparator sort beyond 32.
 */
function sortIdsByKey(ids: number[] | Int32Array, n: number, key: ArrayLike<number>): void {
  if (n > 32) {
    const head = ids instanceof Int32Array ? ids.subarray(0, n) : ids;
    head.sort((a, b) => key[a] - key[b]);
    return;
  }
  for (let i = 1; i < n; i++) {
    const id = ids[i];
    const k = key[id];
    let j = i - 1;
    while (j >= 0 && key[ids[j]] > k) {
      ids[j + 1] = ids[j];
      j--;
    }
    ids[j + 1] = id;
  }
}
