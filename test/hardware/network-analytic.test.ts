import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Simulation } from "../../src/sim/engine.js";
import { Cluster, type NetworkModel } from "../../src/hardware/cluster.js";
import { clusterSpecFrom } from "../../src/hardware/presets.js";
import { AnalyticNetwork, pairRoutes } from "../../src/hardware/network/index.js";

/**
 * The analytic network model (Cluster networkModel "analytic", FlowNetwork.analytic: links serve
 * bytes at their capacity, first come first served) against the flow model: for one collective
 * alone on the network it is a lower bound on the flow model's completion time, equal (to the ns
 * rounding) when no two flows share a link, and it moves the same bytes over the same links.
 */
type Kind = "a2a" | "hier" | "allreduce";

function run(preset: "paper-v100" | "dgx-h100", nodes: number, kind: Kind, sizes: number[], model: NetworkModel) {
  const sim = new Simulation();
  const cluster = new Cluster(sim, clusterSpecFrom({ preset, nodes }), { recordTimeline: false, networkModel: model });
  const n = cluster.gpuCount;
  const group = Array.from({ length: n }, (_, i) => i);
  let done = -1;
  const cb = (): void => void (done = sim.now);
  if (kind === "allreduce") cluster.allReduce(group, sizes[0] + 1, cb);
  else {
    const m = new Float64Array(n * n);
    for (let k = 0; k < m.length; k++) m[k] = sizes[k % sizes.length];
    cluster.allToAll(group, m, cb, { hierarchical: kind === "hier" });
  }
  const r = sim.run();
  const bytes = new Map(cluster.linkTraffic().map((l) => [l.link, l.bytes]));
  return {
    done,
    events: r.events,
    bytes,
    sent: Array.from(cluster.net.sentBytes),
    delivered: Array.from(cluster.net.deliveredBytes),
  };
}

const sizeArb = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 4e6 }), fc.constantFrom(2048, 4096, 1 << 20));

describe("analytic network model", () => {
  it("property: one collective alone: a lower bound on the flow model, same bytes on every link", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("paper-v100" as const, "dgx-h100" as const),
        fc.integer({ min: 1, max: 2 }),
        fc.constantFrom("a2a" as const, "hier" as const, "allreduce" as const),
        fc.array(sizeArb, { minLength: 1, maxLength: 37 }),
        (preset, nodes, kind, sizes) => {
          const f = run(preset, nodes, kind, sizes, "flow");
          const a = run(preset, nodes, kind, sizes, "analytic");
          expect(a.done).toBeLessThanOrEqual(f.done + 1);
          // and close: a collective's most loaded link stays busy to the end under max-min too
          expect(a.done).toBeGreaterThanOrEqual(0.95 * f.done);
          for (const [link, b] of f.bytes) expect(a.bytes.get(link), link).toBe(b);
          expect(a.sent).toEqual(f.sent);
          expect(a.delivered).toEqual(f.delivered);
        },
      ),
      { numRuns: 120, seed: 20261126 },
    );
  });

  it("property: an all-to-all whose flows share no link (point-to-point NVLink node) ends within 2 ns of the flow model", () => {
    fc.assert(
      fc.property(fc.array(sizeArb, { minLength: 1, maxLength: 64 }), (sizes) => {
        const f = run("paper-v100", 1, "a2a", sizes, "flow");
        const a = run("paper-v100", 1, "a2a", sizes, "analytic");
        expect(Math.abs(a.done - f.done)).toBeLessThanOrEqual(2);
      }),
      { numRuns: 150, seed: 7 },
    );
  });

  it("a 4-node all-to-all: within 1% of the flow model, in 2 engine events instead of hundreds of max-min solves", () => {
    for (const preset of ["paper-v100", "dgx-h100"] as const) {
      const sizes = Array.from({ length: 64 }, (_, i) => ((i * 7919) % 5) * 65536 + 1024);
      const f = run(preset, 4, "a2a", sizes, "flow");
      const a = run(preset, 4, "a2a", sizes, "analytic");
      expect(a.done, preset).toBeLessThanOrEqual(f.done);
      expect(a.done, preset).toBeGreaterThanOrEqual(0.99 * f.done);
      expect(a.events, preset).toBe(2); // the launch overhead and the delivery
    }
  });

  it("property: the dedicated analytic all-to-all equals the same flows started one by one in a group (times, link and endpoint counters)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 6 }),
        // sizes: none, whole bytes, or fractions (the link loads then depend on the order of the sums)
        fc.array(
          fc.tuple(
            fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 1e6 }), fc.double({ min: 0.5, max: 1e6, noNaN: true })),
            fc.array(fc.nat(5), { minLength: 1, maxLength: 3 }),
          ),
          { minLength: 25, maxLength: 25 },
        ),
        fc.integer({ min: 0, max: 5000 }),
        (n, links, pairs, busyFirst) => {
          const build = () => {
            const sim = new Simulation();
            const net = new AnalyticNetwork(sim, n);
            for (let l = 0; l < links; l++) net.addLink(`l${l}`, "nvlink", (l + 1) * 1e9, 100 * l);
            return { sim, net };
          };
          const group = Array.from({ length: n }, (_, i) => i);
          const sizes = Array.from({ length: n * n }, (_, p) => pairs[p][0]);
          const routeOf = (s: number, d: number, r: Int32Array): number => {
            const rt = [...new Set(pairs[s * n + d][1].map((x) => x % links))];
            rt.forEach((l, k) => (r[k] = l));
            return rt.length;
          };
          const out = (sim: Simulation, net: AnalyticNetwork, t: number[]) => ({
            t,
            stats: net.linkStats(),
            sent: Array.from(net.sentBytes),
            got: Array.from(net.deliveredBytes),
            flows: net.flowsDone,
            end: sim.now,
          });
          // a copy already queued on link 0 first, so that the all-to-all waits behind it
          const a = build();
          // links summed pair by pair, in the group's order (block sums: network-analytic-blocks.test.ts)
          a.net.blockMinPairs = Infinity;
          const ta: number[] = [];
          a.net.startFlow(
            [0],
            1,
            busyFirst,
            a.net.group(1, () => ta.push(a.sim.now)),
            0,
            0,
          );
          a.net.runAllToAll(pairRoutes(group, routeOf), sizes, () => ta.push(a.sim.now));
          a.sim.run();
          const b = build();
          const tb: number[] = [];
          b.net.startFlow(
            [0],
            1,
            busyFirst,
            b.net.group(1, () => tb.push(b.sim.now)),
            0,
            0,
          );
          const count = sizes.filter((x) => x > 0).length;
          const r = new Int32Array(12);
          b.net.runGroup(
            count,
            () => tb.push(b.sim.now),
            (g) => {
              for (let i = 0; i < n; i++)
                for (let j = 0; j < n; j++) {
                  if (!(sizes[i * n + j] > 0)) continue;
                  const k = routeOf(i, j, r);
                  b.net.startFlow(r, k, sizes[i * n + j], g, i, j);
                }
            },
          );
          b.sim.run();
          expect(out(a.sim, a.net, ta)).toEqual(out(b.sim, b.net, tb));
        },
      ),
      { numRuns: 400, seed: 11 },
    );
  });

  it("a lone transfer takes bytes / bottleneck + route latency, as in the flow model; concurrent transfers queue on a shared link", () => {
    const t = (model: NetworkModel, twice: boolean): number[] => {
      const sim = new Simulation();
      const cluster = new Cluster(sim, clusterSpecFrom({ preset: "paper-v100", nodes: 1 }), {
        recordTimeline: false,
        networkModel: model,
      });
      const out: number[] = [];
      cluster.hostToDevice(0, 12_000_000, () => out.push(sim.now));
      if (twice) cluster.hostToDevice(0, 12_000_000, () => out.push(sim.now));
      sim.run();
      return out;
    };
    const [flowOne] = t("flow", false);
    const [anaOne] = t("analytic", false);
    expect(Math.abs(anaOne - flowOne)).toBeLessThanOrEqual(1);
    // 12 MB at 12 GB/s pinned = 1 ms, plus 1 us of PCIe latency
    expect(anaOne).toBeGreaterThanOrEqual(1_001_000);
    expect(anaOne).toBeLessThanOrEqual(1_001_002);
    // two copies at once over the same PCIe link: the flow model shares it (both end at ~2 ms);
    // the analytic one serves them one after the other (1 ms, then 2 ms): the same last end
    const flowTwo = t("flow", true);
    const anaTwo = t("analytic", true);
    expect(Math.min(...flowTwo)).toBeGreaterThan(1.9e6);
    expect(anaTwo[0]).toBe(anaOne);
    expect(Math.abs(Math.max(...anaTwo) - Math.max(...flowTwo))).toBeLessThanOrEqual(2);
  });
});
