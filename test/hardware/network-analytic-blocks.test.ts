import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Simulation } from "../../src/sim/engine.js";
import { Cluster } from "../../src/hardware/cluster.js";
import { clusterSpecFrom } from "../../src/hardware/presets.js";
import { AnalyticNetwork, pairRoutes, ProductSizes } from "../../src/hardware/network/index.js";
import { BY_COLS, BY_PAIRS, BY_ROWS, LinkBlocks } from "../../src/hardware/network/link-blocks.js";
import { PairsByLink, TableRates, type PairRoutes } from "../../src/hardware/network/routes.js";

/**
 * The analytic all-to-all's block sums (link-blocks.ts) against summing every link pair by pair:
 * the same delivery times, link and endpoint counters; exactly for whole-byte sizes, within float
 * rounding for fractional ones (the sums add the same bytes in another order).
 */

/**
 * Random routes on `nodes` x `g` members: per pair, a subset of cluster-like links (a per-source
 * up-link, a per-destination down-link, per-node egress and ingress for pairs across nodes, a
 * per-source "NIC" across nodes) and of a few free links that any pair may cross (sets that are
 * not products).
 */
function routeMaker(nodes: number, g: number, picks: number[], free: number) {
  const n = nodes * g;
  const up = 0;
  const down = n;
  const egress = 2 * n;
  const ingress = 2 * n + nodes;
  const nic = 2 * n + 2 * nodes;
  const freeBase = 3 * n + 2 * nodes;
  const links = freeBase + free;
  const route = (s: number, d: number, r: Int32Array): number => {
    const p = s * n + d;
    const pick = picks[p % picks.length];
    const across = Math.floor(s / g) !== Math.floor(d / g);
    const out: number[] = [];
    if (pick & 1) out.push(up + s);
    if (pick & 2) out.push(down + d);
    if (across && pick & 4) out.push(egress + Math.floor(s / g), ingress + Math.floor(d / g));
    if (across && pick & 8) out.push(nic + s);
    if (free > 0 && pick & 16) out.push(freeBase + ((pick >> 5) % free));
    out.forEach((l, k) => (r[k] = l));
    return out.length;
  };
  return { n, links, route };
}

function runBoth(
  nodes: number,
  g: number,
  picks: number[],
  free: number,
  sizes: number[],
  busyFirst: number,
  minPairs: number,
) {
  const { n, links, route } = routeMaker(nodes, g, picks, free);
  const group = Array.from({ length: n }, (_, i) => i);
  const table = pairRoutes(group, route);
  const m = Array.from({ length: n * n }, (_, p) => sizes[p % sizes.length]);
  const once = (blockMinPairs: number) => {
    const sim = new Simulation();
    const net = new AnalyticNetwork(sim, n);
    net.blockMinPairs = blockMinPairs;
    for (let l = 0; l < links; l++) net.addLink(`l${l}`, "nvlink", (1 + (l % 7)) * 1e9, 50 * (l % 5));
    const t: number[] = [];
    // a copy queued on link 0 first; then two all-to-alls (the second transposed) back to back
    net.startFlow(
      [0],
      1,
      busyFirst,
      net.group(1, () => t.push(sim.now)),
      0,
      0,
    );
    net.runAllToAll(table, m, () => t.push(sim.now));
    const back = m.map((_, p) => m[(p % n) * n + Math.floor(p / n)]);
    net.runAllToAll(table, back, () => t.push(sim.now));
    sim.run();
    return {
      t,
      stats: net.linkStats(),
      sent: Array.from(net.sentBytes),
      received: Array.from(net.receivedBytes),
      got: Array.from(net.deliveredBytes),
      flows: net.flowsDone,
    };
  };
  return { table, links, blocks: once(minPairs), pairs: once(Infinity) };
}

function modesOf(table: PairRoutes, links: number, minPairs: number): Set<number> {
  const lat = new Float64Array(links);
  const tr = new TableRates(table, new Float64Array(links).fill(1), lat);
  const lb = new LinkBlocks(table.n, new PairsByLink(table, tr.lat, links), minPairs);
  return new Set(lb.mode);
}

const seen = new Set<number>();

describe("analytic all-to-all: block sums", () => {
  it("property: equal to summing every link pair by pair, on random routes with and without product sets", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.nat(1023), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 0, max: 3 }),
        fc.boolean(),
        fc.array(
          fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 1e6 }), fc.double({ min: 0.5, max: 1e6, noNaN: true })),
          {
            minLength: 1,
            maxLength: 50,
          },
        ),
        fc.integer({ min: 0, max: 5000 }),
        fc.constantFrom(0, 1, 4),
        (nodes, g, picks, free, fractional, raw, busyFirst, minPairs) => {
          const sizes = fractional ? raw : raw.map(Math.floor);
          const r = runBoth(nodes, g, picks, free, sizes, busyFirst, minPairs);
          for (const m of modesOf(r.table, r.links, minPairs)) seen.add(m);
          const { blocks: a, pairs: b } = r;
          // the endpoint counters are summed in pair order on both paths
          expect(a.sent).toEqual(b.sent);
          expect(a.received).toEqual(b.received);
          expect(a.got).toEqual(b.got);
          expect(a.flows).toBe(b.flows);
          if (!fractional) {
            expect(a.t).toEqual(b.t);
            expect(a.stats).toEqual(b.stats);
            return;
          }
          for (let i = 0; i < a.t.length; i++) expect(Math.abs(a.t[i] - b.t[i])).toBeLessThanOrEqual(1);
          for (let l = 0; l < a.stats.length; l++) {
            const x = a.stats[l];
            const y = b.stats[l];
            expect(Math.abs(x.bytes - y.bytes)).toBeLessThanOrEqual(1e-12 * y.bytes);
            expect(Math.abs(x.busyNs - y.busyNs)).toBeLessThanOrEqual(1e-12 * y.busyNs);
          }
        },
      ),
      { numRuns: 400, seed: 20261206 },
    );
    // every way of summing a link was exercised
    expect([...seen].sort()).toEqual([BY_PAIRS, BY_ROWS, BY_COLS].sort());
  });

  it("HGX H800, 4 nodes: per-GPU PCIe and NIC links are summed by node blocks, with the same results as pair by pair", () => {
    const run = (blockMinPairs: number | null) => {
      const sim = new Simulation();
      const cluster = new Cluster(sim, clusterSpecFrom({ preset: "hgx-h800", nodes: 4 }), {
        recordTimeline: false,
        networkModel: "analytic",
      });
      const net = cluster.net as AnalyticNetwork;
      net.blockMinPairs = blockMinPairs;
      const n = cluster.gpuCount;
      const group = Array.from({ length: n }, (_, i) => i);
      const sizes = new Float64Array(n * n);
      for (let p = 0; p < sizes.length; p++) sizes[p] = ((p * 7919) % 13) * 4096;
      let done = -1;
      cluster.allToAll(group, sizes, () => (done = sim.now));
      sim.run();
      const table = cluster.groupRoutes(group);
      return { done, stats: cluster.linkTraffic(), sent: Array.from(net.sentBytes), table, links: net.linkCount };
    };
    const a = run(null);
    const b = run(Infinity);
    expect(a.done).toBe(b.done);
    expect(a.stats).toEqual(b.stats);
    expect(a.sent).toEqual(b.sent);
    const n = a.table.n;
    const lb = new LinkBlocks(n, new PairsByLink(a.table, new Float64Array(n * n), a.links));
    // blocks are the nodes, and most links are summed by them
    expect(lb.nbD).toBe(4);
    expect(lb.nbS).toBe(4);
    const byBlocks = Array.from(lb.mode).filter((m) => m !== BY_PAIRS).length;
    expect(byBlocks).toBeGreaterThanOrEqual(2 * n);
  });

  it("property: product sizes give what their dense matrix gives (exactly for whole numbers, else within rounding)", () => {
    const factor = (whole: boolean) =>
      fc.array(
        whole
          ? fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 5000 }))
          : fc.oneof(fc.constant(0), fc.double({ min: 1e-3, max: 5000, noNaN: true })),
        { minLength: 16, maxLength: 16 },
      );
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.nat(1023), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 0, max: 3 }),
        fc.boolean(),
        fc.boolean(),
        fc.tuple(factor(false), factor(false), factor(true), factor(true)),
        fc.tuple(fc.integer({ min: 0, max: 64 }), fc.constantFrom(1, 0.5, 3)),
        fc.constantFrom(0, 1, 4, Infinity),
        (nodes, g, picks, free, whole, noSelf, [uf, vf, ui, vi], [k1, k2], minPairs) => {
          const { n, links, route } = routeMaker(nodes, g, picks, free);
          const table = pairRoutes(
            Array.from({ length: n }, (_, i) => i),
            route,
          );
          const u = Float64Array.from((whole ? ui : uf).slice(0, n));
          const v = Float64Array.from((whole ? vi : vf).slice(0, n));
          const ps = new ProductSizes(u, v, k1, whole ? 1 : k2, noSelf);
          const dense = ps.dense();
          for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) expect(dense[i * n + j]).toBe(ps.at(i, j));
          expect(ps.checkedCount()).toBe(Array.from(dense).filter((x) => x > 0).length);
          // the same sizes marked constant: their loads computed once, kept for the second all-to-all
          const fixed = new ProductSizes(u, v, k1, whole ? 1 : k2, noSelf, true);
          const once = (product: boolean, sizes = ps) => {
            const sim = new Simulation();
            const net = new AnalyticNetwork(sim, n);
            net.blockMinPairs = minPairs;
            for (let l = 0; l < links; l++) net.addLink(`l${l}`, "nvlink", (1 + (l % 7)) * 1e9, 50 * (l % 5));
            const t: number[] = [];
            for (let rep = 0; rep < 2; rep++) {
              if (product) net.runAllToAllProduct(table, sizes, sizes.checkedCount(), () => t.push(sim.now));
              else net.runAllToAll(table, dense, () => t.push(sim.now));
            }
            sim.run();
            const c = { sent: net.sentBytes, received: net.receivedBytes, got: net.deliveredBytes };
            return { t, stats: net.linkStats(), ...c, flows: net.flowsDone };
          };
          const a = once(true);
          const b = once(false);
          expect(once(true, fixed)).toEqual(a);
          expect(a.flows).toBe(b.flows);
          if (whole) {
            expect(a.t).toEqual(b.t);
            expect(a.stats).toEqual(b.stats);
            expect(a.sent).toEqual(b.sent);
            expect(a.received).toEqual(b.received);
            expect(a.got).toEqual(b.got);
            return;
          }
          for (let i = 0; i < a.t.length; i++) expect(Math.abs(a.t[i] - b.t[i])).toBeLessThanOrEqual(1);
          const close = (x: number, y: number) => {
            expect(Math.abs(x - y)).toBeLessThanOrEqual(1e-12 * y);
            expect(x > 0).toBe(y > 0);
          };
          for (let l = 0; l < a.stats.length; l++) {
            close(a.stats[l].bytes, b.stats[l].bytes);
            close(a.stats[l].busyNs, b.stats[l].busyNs);
          }
          for (let e = 0; e < n; e++) {
            close(a.sent[e], b.sent[e]);
            close(a.received[e], b.received[e]);
            close(a.got[e], b.got[e]);
          }
        },
      ),
      { numRuns: 400, seed: 20261207 },
    );
  });

  it("Cluster.allToAll of product sizes: the analytic flat path, and the dense matrix on the flow model and other algorithms", () => {
    const n = 32;
    const u = Float64Array.from({ length: n }, (_, i) => (i % 5) / 7);
    const v = Float64Array.from({ length: n }, (_, i) => ((i * 3) % 11) * 1000);
    const ps = new ProductSizes(u, v, 7168, 1.5, false);
    const run = (model: "flow" | "analytic", sizes: Float64Array | ProductSizes, hierarchical = false) => {
      const sim = new Simulation();
      const cluster = new Cluster(sim, clusterSpecFrom({ preset: "hgx-h800", nodes: 4 }), {
        recordTimeline: false,
        networkModel: model,
      });
      let done = -1;
      const group = Array.from({ length: n }, (_, i) => i);
      cluster.allToAll(group, sizes, () => (done = sim.now), { hierarchical });
      sim.run();
      return { done, stats: cluster.linkTraffic(), sent: Array.from(cluster.net.sentBytes) };
    };
    expect(run("flow", ps)).toEqual(run("flow", ps.dense()));
    expect(run("analytic", ps, true)).toEqual(run("analytic", ps.dense(), true));
    const a = run("analytic", ps);
    const b = run("analytic", ps.dense());
    expect(Math.abs(a.done - b.done)).toBeLessThanOrEqual(1);
    for (let l = 0; l < a.stats.length; l++) {
      expect(Math.abs(a.stats[l].bytes - b.stats[l].bytes)).toBeLessThanOrEqual(1e-12 * b.stats[l].bytes);
    }
    expect(() => run("analytic", new ProductSizes(u, v, -1, 1, false))).toThrow(/size factor/);
  });
});
