/**
 * A cluster on the engine: GPUs with memory pools, the links between them (NVLink through an
 * NVSwitch or a point-to-point mesh, PCIe switches shared by GPUs and NICs, host memory, NICs and
 * an optional oversubscribed fabric), routes over those links, and the collectives of
 * src/hardware/collectives started on its network model (src/hardware/network).
 *
 * Links per node (capacity per direction; "up" = away from the GPU):
 *   nvUp[g], nvDown[g]           NVLink port into the NVSwitch          (switch topology)
 *   nv[a->b]                     one per ordered GPU pair, bw / (G - 1)  (p2p topology)
 *   nv[a->b]                     one per directly linked pair, links x link bw (mesh topology; a
 *                                pair without a direct link is relayed by a GPU: nvlink-mesh.ts)
 *   pcieUp[g], pcieDown[g]       GPU <-> its PCIe switch (d2h / h2d rate, carries the PCIe latency)
 *   swUp[s], swDown[s]           PCIe switch <-> CPU root complex (shared by its GPUs and NICs)
 *   mem                          host memory (both directions)
 *   hbm[g]                       a GPU's copy to itself (HBM bandwidth / 2: read + write)
 *   nicTx[i], nicRx[i]           NIC into / out of the fabric (carries the NIC latency)
 *   fabUp, fabDown               node <-> fabric, only when a fat-tree fabric is described
 *                                (perNode x NIC bandwidth / oversubscription, fabric latency)
 * and per rail of a rail fabric whose cross-rail traffic goes through a spine (cluster-wide):
 *   railUp[r], railDown[r]       rail switch r <-> spine (nodes x NIC bandwidth / oversubscription,
 *                                fabric latency)
 * A rail fabric routes NIC i to NIC i of another node through rail switch i alone (no fabric link);
 * a transfer between rails goes up and down the spine ("spine") or first over NVLink to the GPU of
 * its node on the destination's rail and out of that GPU's NIC ("pxn", NCCL's PXN).
 */
import type { Simulation } from "../sim/engine.js";
import { secondsToNs } from "../sim/time.js";
import { RooflineCostModel, type CostModel } from "./cost.js";
import type { ClusterSpec } from "./devices.js";
import { MemoryPool } from "./memory.js";
import { nvlinkPairBandwidth, nvlinkRelays } from "./nvlink-mesh.js";
import {
  allToAllAlgorithm,
  flatAllToAll,
  hierarchicalAllToAll,
  ringAllGather,
  ringAllReduce,
  type CollectiveContext,
  type TokenRoutes,
} from "./collectives/index.js";
import {
  AnalyticNetwork,
  FlowNetwork,
  MAX_ROUTE,
  pairRoutes,
  ProductSizes,
  type LinkKind,
  type NetworkModel as Network,
  type PairRoutes,
} from "./network/index.js";

export type Endpoint = { gpu: number } | { host: number };

export interface ClusterOptions {
  cost?: CostModel;
  /** Record each memory pool's timeline (default true). */
  recordTimeline?: boolean;
  /**
   * Compute a collective that starts on an idle network at once (FlowNetwork.runGroup's fast
   * path; same results); false runs every collective event by event (default true). Flow model only.
   */
  fastCollectives?: boolean;
  /**
   * "flow" (default): flows share links max-min fairly, recomputed as flows start and end.
   * "analytic": every link serves bytes at its capacity, first come first served, a collective or
   * copy ends when the last link on its route is through (AnalyticNetwork); much faster on
   * large clusters, a lower bound on the flow model's times for a collective alone.
   */
  networkModel?: NetworkModel;
}

export type NetworkModel = "flow" | "analytic";

export interface AllToAllOptions {
  /** Two phases across nodes: intra-node exchange over NVLink, then same-local-rank exchange over NICs. */
  hierarchical?: boolean;
  /**
   * The algorithm by its registered name (nccl, hierarchical, deepep-normal, deepep-low-latency;
   * src/hardware/collectives); overrides `hierarchical`. One that does not apply to the group runs flat.
   */
  algorithm?: string;
  /** Per-token destinations, for the algorithms that deduplicate per token (deepep-*). */
  routes?: TokenRoutes;
}

interface NodeLinks {
  nvUp: number[];
  nvDown: number[];
  /** p2p: nvPair[a * G + b] */
  nvPair: number[];
  pcieUp: number[];
  pcieDown: number[];
  swUp: number[];
  swDown: number[];
  mem: number;
  nicTx: number[];
  nicRx: number[];
  /** HBM per GPU: carries a GPU's copies to itself (the local chunk of an all-to-all), read + write. */
  hbm: number[];
  fabUp: number;
  fabDown: number;
}

export class Cluster implements CollectiveContext {
  readonly gpuCount: number;
  readonly cost: CostModel;
  /** The network model, chosen when the cluster is built (options.networkModel). */
  readonly net: Network;
  private readonly G: number;
  private readonly pools: MemoryPool[];
  private readonly nodeLinks: NodeLinks[] = [];
  private readonly scratch = new Int32Array(MAX_ROUTE);
  private readonly collectiveOverheadNs: number;
  private readonly switches: number;
  /** Rail fabric: spine links per rail (cross_rail "spine"); empty otherwise. */
  private readonly railUp: number[] = [];
  private readonly railDown: number[] = [];
  private readonly rail: boolean;
  private readonly pxn: boolean;
  /** p2p / mesh NVLink: the GPU relaying each ordered pair without a direct link (-1: direct). */
  private nvRelay: Int32Array | null = null;
  private groupSeen: Int32Array;
  private groupMark = 0;

  constructor(
    readonly sim: Simulation,
    readonly spec: ClusterSpec,
    opts: ClusterOptions = {},
  ) {
    const node = spec.node;
    this.G = node.gpusPerNode;
    this.gpuCount = spec.nodes * this.G;
    this.cost =
      opts.cost ??
      new RooflineCostModel(node.gpu, {
        h2dBytesPerS: node.pcie.h2dPinnedBytesPerS,
        d2hBytesPerS: node.pcie.d2hBytesPerS,
      });
    this.collectiveOverheadNs = node.collectiveOverheadNs ?? node.gpu.launchOverheadNs;
    this.switches = Math.ceil(this.G / node.pcie.gpusPerSwitch);
    this.rail = spec.fabric?.kind === "rail";
    this.pxn = this.rail && spec.fabric?.crossRail === "pxn";
    const clock = (): number => sim.now;
    this.pools = [];
    for (let g = 0; g < this.gpuCount; g++) {
      this.pools.push(
        new MemoryPool(`node${this.nodeOf(g)}/gpu${g % this.G}`, node.gpu.hbmBytes, clock, opts.recordTimeline ?? true),
      );
    }
    const endpoints = this.gpuCount + spec.nodes;
    if (opts.networkModel === "analytic") {
      this.net = new AnalyticNetwork(sim, endpoints);
    } else {
      const flow = new FlowNetwork(sim, endpoints);
      flow.fastGroups = opts.fastCollectives ?? true;
      this.net = flow;
    }
    this.groupSeen = new Int32Array(this.gpuCount);
    this.buildLinks();
  }

  private buildLinks(): void {
    const { node, nodes, fabric } = this.spec;
    const G = this.G;
    const net = this.net;
    const add = (name: string, kind: LinkKind, bw: number, lat: number): number => net.addLink(name, kind, bw, lat);
    for (let n = 0; n < nodes; n++) {
      const p = `node${n}`;
      const L: NodeLinks = {
        nvUp: [],
        nvDown: [],
        nvPair: [],
        pcieUp: [],
        pcieDown: [],
        swUp: [],
        swDown: [],
        mem: -1,
        nicTx: [],
        nicRx: [],
        hbm: [],
        fabUp: -1,
        fabDown: -1,
      };
      for (let g = 0; g < G; g++) L.hbm.push(add(`${p}/gpu${g}/hbm`, "memory", node.gpu.hbmBytesPerS / 2, 0));
      if (node.nvlink !== null && G > 1) {
        const bw = node.nvlink.bandwidthBytesPerS * (node.nvlink.efficiency ?? 1);
        if (node.nvlink.topology === "switch") {
          for (let g = 0; g < G; g++) {
            L.nvUp.push(add(`${p}/gpu${g}/nvlink-up`, "nvlink", bw, node.nvlink.latencyNs));
            L.nvDown.push(add(`${p}/gpu${g}/nvlink-down`, "nvlink", bw, 0));
          }
        } else {
          const pairBw = nvlinkPairBandwidth(node.nvlink, G);
          this.nvRelay ??= nvlinkRelays(node.nvlink, G);
          for (let i = 0; i < G * G; i++) {
            const [a, b] = [Math.floor(i / G), i % G];
            const lat = node.nvlink.latencyNs;
            L.nvPair.push(pairBw[i] > 0 ? add(`${p}/nvlink-${a}-${b}`, "nvlink", pairBw[i], lat) : -1);
          }
        }
      }
      for (let g = 0; g < G; g++) {
        L.pcieUp.push(add(`${p}/gpu${g}/pcie-up`, "pcie", node.pcie.d2hBytesPerS, node.pcie.latencyNs));
        L.pcieDown.push(add(`${p}/gpu${g}/pcie-down`, "pcie", node.pcie.h2dPinnedBytesPerS, node.pcie.latencyNs));
      }
      for (let s = 0; s < this.switches; s++) {
        L.swUp.push(add(`${p}/pcie-switch${s}-up`, "pcie", node.pcie.d2hBytesPerS, 0));
        L.swDown.push(add(`${p}/pcie-switch${s}-down`, "pcie", node.pcie.h2dPinnedBytesPerS, 0));
      }
      L.mem = add(`${p}/host-memory`, "memory", node.cpuMemoryBytesPerS, 0);
      if (nodes > 1) {
        for (let i = 0; i < node.nic.perNode; i++) {
          L.nicTx.push(add(`${p}/nic${i}-tx`, "nic", node.nic.bandwidthBytesPerS, node.nic.latencyNs));
          L.nicRx.push(add(`${p}/nic${i}-rx`, "nic", node.nic.bandwidthBytesPerS, 0));
        }
        if (fabric !== undefined && !this.rail) {
          const bw = (node.nic.perNode * node.nic.bandwidthBytesPerS) / (fabric.oversubscription ?? 1);
          L.fabUp = add(`${p}/fabric-up`, "fabric", bw, fabric.latencyNs ?? 0);
          L.fabDown = add(`${p}/fabric-down`, "fabric", bw, 0);
        }
      }
      this.nodeLinks.push(L);
    }
    if (fabric !== undefined && this.rail && !this.pxn && nodes > 1) {
      const bw = (nodes * node.nic.bandwidthBytesPerS) / (fabric.oversubscription ?? 1);
      for (let r = 0; r < node.nic.perNode; r++) {
        this.railUp.push(add(`rail${r}/spine-up`, "fabric", bw, fabric.latencyNs ?? 0));
        this.railDown.push(add(`rail${r}/spine-down`, "fabric", bw, 0));
      }
    }
  }

  nodeOf(gpu: number): number {
    this.checkGpu(gpu);
    return Math.floor(gpu / this.G);
  }
  memory(gpu: number): MemoryPool {
    this.checkGpu(gpu);
    return this.pools[gpu];
  }
  private checkGpu(gpu: number): void {
    if (!Number.isInteger(gpu) || gpu < 0 || gpu >= this.gpuCount) {
      throw new Error(`GPU index ${gpu} out of range 0..${this.gpuCount - 1}`);
    }
  }

  private nicOf(local: number): number {
    return Math.floor((local * this.spec.node.nic.perNode) / this.G);
  }
  private switchOfGpu(local: number): number {
    return Math.floor(local / this.spec.node.pcie.gpusPerSwitch);
  }
  private switchOfNic(nic: number): number {
    return Math.floor((nic * this.switches) / this.spec.node.nic.perNode);
  }
  private endpointIndex(e: Endpoint): number {
    if ("gpu" in e) {
      this.checkGpu(e.gpu);
      return e.gpu;
    }
    if (!Number.isInteger(e.host) || e.host < 0 || e.host >= this.spec.nodes) {
      throw new Error(`host (node) index ${e.host} out of range 0..${this.spec.nodes - 1}`);
    }
    return this.gpuCount + e.host;
  }

  /**
   * Routes between the endpoints of small clusters (<= 64 endpoints), memoised: a route is a pure
   * function of the two endpoints and the topology. routeLen -1: not computed yet.
   */
  private routeMemo: Int32Array | null = null;
  private routeLen: Int8Array | null = null;

  /** Writes the route between two endpoint indices into r; returns its length. */
  route(src: number, dst: number, r: Int32Array): number {
    const nEnd = this.gpuCount + this.spec.nodes;
    if (nEnd > 64) return this.computeRoute(src, dst, r);
    if (this.routeLen === null) {
      this.routeLen = new Int8Array(nEnd * nEnd).fill(-1);
      this.routeMemo = new Int32Array(nEnd * nEnd * MAX_ROUTE);
    }
    const p = src * nEnd + dst;
    const memo = this.routeMemo!;
    let k = this.routeLen[p];
    if (k < 0) {
      k = this.routeLen[p] = this.computeRoute(src, dst, r);
      for (let i = 0; i < k; i++) memo[p * MAX_ROUTE + i] = r[i];
      return k;
    }
    for (let i = 0; i < k; i++) r[i] = memo[p * MAX_ROUTE + i];
    return k;
  }

  private computeRoute(src: number, dst: number, r: Int32Array): number {
    const G = this.G;
    const srcHost = src >= this.gpuCount;
    const dstHost = dst >= this.gpuCount;
    const sn = srcHost ? src - this.gpuCount : Math.floor(src / G);
    const dn = dstHost ? dst - this.gpuCount : Math.floor(dst / G);
    const sl = src % G;
    const dl = dst % G;
    const S = this.nodeLinks[sn];
    const D = this.nodeLinks[dn];
    let k = 0;
    if (sn === dn) {
      if (src === dst && !srcHost) {
        r[k++] = S.hbm[sl];
      } else if (srcHost && dstHost) {
        r[k++] = S.mem;
      } else if (srcHost) {
        r[k++] = S.mem;
        r[k++] = S.swDown[this.switchOfGpu(dl)];
        r[k++] = S.pcieDown[dl];
      } else if (dstHost) {
        r[k++] = S.pcieUp[sl];
        r[k++] = S.swUp[this.switchOfGpu(sl)];
        r[k++] = S.mem;
      } else if (S.nvUp.length > 0) {
        r[k++] = S.nvUp[sl];
        r[k++] = S.nvDown[dl];
      } else if (S.nvPair.length > 0) {
        k = this.nvPairHops(S, sl, dl, r, k);
      } else {
        const ss = this.switchOfGpu(sl);
        const ds = this.switchOfGpu(dl);
        r[k++] = S.pcieUp[sl];
        if (ss !== ds) {
          r[k++] = S.swUp[ss];
          r[k++] = S.swDown[ds];
        }
        r[k++] = S.pcieDown[dl];
      }
      return k;
    }
    // Across nodes: source side to its NIC, NIC, fabric, NIC, destination side.
    let sNic = srcHost ? 0 : this.nicOf(sl);
    let dNic = dstHost ? 0 : this.nicOf(dl);
    if (this.rail && srcHost !== dstHost) {
      // a host reaches any of its node's NICs over PCIe: it takes the one on the GPU's rail
      if (srcHost) sNic = dNic;
      else dNic = sNic;
    }
    if (this.pxn && sNic !== dNic) {
      k = this.pxnHop(S, sl, dNic, r);
      sNic = dNic;
    } else if (srcHost) {
      r[k++] = S.mem;
      r[k++] = S.swDown[this.switchOfNic(sNic)];
    } else {
      r[k++] = S.pcieUp[sl];
      const ss = this.switchOfGpu(sl);
      const ns = this.switchOfNic(sNic);
      if (ss !== ns) {
        r[k++] = S.swUp[ss];
        r[k++] = S.swDown[ns];
      }
    }
    r[k++] = S.nicTx[sNic];
    if (S.fabUp >= 0) {
      r[k++] = S.fabUp;
      r[k++] = D.fabDown;
    } else if (this.railUp.length > 0 && sNic !== dNic) {
      r[k++] = this.railUp[sNic];
      r[k++] = this.railDown[dNic];
    }
    r[k++] = D.nicRx[dNic];
    if (dstHost) {
      r[k++] = D.swUp[this.switchOfNic(dNic)];
      r[k++] = D.mem;
    } else {
      const ds = this.switchOfGpu(dl);
      const ns = this.switchOfNic(dNic);
      if (ds !== ns) {
        r[k++] = D.swUp[ns];
        r[k++] = D.swDown[ds];
      }
      r[k++] = D.pcieDown[dl];
    }
    return k;
  }

  /**
   * PXN (NCCL 2.12+): GPU sl of a node reaches NIC `nic` of another rail through the node's GPU on
   * that rail: NVLink to it (PCIe when the node has no NVLink), then from it over PCIe to the NIC.
   * Writes those links into r from 0; returns their count (the NIC's own link follows).
   */
  private pxnHop(S: NodeLinks, sl: number, nic: number, r: Int32Array): number {
    let p = 0;
    while (this.nicOf(p) !== nic) p++;
    let k = 0;
    let from = sl;
    if (S.nvUp.length > 0) {
      r[k++] = S.nvUp[sl];
      r[k++] = S.nvDown[p];
      from = p;
    } else if (S.nvPair.length > 0) {
      k = this.nvPairHops(S, sl, p, r, k);
      from = p;
    }
    r[k++] = S.pcieUp[from];
    const gs = this.switchOfGpu(from);
    const ns = this.switchOfNic(nic);
    if (gs !== ns) {
      r[k++] = S.swUp[gs];
      r[k++] = S.swDown[ns];
    }
    return k;
  }

  /** GPU a to GPU b over a point-to-point NVLink mesh: the direct link, or two hops through the relay GPU. */
  private nvPairHops(S: NodeLinks, a: number, b: number, r: Int32Array, k: number): number {
    const G = this.G;
    const v = this.nvRelay![a * G + b];
    if (v < 0) {
      r[k++] = S.nvPair[a * G + b];
    } else {
      r[k++] = S.nvPair[a * G + v];
      r[k++] = S.nvPair[v * G + b];
    }
    return k;
  }

  /** The links a transfer crosses, by name (for inspection and tests). */
  routeNames(src: Endpoint, dst: Endpoint): string[] {
    const r = new Int32Array(MAX_ROUTE);
    const k = this.route(this.endpointIndex(src), this.endpointIndex(dst), r);
    return Array.from(r.subarray(0, k), (l) => this.net.linkNames[l]);
  }

  /**
   * A point-to-point transfer; onDone runs when the last byte has arrived. A GPU to itself is a copy through its HBM
   * link.
   */
  transfer(src: Endpoint, dst: Endpoint, bytes: number, onDone: () => void): void {
    const s = this.endpointIndex(src);
    const d = this.endpointIndex(dst);
    const k = this.route(s, d, this.scratch);
    this.net.startFlow(this.scratch, k, bytes, this.net.group(1, onDone), s, d);
  }

  /** Copies `bytes` from the GPU's node's host memory to the GPU (pageable copies are capped at the pageable rate). */
  hostToDevice(gpu: number, bytes: number, onDone: () => void, opts: { pinned?: boolean } = {}): void {
    const s = this.gpuCount + this.nodeOf(gpu);
    const k = this.route(s, gpu, this.scratch);
    const cap = opts.pinned === false ? this.spec.node.pcie.h2dPageableBytesPerS : Infinity;
    this.net.startFlow(this.scratch, k, bytes, this.net.group(1, onDone), s, gpu, bytes, cap);
  }

  /** Copies `bytes` from the GPU to its node's host memory. */
  deviceToHost(gpu: number, bytes: number, onDone: () => void): void {
    const d = this.gpuCount + this.nodeOf(gpu);
    const k = this.route(gpu, d, this.scratch);
    this.net.startFlow(this.scratch, k, bytes, this.net.group(1, onDone), gpu, d);
  }

  private checkGroup(group: number[]): void {
    const seen = this.groupSeen;
    const mark = ++this.groupMark;
    for (let i = 0; i < group.length; i++) {
      const g = group[i];
      this.checkGpu(g);
      if (seen[g] === mark) throw new Error(`GPU ${g} appears twice in a collective group`);
      seen[g] = mark;
    }
  }

  /** After the per-op overhead, runs `start`. */
  private afterOverhead(start: () => void, overheadNs = this.collectiveOverheadNs): void {
    this.sim.scheduleRaw(overheadNs, start, 0, "cluster.collectiveLaunch");
  }

  /**
   * All-to-all: group member i sends sizes[i * n + j] bytes to member j (the diagonal is a local copy
   * through the GPU's HBM link, as NCCL does). Fixed-size all-to-all is the case of equal sizes.
   * Zero-size entries start no flow.
   */
  allToAll(
    group: number[],
    sizes: Float64Array | number[] | ProductSizes,
    onDone: () => void,
    opts: AllToAllOptions = {},
  ): void {
    const n = group.length;
    this.checkGroup(group);
    if (sizes instanceof ProductSizes) {
      // product sizes (a load-level MoE exchange): a network model with runAllToAllProduct takes them as they are
      if (sizes.n !== n) throw new Error(`allToAll: sizes are for ${sizes.n} members, expected ${n}`);
      const count = sizes.checkedCount();
      const named = opts.algorithm !== undefined ? allToAllAlgorithm(opts.algorithm) : null;
      const want = named ?? (opts.hierarchical ? hierarchicalAllToAll : flatAllToAll);
      const algo = want.applies(this, group) ? want : flatAllToAll;
      const net = this.net;
      if (algo === flatAllToAll && net.runAllToAllProduct !== undefined) {
        const ps = sizes;
        const run = () => net.runAllToAllProduct!(this.groupRoutes(group), ps, count, onDone);
        this.afterOverhead(run, algo.launchOverheadNs);
        return;
      }
      // the factors are checked (checkedCount); the matrix's own pass counts its sizes (a product can underflow to 0)
      const [dense, whole, nonzero] = sizes.denseWhole();
      this.startAllToAll(group, dense, nonzero, whole, onDone, opts);
      return;
    }
    if (sizes.length !== n * n)
      throw new Error(`allToAll: sizes has ${sizes.length} entries, expected ${n} x ${n} = ${n * n}`);
    // Checked here, at the call; the flat all-to-all takes the count from this pass.
    let count = 0;
    let whole = true;
    for (let i = 0; i < sizes.length; i++) {
      const b = sizes[i];
      if (!(b >= 0) || !Number.isFinite(b)) throw new Error(`allToAll: sizes[${i}] = ${b} is not a size in bytes`);
      if (b > 0) count++;
      if (b !== Math.floor(b)) whole = false;
    }
    this.startAllToAll(group, sizes, count, whole, onDone, opts);
  }

  /** allToAll's sizes, checked (`count` > 0, `whole` when all are whole numbers), on its algorithm. */
  private startAllToAll(
    group: number[],
    sizes: Float64Array | number[],
    count: number,
    whole: boolean,
    onDone: () => void,
    opts: AllToAllOptions,
  ): void {
    const named = opts.algorithm !== undefined ? allToAllAlgorithm(opts.algorithm) : null;
    const want = named ?? (opts.hierarchical ? hierarchicalAllToAll : flatAllToAll);
    const algo = want.applies(this, group) ? want : flatAllToAll;
    const routes = opts.routes;
    this.afterOverhead(() => algo.run(this, group, sizes, count, whole, onDone, routes), algo.launchOverheadNs);
  }

  private readonly routeFn = (s: number, d: number, r: Int32Array): number => this.route(s, d, r);
  /** The PairRoutes of the groups all-to-alls ran on, by array (checked against the members: arrays can change). */
  private readonly pairMemo = new WeakMap<readonly number[], MemoRoutes>();

  /**
   * Readies all-to-alls over `group` (the same array later passed to allToAll): its routes and the
   * network's per-group state are computed now instead of at the first all-to-all. Optional; the
   * results are the same either way.
   */
  prepareAllToAll(group: number[]): void {
    this.checkGroup(group);
    this.net.prepareTable(this.groupRoutes(group));
  }

  /** The routes between a group's members, computed once per group array. */
  groupRoutes(group: readonly number[]): PairRoutes {
    const hit = this.pairMemo.get(group);
    if (hit !== undefined && hit.members.length === group.length) {
      let same = true;
      for (let i = 0; i < group.length && same; i++) same = hit.members[i] === group[i];
      if (same) return hit.routes;
    }
    const routes = pairRoutes(group, this.routeFn);
    this.pairMemo.set(group, new MemoRoutes(Int32Array.from(group), routes));
    return routes;
  }

  /** Ring all-gather: n - 1 rounds of bytesPerRank per member. */
  allGather(group: number[], bytesPerRank: number, onDone: () => void): void {
    this.checkGroup(group);
    this.afterOverhead(() => ringAllGather(this, group, bytesPerRank, onDone));
  }

  /** Ring all-reduce of `bytes` per member: reduce-scatter then all-gather, 2 (n - 1) rounds of bytes / n. */
  allReduce(group: number[], bytes: number, onDone: () => void): void {
    this.checkGroup(group);
    this.afterOverhead(() => ringAllReduce(this, group, bytes, onDone));
  }

  /** Bytes carried per link so far and how long each had traffic. */
  linkTraffic(): Array<{ link: string; kind: LinkKind; bytes: number; busyNs?: number }> {
    return this.net.linkStats();
  }

  /** Time of a lone transfer on an idle route: route latency + bytes / slowest link (what the network gives it). */
  idleTransferNs(src: Endpoint, dst: Endpoint, bytes: number): number {
    const r = new Int32Array(MAX_ROUTE);
    const k = this.route(this.endpointIndex(src), this.endpointIndex(dst), r);
    let lat = 0;
    let bw = Infinity;
    for (let i = 0; i < k; i++) {
      lat += this.net.linkLatencyNs(r[i]);
      bw = Math.min(bw, this.net.linkBandwidthBytesPerS(r[i]));
    }
    return lat + secondsToNs(bytes / bw);
  }
}

/** A memoised group's members and routes (a class, not a literal: docs/performance.md, "Network"). */
class MemoRoutes {
  declare readonly members: Int32Array;
  declare readonly routes: PairRoutes;
  constructor(members: Int32Array, routes: PairRoutes) {
    this.members = members;
    this.routes = routes;
  }
}
