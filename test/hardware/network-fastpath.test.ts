import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Simulation } from "../../src/sim/engine.js";
import { Cluster } from "../../src/hardware/cluster.js";
import { FlowNetwork, pairRoutes } from "../../src/hardware/network/index.js";
import { clusterSpecFrom } from "../../src/hardware/presets.js";
import { networkCounters } from "./network-counters.js";

/**
 * FlowNetwork.runGroup's fast path (a collective on an idle network computed at once, one engine
 * event) against the event-driven path (Cluster fastCollectives: false): the same completion ns,
 * in the same order, the same link and endpoint counters; also when other transfers start in the
 * middle of a collective (the fast path then replays the collective up to that instant).
 */
interface Case {
  preset: "paper-v100" | "dgx-h100";
  nodes: number;
  collectives: Array<{ at: number; sizes: number[]; kind: "a2a" | "hier" | "allreduce" }>;
  copies: Array<{ at: number; gpu: number; bytes: number; pinned: boolean }>;
}

function run(c: Case, fast: boolean) {
  const sim = new Simulation();
  const cluster = new Cluster(sim, clusterSpecFrom({ preset: c.preset, nodes: c.nodes }), {
    recordTimeline: false,
    fastCollectives: fast,
  });
  const n = cluster.gpuCount;
  const group = Array.from({ length: n }, (_, i) => i);
  const done: Array<[string, number]> = [];
  c.collectives.forEach((col, i) => {
    sim.schedule(col.at, () => {
      const cb = (): void => void done.push([`c${i}`, sim.now]);
      if (col.kind === "allreduce") cluster.allReduce(group, col.sizes[0] + 1, cb);
      else {
        const sizes = new Float64Array(n * n);
        for (let k = 0; k < sizes.length; k++) sizes[k] = col.sizes[k % col.sizes.length];
        cluster.allToAll(group, sizes, cb, { hierarchical: col.kind === "hier" });
      }
    });
  });
  c.copies.forEach((cp, i) => {
    sim.schedule(cp.at, () =>
      cluster.hostToDevice(cp.gpu % n, cp.bytes, () => void done.push([`h${i}`, sim.now]), { pinned: cp.pinned }),
    );
  });
  sim.run();
  const net = cluster.net as FlowNetwork;
  return {
    done,
    end: sim.now,
    links: cluster.linkTraffic(),
    ...networkCounters(net),
    fastRuns: net.fastRuns,
    isolated: net.fastIsolated,
    replays: net.fastReplays,
    unwound: net.fastUnwound,
  };
}

const sizeArb = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 4e6 }), fc.constantFrom(2048, 4096, 1 << 20));
const caseArb: fc.Arbitrary<Case> = fc.record({
  preset: fc.constantFrom("paper-v100" as const, "dgx-h100" as const),
  nodes: fc.integer({ min: 1, max: 2 }),
  collectives: fc.array(
    fc.record({
      at: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 400_000 })),
      sizes: fc.array(sizeArb, { minLength: 1, maxLength: 37 }),
      kind: fc.constantFrom("a2a" as const, "a2a" as const, "hier" as const, "allreduce" as const),
    }),
    { minLength: 1, maxLength: 4 },
  ),
  copies: fc.array(
    fc.record({
      at: fc.integer({ min: 0, max: 400_000 }),
      gpu: fc.nat(15),
      bytes: fc.integer({ min: 1, max: 8e6 }),
      pinned: fc.boolean(),
    }),
    { maxLength: 3 },
  ),
});

describe("network fast path (runGroup) equals the event-driven path", () => {
  it("property: collectives on 1-2 V100 / H100 nodes, alone or with host copies joining mid-way", () => {
    let fastRuns = 0;
    let replays = 0;
    let isolated = 0;
    let unwound = 0;
    fc.assert(
      fc.property(caseArb, (c) => {
        const a = run(c, true);
        const b = run(c, false);
        expect(b.fastRuns).toBe(0);
        fastRuns += a.fastRuns;
        replays += a.replays;
        isolated += a.isolated;
        unwound += a.unwound;
        expect(a.done).toEqual(b.done);
        expect(a.end).toBe(b.end);
        expect(a.links).toEqual(b.links);
        expect(a.sent).toEqual(b.sent);
        expect(a.received).toEqual(b.received);
        expect(a.delivered).toEqual(b.delivered);
        expect(a.flows).toBe(b.flows);
      }),
      { numRuns: 250, seed: 20261125 },
    );
    // The fast path (with and without shared links) and its replay were all exercised.
    expect(fastRuns).toBeGreaterThan(100);
    expect(isolated).toBeGreaterThan(20);
    expect(fastRuns - isolated).toBeGreaterThan(20);
    expect(replays).toBeGreaterThan(5);
    // ... including replays of all-to-alls computed from their tables alone (taken back, then replayed)
    expect(unwound).toBeGreaterThan(3);
  });

  it("a collective alone costs one engine event for its flows (plus its launch)", () => {
    const sim = new Simulation();
    const cluster = new Cluster(sim, clusterSpecFrom({ preset: "paper-v100", nodes: 1 }), { recordTimeline: false });
    const sizes = new Float64Array(64).map((_, i) => 1000 + 37 * i);
    let at = -1;
    cluster.allToAll(
      Array.from({ length: 8 }, (_, i) => i),
      sizes,
      () => (at = sim.now),
    );
    const r = sim.run();
    expect(r.events).toBe(2); // launch overhead, delivery
    const slow = new Simulation();
    const c2 = new Cluster(slow, clusterSpecFrom({ preset: "paper-v100", nodes: 1 }), {
      recordTimeline: false,
      fastCollectives: false,
    });
    let at2 = -1;
    c2.allToAll(
      Array.from({ length: 8 }, (_, i) => i),
      sizes,
      () => (at2 = slow.now),
    );
    expect(slow.run().events).toBeGreaterThan(10);
    expect(at).toBe(at2);
  });

  it("property: an all-to-all on links of its own (closed form) equals the event path, at sizes whose finish falls next to an integer ns", () => {
    let closed = 0;
    let fallback = 0;
    const offsets = [0, 1e-9, 1e-7, 1e-6, 2e-6, 1e-4, 1e-3, 1.5e-3, 2e-3, 2.1e-3, 0.25, 0.5, 1 - 1e-3, 1 - 1e-7];
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.oneof(
          // clean: integer sizes, finishes away from an integer ns (the closed form takes them)
          fc.array(
            fc.record({
              bytes: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 5e7 })),
              whole: fc.integer({ min: 0, max: 200_000 }),
              off: fc.constantFrom(0, 0.01, 0.25, 0.5, 1 - 1e-3, 1 - 1e-7),
            }),
            { minLength: 16, maxLength: 16 },
          ),
          // raw: fractional sizes and finishes just after an integer ns too
          fc.array(
            fc.record({
              bytes: fc.oneof(
                fc.constant(0),
                fc.integer({ min: 1, max: 5e7 }),
                fc.double({ min: 0.5, max: 1e6, noNaN: true }),
              ),
              whole: fc.integer({ min: 0, max: 200_000 }),
              off: fc.constantFrom(...offsets),
            }),
            { minLength: 16, maxLength: 16 },
          ),
        ),
        fc.integer({ min: 0, max: 1e9 }),
        (n, pairs, t0) => {
          const run = (fast: boolean) => {
            const sim = new Simulation();
            const net = new FlowNetwork(sim, n);
            net.fastGroups = fast;
            // one link per pair, its capacity chosen so that bytes / capacity = whole + off (up to rounding)
            for (let p = 0; p < n * n; p++) {
              const q = pairs[p];
              const x = q.whole + q.off;
              const cap = q.bytes > 0 && x > 0 ? q.bytes / x : 1;
              net.addLink(`l${p}`, "nvlink", cap * 1e9, 10 * p + 0.5);
            }
            const group = Array.from({ length: n }, (_, i) => i);
            const routes = pairRoutes(group, (s, d, r) => ((r[0] = s * n + d), 1));
            expect(routes.disjoint).toBe(true);
            const sizes = Array.from({ length: n * n }, (_, p) => pairs[p].bytes);
            let at = -1;
            sim.schedule(t0, () => net.runAllToAll(routes, sizes, () => (at = sim.now)));
            sim.run();
            return {
              net,
              out: {
                at,
                end: sim.now,
                links: net.linkStats(),
                sent: Array.from(net.sentBytes),
                got: Array.from(net.receivedBytes),
                del: Array.from(net.deliveredBytes),
                flows: net.flowsDone,
                solves: net.solves,
                solved: net.solvedFlows,
              },
            };
          };
          const a = run(true);
          const b = run(false);
          closed += a.net.fastClosed;
          fallback += a.net.fastIsolated - a.net.fastClosed;
          expect(a.out).toEqual(b.out);
        },
      ),
      { numRuns: 400, seed: 20261126 },
    );
    // both the closed form and its check-by-check fallback were exercised
    expect(closed).toBeGreaterThan(30);
    expect(fallback).toBeGreaterThan(30);
  });
});
