import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Simulation } from "../../src/sim/engine.js";
import { Cluster } from "../../src/hardware/cluster.js";
import { ProductSizes, type FlowNetwork } from "../../src/hardware/network/index.js";
import { LinkBlocks } from "../../src/hardware/network/link-blocks.js";
import { BY_DEST, BY_SOURCE, tableQuotient } from "../../src/hardware/network/quotient.js";
import { PairsByLink } from "../../src/hardware/network/routes.js";
import type { FabricSpec } from "../../src/hardware/devices.js";
import { clusterSpecFrom } from "../../src/hardware/presets.js";
import { joiningCopiesArb, networkCounters, scheduleJoiningCopies, type JoiningCopy } from "./network-counters.js";

/**
 * Symmetry quotients (quotient.ts): an all-to-all whose sizes depend only on the destination (a
 * dispatch) or only on the source (a combine), started on an idle multi-node network, is solved on
 * one flow per node's set of GPUs. Against the same runs solved flow by flow (quotientGroups off):
 * every completion within 1 ns, in the same order; the link and endpoint counters equal (whole
 * sizes) or within 1e-12 (fractional ones); with host copies joining mid-way (a replay, which runs
 * flow by flow from the saved counters), with all-to-alls between two GPUs of two nodes (routes
 * that share no link: the closed form) among them, collectives back to back or on an idle network,
 * and with sizes that fit no quotient (solved flow by flow, the same numbers), on nodes with one NIC
 * per GPU (H800, H100, A100, B200) or per two (V100, NVLink switch or DGX-1 mesh). The quotient
 * must be taken where it applies, so the comparison is not vacuous.
 */
/** dispatch / combine / product-*: sizes by destination, by source, as ProductSizes (the load-level exchanges). */
type Pattern =
  "dispatch" | "combine" | "constant" | "random" | "product-dispatch" | "product-combine" | "product-random";
interface Case {
  preset: "hgx-h800" | "dgx-h100" | "dgx-a100" | "hgx-b200" | "paper-v100" | "dgx1-v100" | "gb200-nvl72";
  nodes: number;
  fabric: "none" | "fat-tree" | "rail" | "pxn";
  fractional: boolean;
  /** `pair`: between the first and the last GPU (on two nodes: routes that share no link, the closed form). */
  collectives: Array<{ gap: number; pattern: Pattern; values: number[]; pair: boolean }>;
  copies: JoiningCopy[];
}

const FABRICS: Record<Case["fabric"], FabricSpec | undefined> = {
  none: undefined,
  "fat-tree": { kind: "fat-tree", oversubscription: 2, latencyNs: 1000 },
  rail: { kind: "rail", crossRail: "spine", latencyNs: 500 },
  pxn: { kind: "rail", crossRail: "pxn" },
};

function clusterOf(c: Pick<Case, "preset" | "nodes" | "fabric">, sim: Simulation, fast = true): Cluster {
  return new Cluster(sim, clusterSpecFrom({ preset: c.preset, nodes: c.nodes, fabric: FABRICS[c.fabric] }), {
    recordTimeline: false,
    fastCollectives: fast,
  });
}

function sizesOf(pattern: Pattern, values: number[], n: number, fractional: boolean): Float64Array | ProductSizes {
  if (pattern.startsWith("product")) {
    // one factor per node (a node's GPUs alike), the other per GPU: as the MoE dispatch and its
    // transpose; product-random: both per GPU (no quotient fits)
    // the per-node factor small (a share, as the load plan's), so that sums of sizes stay exact below 2^53
    const perNode = Float64Array.from({ length: n }, (_, i) => 1 + (values[Math.floor(i / 8) % values.length] % 7));
    const perGpu = Float64Array.from({ length: n }, (_, j) => values[(j * 7 + 3) % values.length]);
    const perGpu2 = Float64Array.from({ length: n }, (_, j) => 1 + (values[(j * 5 + 1) % values.length] % 5));
    const [u, v] =
      pattern === "product-dispatch"
        ? [perNode, perGpu]
        : pattern === "product-combine"
          ? [perGpu, perNode]
          : [perGpu2, perGpu];
    return new ProductSizes(u, v, fractional ? 1 / 3 : 1, 1, true);
  }
  const s = new Float64Array(n * n);
  const v = (k: number): number => values[k % values.length] * (fractional ? 1 / 3 : 1);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (i === j) continue;
      const k = pattern === "dispatch" ? j : pattern === "combine" ? i : pattern === "constant" ? 0 : i * n + j;
      s[i * n + j] = v(k);
    }
  }
  return s;
}

function run(c: Case, quotient: boolean) {
  const sim = new Simulation();
  const cluster = clusterOf(c, sim);
  const net = cluster.net as FlowNetwork;
  net.quotientGroups = quotient;
  const n = cluster.gpuCount;
  const group = Array.from({ length: n }, (_, i) => i);
  const pair = [0, n - 1];
  const done: Array<[string, number]> = [];
  const starts: number[] = [];
  let at = 0;
  c.collectives.forEach((col, i) => {
    at += col.gap;
    starts.push(at);
    sim.schedule(at, () =>
      cluster.allToAll(
        col.pair ? pair : group,
        sizesOf(col.pattern, col.values, col.pair ? 2 : n, c.fractional),
        () => void done.push([`c${i}`, sim.now]),
      ),
    );
  });
  scheduleJoiningCopies(sim, cluster, c.copies, starts, done);
  sim.run();
  return {
    done,
    links: cluster.linkTraffic(),
    sent: Array.from(net.sentBytes),
    received: Array.from(net.receivedBytes),
    delivered: Array.from(net.deliveredBytes),
    flows: net.flowsDone,
    quotients: net.fastQuotients,
    steady: net.quotientSteadyFlows,
    products: net.fastQuotientProducts,
    filled: net.quotientFilledFlows,
  };
}

function close(a: number, b: number, rel: number, abs = 0): boolean {
  return Math.abs(a - b) <= Math.max(abs, rel * Math.max(Math.abs(a), Math.abs(b)));
}

const caseArb: fc.Arbitrary<Case> = fc.record({
  preset: fc.constantFrom(
    "hgx-h800" as const,
    "dgx-h100" as const,
    "dgx-a100" as const,
    "hgx-b200" as const,
    "paper-v100" as const,
    "dgx1-v100" as const,
  ),
  nodes: fc.integer({ min: 2, max: 4 }),
  fabric: fc.constantFrom("none" as const, "fat-tree" as const, "rail" as const, "pxn" as const),
  fractional: fc.boolean(),
  collectives: fc.array(
    fc.record({
      // back to back, while the previous may still run, or mostly after it (an idle network)
      gap: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 300_000 }), fc.integer({ min: 0, max: 20_000_000 })),
      pattern: fc.constantFrom(
        "dispatch" as const,
        "combine" as const,
        "constant" as const,
        "random" as const,
        "product-dispatch" as const,
        "product-combine" as const,
        "product-random" as const,
      ),
      values: fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 6e7 })), { minLength: 1, maxLength: 40 }),
      pair: fc.oneof({ weight: 2, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    }),
    { minLength: 1, maxLength: 4 },
  ),
  copies: joiningCopiesArb(3, 200_000, 31),
});

describe("symmetry quotient of an all-to-all (flow model)", () => {
  it("gives the flow-by-flow completions and counters (property)", () => {
    let used = 0;
    let steady = 0;
    let products = 0;
    let filled = 0;
    fc.assert(
      fc.property(caseArb, (c) => {
        const q = run(c, true);
        const m = run(c, false);
        used += q.quotients;
        steady += q.steady;
        products += q.products;
        filled += q.filled;
        expect(m.quotients).toBe(0);
        expect(q.done.map(([k]) => k).sort()).toEqual(m.done.map(([k]) => k).sort());
        const at = new Map(m.done);
        for (const [k, t] of q.done) expect(Math.abs(t - at.get(k)!), k).toBeLessThanOrEqual(1);
        expect(q.flows).toBe(m.flows);
        const rel = c.fractional ? 1e-12 : 0;
        for (const key of ["sent", "received", "delivered"] as const) {
          q[key].forEach((v, i) => expect(close(v, m[key][i], rel), `${key}[${i}]`).toBe(true));
        }
        q.links.forEach((l, i) => {
          expect(close(l.bytes, m.links[i].bytes, rel), l.link).toBe(true);
          // busy time: each busy period's end is a completion check (within 1 ns of the member path's)
          expect(close(l.busyNs ?? 0, m.links[i].busyNs ?? 0, 0, 4 * c.collectives.length), l.link).toBe(true);
        });
      }),
      { numRuns: 60, seed: 2026 },
    );
    expect(used).toBeGreaterThan(10);
    // both ways of solving a quotient were taken: steady components in closed form, the rest by filling
    expect(steady).toBeGreaterThan(100);
    // and product sizes were run from their factors
    expect(products).toBeGreaterThan(2);
    expect(filled).toBeGreaterThan(100);
  });

  it("is taken for a dispatch and a combine on an idle multi-node cluster, with identical results here", () => {
    // 2 nodes: a NIC's 8 pairs are n/2, which LinkBlocks' default bounds leave out (the fallback's blocks)
    for (const [pattern, nodes] of [
      ["dispatch", 2],
      ["combine", 2],
      ["dispatch", 3],
      ["combine", 3],
      ["product-dispatch", 3],
      ["product-combine", 3],
    ] as const) {
      const c: Case = {
        preset: "hgx-h800",
        nodes,
        fabric: "none",
        fractional: false,
        collectives: [{ gap: 0, pattern, values: [1 << 20, 3 << 18, 5 << 19, 1 << 21, 7 << 17], pair: false }],
        copies: [],
      };
      const q = run(c, true);
      expect(q.quotients).toBe(1);
      expect(q.steady).toBeGreaterThan(0);
      const products = pattern.startsWith("product") ? 1 : 0;
      expect(q.products).toBe(products);
      expect({ ...q, steady: 0, filled: 0, products: 0 }).toEqual({ ...run(c, false), quotients: 1 });
    }
  });

  it("runs product sizes on one node or one NVLink domain on the identity quotient, with identical results", () => {
    // no aggregates there: the quotient of single pairs, whose steady components are computed in closed
    // form. Values that are multiples of 7 make sizesOf's per-node factor 1 on all 72 GPUs of the domain.
    for (const preset of ["hgx-h800", "gb200-nvl72"] as const) {
      for (const pattern of ["product-dispatch", "product-combine"] as const) {
        const c: Case = {
          preset,
          nodes: 1,
          fabric: "none",
          fractional: false,
          collectives: [{ gap: 0, pattern, values: [7 << 20, 21 << 18, 35 << 19, 7 << 21, 49 << 17], pair: false }],
          copies: [],
        };
        const q = run(c, true);
        expect(q.products, `${preset} ${pattern}`).toBe(1);
        expect(q.steady, `${preset} ${pattern}`).toBeGreaterThan(0);
        expect({ ...q, steady: 0, filled: 0, products: 0 }).toEqual({ ...run(c, false), quotients: 1 });
      }
    }
  });

  it("replays the group a flow joins, not an earlier quotient run (closed-form table after it)", () => {
    // a quotient dispatch over 3 nodes, then an all-to-all between two GPUs (routes disjoint: the
    // closed form from the table), which a host copy joins: the replay must run the pair's flows
    const runPair = (quotient: boolean) => {
      const sim = new Simulation();
      const cluster = clusterOf({ preset: "hgx-h800", nodes: 3, fabric: "none" }, sim);
      const net = cluster.net as FlowNetwork;
      net.quotientGroups = quotient;
      const n = cluster.gpuCount;
      const all = Array.from({ length: n }, (_, i) => i);
      const pair = [0, 16];
      const done: Array<[string, number]> = [];
      sim.schedule(0, () =>
        cluster.allToAll(all, sizesOf("dispatch", [1e6, 3e6, 2e6], n, false), () => done.push(["a", sim.now])),
      );
      sim.schedule(10_000_000, () => cluster.allToAll(pair, [0, 4e6, 4e6, 0], () => done.push(["b", sim.now])));
      sim.schedule(10_050_000, () => cluster.hostToDevice(3, 1e6, () => done.push(["h", sim.now]), { pinned: true }));
      sim.run();
      expect(cluster.groupRoutes(pair).disjoint).toBe(true);
      const r = { done, links: cluster.linkTraffic(), ...networkCounters(net) };
      return { r, quotients: net.fastQuotients, unwound: net.fastUnwound };
    };
    const q = runPair(true);
    const m = runPair(false);
    expect([q.quotients, q.unwound, m.quotients]).toEqual([1, 1, 0]);
    expect(q.r).toEqual(m.r);
  });

  it("runs product sizes as their dense matrix, counting a product that underflows to 0 as no flow", () => {
    const runProduct = (dense: boolean) => {
      const sim = new Simulation();
      const cluster = clusterOf({ preset: "hgx-h800", nodes: 3, fabric: "none" }, sim);
      const net = cluster.net as FlowNetwork;
      const n = cluster.gpuCount;
      const u = new Float64Array(n).fill(1);
      const v = Float64Array.from({ length: n }, (_, j) => (j % 4) * 100_000);
      u[5] = 1e-200;
      v[7] = 1e-200; // u[5] * v[7] underflows to 0; the rest of row 5 and column 7 are tiny, not 0
      const ps = new ProductSizes(u, v, 3, 1, true);
      const [matrix, whole, nonzero] = ps.denseWhole();
      expect([whole, nonzero]).toEqual([false, ps.checkedCount() - 1]);
      let end = -1;
      cluster.allToAll(
        Array.from({ length: n }, (_, i) => i),
        dense ? matrix : ps,
        () => (end = sim.now),
      );
      sim.run();
      return { end, links: cluster.linkTraffic(), ...networkCounters(net) };
    };
    const p = runProduct(false);
    expect(p.flows).toBeGreaterThan(0);
    expect(p).toEqual(runProduct(true));
  });

  it("aggregates the cross-node pairs of a node's GPUs and leaves single-node clusters alone", () => {
    const sim = new Simulation();
    const cluster = clusterOf({ preset: "hgx-h800", nodes: 4, fabric: "none" }, sim);
    const net = cluster.net as FlowNetwork;
    const n = cluster.gpuCount;
    const t = cluster.groupRoutes(Array.from({ length: n }, (_, i) => i));
    const tr = net.ratesOf(t);
    const lb = new LinkBlocks(n, new PairsByLink(t, tr.lat, net.nLinks));
    expect(Array.from(lb.sBlock)).toEqual(Array.from({ length: n }, (_, i) => Math.floor(i / 8)));
    for (const [kind, block] of [
      [BY_SOURCE, lb.sBlock],
      [BY_DEST, lb.dBlock],
    ] as const) {
      const tq = tableQuotient(t, block, kind, net.linkCap, net.linkLat)!;
      // 4 nodes x 24 GPUs elsewhere aggregates of 8; within a node 8 x 7 pairs and 8 self pairs alone
      expect(tq.aggregates).toBe(4 * 24);
      expect(tq.nq).toBe(4 * 24 + 4 * 64);
      for (let q = 0; q < tq.nq; q++) expect([1, 8]).toContain(tq.mult[q]);
    }
    const one = new Simulation();
    const single = clusterOf({ preset: "hgx-h800", nodes: 1, fabric: "none" }, one);
    const t1 = single.groupRoutes(Array.from({ length: 8 }, (_, i) => i));
    const block = new Int32Array(8);
    const sn = single.net as FlowNetwork;
    expect(tableQuotient(t1, block, BY_SOURCE, sn.linkCap, sn.linkLat)).toBeNull();
  });

  it("refuses routes whose links are not spread evenly over a node's GPUs", () => {
    // a made-up table: 2 blocks of 2 members, where member 0's and 1's routes to member 2 share a
    // link that member 1's route to member 3 also crosses but member 0's does not
    const n = 4;
    const route = new Int32Array(n * n * 12);
    const len = new Int32Array(n * n);
    const set = (i: number, j: number, links: number[]): void => {
      len[i * n + j] = links.length;
      links.forEach((l, x) => (route[(i * n + j) * 12 + x] = l));
    };
    set(0, 2, [0, 9]);
    set(1, 2, [1, 9]);
    set(0, 3, [0, 8]);
    set(1, 3, [1, 9, 8]);
    const t = { n, route, len, src: new Int32Array(n * n), dst: new Int32Array(n * n), disjoint: false };
    const cap = new Float64Array(16).fill(10);
    const lat = new Float64Array(16);
    expect(tableQuotient(t, Int32Array.from([0, 0, 1, 1]), BY_SOURCE, cap, lat)).toBeNull();
    set(1, 3, [1, 8]);
    expect(tableQuotient(t, Int32Array.from([0, 0, 1, 1]), BY_SOURCE, cap, lat)?.aggregates).toBe(2);
  });
});
