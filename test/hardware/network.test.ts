import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Simulation } from "../../src/sim/engine.js";
import { FlowNetwork } from "../../src/hardware/network/index.js";

/** A network of `caps` links (bytes/s, latency ns) and two endpoints (0 -> 1). */
function net(links: Array<[bw: number, lat: number]>): { sim: Simulation; net: FlowNetwork; ids: number[] } {
  const sim = new Simulation();
  const n = new FlowNetwork(sim, 2);
  const ids = links.map(([bw, lat], i) => n.addLink(`l${i}`, "nic", bw, lat));
  return { sim, net: n, ids };
}

function start(n: FlowNetwork, route: number[], bytes: number, onDone: () => void, maxRate = Infinity): void {
  n.startFlow(route, route.length, bytes, n.group(1, onDone), 0, 1, bytes, maxRate);
}

describe("flow network: analytical cases", () => {
  it("a lone transfer takes latency + bytes / bandwidth (rounded up to the next ns)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 34 }),
        fc.integer({ min: 1, max: 1000 }).map((g) => g * 1e8),
        fc.integer({ min: 0, max: 50_000 }),
        (bytes, bw, lat) => {
          const { sim, net: n, ids } = net([[bw, lat]]);
          let t = -1;
          start(n, ids, bytes, () => (t = sim.now));
          sim.run();
          const exact = lat + (bytes / bw) * 1e9;
          expect(t).toBeGreaterThanOrEqual(Math.floor(exact));
          expect(t).toBeLessThan(exact + 1);
          expect(Number.isInteger(t)).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("a route's latency is the sum of its links' and its rate the slowest link's", () => {
    const {
      sim,
      net: n,
      ids,
    } = net([
      [100e9, 300],
      [25e9, 700],
      [50e9, 0],
    ]);
    let t = -1;
    start(n, ids, 1e6, () => (t = sim.now));
    sim.run();
    expect(t).toBe(1000 + 40_000); // 1 MB at 25 GB/s = 40 us
  });

  it("n equal flows on one link each get bandwidth / n", () => {
    for (const count of [1, 2, 3, 7, 16, 100]) {
      const { sim, net: n, ids } = net([[10e9, 1000]]);
      const done: number[] = [];
      for (let i = 0; i < count; i++) start(n, ids, 1e6, () => done.push(sim.now));
      sim.run({ until: 0 });
      for (const f of n.snapshot().flows) expect(f.rateBytesPerS).toBeCloseTo(10e9 / count, 0);
      sim.run();
      expect(done.length).toBe(count);
      // every flow at bandwidth / n: count x 100 us
      for (const t of done) expect(t).toBe(1000 + count * 100_000);
    }
  });

  it("flows on disjoint links do not slow each other", () => {
    const {
      sim,
      net: n,
      ids,
    } = net([
      [10e9, 0],
      [20e9, 0],
    ]);
    const done: number[] = [];
    start(n, [ids[0]], 1e6, () => done.push(sim.now));
    start(n, [ids[1]], 1e6, () => done.push(sim.now));
    sim.run();
    expect(done.sort((a, b) => a - b)).toEqual([50_000, 100_000]);
  });

  it("max-min: a flow limited elsewhere leaves the rest of a shared link to the others", () => {
    // link0 10 B/ns, link1 4 B/ns. A: link0+link1, B: link0, C: link1. Max-min: A = C = 2, B = 8.
    const {
      sim,
      net: n,
      ids,
    } = net([
      [10e9, 0],
      [4e9, 0],
    ]);
    const t: Record<string, number> = {};
    start(n, [ids[0], ids[1]], 800, () => (t.A = sim.now));
    start(n, [ids[0]], 800, () => (t.B = sim.now));
    start(n, [ids[1]], 400, () => (t.C = sim.now));
    sim.run({ until: 0 });
    const rates = n.snapshot().flows.map((f) => f.rateBytesPerS / 1e9);
    expect(rates).toEqual([2, 8, 2]);
    sim.run();
    // B: 800 / 8 = 100 ns. C: 400 / 2 = 200 ns. A: 400 left at 200 ns, then alone on link1 at 4: 300 ns.
    expect(t).toEqual({ A: 300, B: 100, C: 200 });
  });

  it("a flow arriving later takes its share from then on (recomputed when flows start and end)", () => {
    const { sim, net: n, ids } = net([[1e9, 0]]); // 1 B/ns
    const t: number[] = [];
    start(n, ids, 1000, () => t.push(sim.now));
    sim.schedule(200, () => start(n, ids, 200, () => t.push(sim.now)));
    sim.run();
    // first alone for 200 ns (800 left), then both at 0.5: the second's 200 bytes take 400 ns (t=600);
    // the first has 600 left at 600, alone again: done at 1200.
    expect(t).toEqual([600, 1200]);
  });

  it("a per-flow rate cap (pageable copies) leaves the rest of the link to others", () => {
    const { sim, net: n, ids } = net([[10e9, 0]]);
    const t: number[] = [];
    start(n, ids, 1000, () => t.push(sim.now), 2e9);
    start(n, ids, 1000, () => t.push(sim.now));
    sim.run({ until: 0 });
    expect(n.snapshot().flows.map((f) => f.rateBytesPerS / 1e9)).toEqual([2, 8]);
    sim.run();
    expect(t).toEqual([125, 500]);
  });

  it("property: every allocation is max-min fair (feasible, and each flow has a bottleneck)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 1, maxLength: 8 }),
        fc.array(
          fc.tuple(fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), fc.option(fc.integer({ min: 1, max: 50 }))),
          {
            minLength: 1,
            maxLength: 40,
          },
        ),
        (caps, flows) => {
          const { sim, net: n } = net(caps.map((c) => [c * 1e9, 0]));
          for (const [route, cap] of flows) {
            const r = [...new Set(route.map((x) => x % caps.length))];
            start(n, r, 1e6, () => {}, cap === null ? Infinity : cap * 1e9);
          }
          sim.run({ until: 0 });
          const snap = n.snapshot();
          const load = new Array(caps.length).fill(0);
          for (const f of snap.flows) for (const l of f.route) load[l] += f.rateBytesPerS;
          const eps = 1e-6;
          for (let l = 0; l < caps.length; l++)
            expect(load[l]).toBeLessThanOrEqual(snap.linkCapBytesPerS[l] * (1 + eps));
          for (const f of snap.flows) {
            expect(f.rateBytesPerS).toBeGreaterThan(0);
            if (f.rateBytesPerS >= f.maxRateBytesPerS * (1 - eps)) continue; // limited by its own cap
            const bottleneck = f.route.some(
              (l) =>
                load[l] >= snap.linkCapBytesPerS[l] * (1 - eps) &&
                snap.flows.every((g) => !g.route.includes(l) || g.rateBytesPerS <= f.rateBytesPerS * (1 + eps)),
            );
            expect(bottleneck).toBe(true);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("property: no flow finishes sooner than it would alone, and every byte is counted once", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 1, maxLength: 6 }),
        fc.array(
          fc.tuple(fc.array(fc.nat(), { minLength: 1, maxLength: 3 }), fc.integer({ min: 1, max: 1e7 }), fc.nat(5000)),
          {
            minLength: 1,
            maxLength: 30,
          },
        ),
        (caps, flows) => {
          const { sim, net: n } = net(caps.map((c) => [c * 1e9, 100]));
          let total = 0;
          let finished = 0;
          for (const [route, bytes, at] of flows) {
            const r = [...new Set(route.map((x) => x % caps.length))];
            total += bytes;
            sim.schedule(at, () => {
              const t0 = sim.now;
              const alone = 100 * r.length + bytes / Math.min(...r.map((l) => caps[l]));
              start(n, r, bytes, () => {
                expect(sim.now - t0).toBeGreaterThanOrEqual(Math.floor(alone));
                finished++;
              });
            });
          }
          sim.run();
          expect(finished).toBe(flows.length);
          expect(n.sentBytes[0]).toBe(total);
          expect(n.receivedBytes[1]).toBe(total);
          expect(n.activeFlows).toBe(0);
        },
      ),
      { numRuns: 200 },
    );
  });
});
