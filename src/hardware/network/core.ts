/**
 * What every network model shares: the NetworkModel interface (the calls Cluster and the
 * collectives make), and NetworkCore, its links, per-link and per-endpoint counters, completion
 * groups and flow records. Two models implement it: FlowNetwork (flow.ts, max-min fair flows on
 * the engine's clock) and AnalyticNetwork (analytic.ts, links that drain bytes first come first
 * served). Cluster picks one when it is built.
 */
import type { Simulation } from "../../sim/engine.js";
import { grown } from "../../util/arrays.js";
import type { ProductSizes } from "./product-sizes.js";
import { FlowRecords } from "./records.js";
import { MAX_ROUTE, PairsByLink, TableRates, type LinkKind, type PairRoutes } from "./routes.js";

export interface LinkStat {
  link: string;
  kind: LinkKind;
  bytes: number;
  busyNs: number;
}

/** A network on the engine: links, flows over routes of links, groups of flows that complete together. */
export interface NetworkModel {
  readonly sim: Simulation;
  readonly linkNames: string[];
  readonly linkKinds: LinkKind[];
  readonly linkCount: number;
  /** Bytes carried per link id (by completed flows): linkStats' bytes, read in place. */
  readonly linkBytes: Float64Array;
  /** Bytes sent / received per endpoint (network-level, counted when a flow's last byte leaves). */
  readonly sentBytes: Float64Array;
  readonly receivedBytes: Float64Array;
  /** Bytes delivered to their final destination per endpoint (excludes bytes a node only forwards). */
  readonly deliveredBytes: Float64Array;
  /** Flows completed so far. */
  readonly flowsDone: number;
  /** Recomputations of the fair shares so far (0 where the model has none). */
  readonly solves: number;
  /** Flows whose rates were recomputed, summed over recomputations. */
  readonly solvedFlows: number;
  /** Adds a link; returns its id. */
  addLink(name: string, kind: LinkKind, bandwidthBytesPerS: number, latencyNs: number): number;
  linkLatencyNs(id: number): number;
  linkBandwidthBytesPerS(id: number): number;
  /** Per-link bytes carried (by completed flows) and time with traffic. */
  linkStats(): LinkStat[];
  /** A completion group: `onDone` runs once `count` flows have been delivered (at once if count is 0). */
  group(count: number, onDone: () => void): number;
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
    logical?: number,
    maxRateBytesPerS?: number,
  ): void;
  /** A group of `count` flows that `add(group)` starts (startFlow with that group id, now); onDone once all arrived. */
  runGroup(count: number, onDone: () => void, add: (group: number) => void): void;
  /** An all-to-all over precomputed routes: member i sends sizes[i * n + j] bytes to member j. */
  runAllToAll(t: PairRoutes, sizes: ArrayLike<number>, onDone: () => void): void;
  /** runAllToAll for sizes its caller has checked: `count` nonzero, `whole` when all are whole numbers. */
  runAllToAllChecked(t: PairRoutes, sizes: ArrayLike<number>, count: number, whole: boolean, onDone: () => void): void;
  /**
   * An all-to-all of product sizes, `count` of them > 0 (ProductSizes.checkedCount), where the model computes them
   * without the dense matrix (the analytic model); absent where it does not.
   */
  runAllToAllProduct?(t: PairRoutes, sizes: ProductSizes, count: number, onDone: () => void): void;
  /** Readies the model for all-to-alls over t (optional; same results). */
  prepareTable(t: PairRoutes): void;
}

interface Group {
  left: number;
  deliverAt: number;
  onDone: () => void;
}

export abstract class NetworkCore {
  // ---- links ----
  nLinks = 0;
  linkCap = new Float64Array(64); // bytes per ns
  linkLat = new Float64Array(64);
  linkBytes = new Float64Array(64);
  linkBusy = new Float64Array(64);
  readonly linkNames: string[] = [];
  readonly linkKinds: LinkKind[] = [];

  // ---- groups ----
  private groups: Array<Group | null> = [];
  private freeGroups: number[] = [];

  /** The flows of the group being computed at once (fast path, analytic model). */
  readonly rec = new FlowRecords();
  private readonly tableRates = new WeakMap<PairRoutes, TableRates>();

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
      this.linksGrown(n);
    }
    this.linkCap[id] = bandwidthBytesPerS / 1e9;
    this.linkLat[id] = latencyNs;
    this.linkNames.push(name);
    this.linkKinds.push(kind);
    this.linkAdded(id);
    return id;
  }

  /** The per-link arrays now have room for n links: a model grows its own. */
  protected abstract linksGrown(n: number): void;
  /** Link id was added (its capacity and latency set). */
  protected abstract linkAdded(id: number): void;
  /** Busy time of link l not yet counted in linkBusy (traffic still on it at `now`). */
  protected abstract openBusyNs(l: number, now: number): number;

  linkLatencyNs(id: number): number {
    return this.linkLat[id];
  }
  linkBandwidthBytesPerS(id: number): number {
    return this.linkCap[id] * 1e9;
  }

  /** Per-link bytes carried (by completed flows) and time with at least one active flow. */
  linkStats(): LinkStat[] {
    const now = this.sim.now;
    const out = [];
    for (let l = 0; l < this.nLinks; l++) {
      const busy = this.linkBusy[l] + this.openBusyNs(l, now);
      out.push({ link: this.linkNames[l], kind: this.linkKinds[l], bytes: this.linkBytes[l], busyNs: busy });
    }
    return out;
  }

  /** A completion group: `onDone` runs once `count` flows have been delivered (at once, now, if count is 0). */
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

  /** A flow of `group` (>= 0; others are ignored) is delivered at `deliverAt`; the group's last schedules onDone. */
  protected deliver(group: number, deliverAt: number, now: number): void {
    if (group < 0) return;
    const g = this.groups[group]!;
    if (deliverAt > g.deliverAt) g.deliverAt = deliverAt;
    if (--g.left === 0) {
      this.groups[group] = null;
      this.freeGroups.push(group);
      this.sim.scheduleRaw(Math.ceil(g.deliverAt) - now, g.onDone, 0, "network.delivered");
    }
  }

  /** An ordinary group (from group()) takes over flows already delivered up to `deliverAt`. */
  protected setDeliverAt(group: number, deliverAt: number): void {
    this.groups[group]!.deliverAt = deliverAt;
  }

  /** Checks a flow's size and route length. */
  protected checkFlow(bytes: number, len: number): void {
    if (!(bytes >= 0) || !Number.isFinite(bytes)) {
      throw new Error(`flow size must be a finite number >= 0, got ${bytes}`);
    }
    if (len > MAX_ROUTE) throw new Error(`route of ${len} links exceeds ${MAX_ROUTE}`);
  }

  /** Per pair of a table: its route's minimum capacity (bytes per ns) and latency, computed once per table. */
  ratesOf(t: PairRoutes): TableRates {
    let r = this.tableRates.get(t);
    if (r === undefined) {
      r = new TableRates(t, this.linkCap, this.linkLat);
      this.tableRates.set(t, r);
    }
    return r;
  }

  /** A table's pairs by link (routes.ts), built on first use and kept with its rates. */
  linksOf(t: PairRoutes, tr: TableRates = this.ratesOf(t)): PairsByLink {
    return (tr.links ??= new PairsByLink(t, tr.lat, this.nLinks));
  }
}
