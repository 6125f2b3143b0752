import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { MaxMin } from "../../src/hardware/network/maxmin.js";
import { FlowNetwork } from "../../src/hardware/network/index.js";
import { Simulation } from "../../src/sim/engine.js";
import { Cluster } from "../../src/hardware/cluster.js";
import { clusterSpecFrom } from "../../src/hardware/presets.js";
import { rootStream } from "../../src/sim/rng.js";

/**
 * Tolerance of incremental vs full values, as a fraction of the largest capacity: the incremental
 * solve keeps a value when its constraint's slack is within FAIR_TOL (1e-11) of capacity, so a kept
 * value can lie below the full solve's by at most that slack shared out, and re-solved values carry
 * the rounding of other sums than the full solve's (about 1e-14 of capacity here); 1e-9 leaves
 * room for both over a whole removal sequence (docs/hardware.md, "Speed").
 */
const TOL = 1e-9;

interface Var {
  on: number[];
  bound?: number;
}

/** A fresh system of the given constraints and variables, solved from scratch: the reference. */
function fullSolve(caps: number[], vars: Var[]): number[] {
  const mm = new MaxMin();
  for (const c of caps) mm.addConstraint(c);
  const ids = vars.map((v) => mm.addVariable(v.on, v.bound));
  mm.solveAll();
  return ids.map((v) => mm.value[v]);
}

/**
 * Solves the system once, then removes the variables in `order`, `batch` at a time, re-solving
 * incrementally after each batch; after each, compares every remaining value with a full solve of
 * the remaining system. Returns how many variables the incremental solves re-solved in all.
 */
function checkRemovals(caps: number[], vars: Var[], order: number[], batch: number): number {
  const mm = new MaxMin();
  for (const c of caps) mm.addConstraint(c);
  const ids = vars.map((v) => mm.addVariable(v.on, v.bound));
  mm.solveAll();
  const alive = new Set(vars.map((_, i) => i));
  const scale = Math.max(...caps);
  let resolved = 0;
  for (let i = 0; i < order.length; i += batch) {
    for (const k of order.slice(i, i + batch)) {
      mm.removeVariable(ids[k]);
      alive.delete(k);
    }
    resolved += mm.resolveAll();
    const left = [...alive];
    // feasible on every constraint, those left out as loose included
    caps.forEach((cap, c) => {
      const used = left.reduce((sum, k) => sum + (vars[k].on.includes(c) ? mm.value[ids[k]] : 0), 0);
      expect(used).toBeLessThanOrEqual(cap * (1 + TOL));
    });
    const ref = fullSolve(
      caps,
      left.map((k) => vars[k]),
    );
    left.forEach((k, j) => {
      const got = mm.value[ids[k]];
      if (!(Math.abs(got - ref[j]) <= TOL * scale)) {
        throw new Error(
          `variable ${k}: incremental ${got}, full ${ref[j]} after removing ${order.slice(0, i + batch).join(",")}`,
        );
      }
    });
  }
  return resolved;
}

/** Random systems: capacities drawn from a few values (ties are the hard case) or freely; 1-4 constraints per variable. */
const systemArb = fc
  .record({
    caps: fc.oneof(
      fc.array(fc.constantFrom(10, 20, 40), { minLength: 1, maxLength: 8 }),
      fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 1, maxLength: 8 }),
    ),
    raw: fc.array(
      fc.record({
        on: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
        bound: fc.option(fc.integer({ min: 1, max: 30 }), { freq: 4 }),
      }),
      { minLength: 1, maxLength: 30 },
    ),
    seed: fc.nat(),
    batch: fc.integer({ min: 1, max: 3 }),
  })
  .map(({ caps, raw, seed, batch }) => {
    const vars: Var[] = raw.map((v) => ({
      on: [...new Set(v.on.map((x) => x % caps.length))],
      bound: v.bound ?? undefined,
    }));
    // a removal order: a seeded shuffle
    const rng = rootStream(seed).child("order");
    const order = vars.map((_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rng.next() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    return { caps, vars, order, batch };
  });

/** An all-to-all's bipartite NIC structure: n senders and n receivers of equal capacity, one variable per pair. */
function bipartite(n: number, cap: number): { caps: number[]; vars: Var[] } {
  const caps = Array.from({ length: 2 * n }, () => cap);
  const vars: Var[] = [];
  for (let s = 0; s < n; s++) for (let d = 0; d < n; d++) if (s !== d) vars.push({ on: [s, n + d] });
  return { caps, vars };
}

describe("MaxMin: incremental re-solve after removals equals a full solve", () => {
  it("nothing is re-solved when every variable keeps a bottleneck (equal shares of a bipartite all-to-all)", () => {
    // 4 senders and 4 receivers of capacity 12, 3 variables each: every value 4. Removing one
    // leaves its sender and receiver with slack, but each other variable still has a saturated
    // constraint at its other end on which it has the largest value.
    const { caps, vars } = bipartite(4, 12);
    expect(fullSolve(caps, vars)).toEqual(new Array(12).fill(4));
    expect(checkRemovals(caps, vars, [0], 1)).toBe(0);
  });

  it("a variable that loses its only bottleneck is re-solved, with those above it connected to it", () => {
    // Constraint 0 (cap 2): a, b. Constraint 1 (cap 10): b, c. a = b = 1, c = 9. Removing a frees
    // constraint 0: b rises to 2 and takes from c (8): both re-solved (2 variables).
    const caps = [2, 10];
    const vars: Var[] = [{ on: [0] }, { on: [0, 1] }, { on: [1] }];
    expect(fullSolve(caps, vars)).toEqual([1, 1, 9]);
    expect(checkRemovals(caps, vars, [0], 1)).toBe(2);
  });

  it("values below the smallest failing value are kept: a flow capped low elsewhere is not re-solved", () => {
    // Constraint 0 (cap 1): x only. Constraint 1 (cap 9): x, y, z. Constraint 2 (cap 10): z, w.
    // x = 1 (constraint 0); y = z = 4 (constraint 1); w = 6. Removing y: z loses constraint 1 as a
    // bottleneck (slack 4; on constraint 2 w has more) and rises to 5, shared with w (the flows of
    // value >= 4 connected to z); x (1), which shared constraint 1 with y, keeps constraint 0.
    const caps = [1, 9, 10];
    const vars: Var[] = [{ on: [0, 1] }, { on: [1] }, { on: [1, 2] }, { on: [2] }];
    expect(fullSolve(caps, vars)).toEqual([1, 4, 4, 6]);
    expect(checkRemovals(caps, vars, [1], 1)).toBe(2);
  });

  it("a constraint that cannot bind is left out: a PCIe link behind its one, slower NIC", () => {
    // Constraint 0 (cap 10, "PCIe") is crossed only by variables that also cross constraint 1
    // (cap 8, "NIC"): their values sum to at most 8 on it, so 0 is loose. Constraint 2 (cap 9) has
    // a variable crossing it alone: no witness, not loose.
    const mm = new MaxMin();
    for (const c of [10, 8, 9]) mm.addConstraint(c);
    const a = mm.addVariable([0, 1]);
    const b = mm.addVariable([0, 1]);
    const c = mm.addVariable([1, 2]);
    const d = mm.addVariable([2]);
    mm.solveAll();
    expect([mm.loose[0], mm.loose[1], mm.loose[2]]).toEqual([1, 0, 0]);
    expect([a, b, c].map((v) => mm.value[v] * 3)).toEqual([8, 8, 8]);
    expect(mm.value[d]).toBeCloseTo(9 - 8 / 3, 12);
  });

  it("property: random systems, random removal orders and batch sizes", () => {
    fc.assert(
      fc.property(systemArb, ({ caps, vars, order, batch }) => {
        checkRemovals(caps, vars, order, batch);
      }),
      { numRuns: 400 },
    );
  });

  it("property: bipartite all-to-alls (every value tied at first), random removal orders", () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 9 }), fc.nat(), (n, seed) => {
        const { caps, vars } = bipartite(n, 48);
        const rng = rootStream(seed).child("bipartite");
        const order = vars.map((_, i) => i);
        for (let i = order.length - 1; i > 0; i--) {
          const j = Math.floor(rng.next() * (i + 1));
          [order[i], order[j]] = [order[j], order[i]];
        }
        const resolved = checkRemovals(caps, vars, order, 1);
        // the full re-solve would have re-solved every remaining variable after every removal
        expect(resolved).toBeLessThan((vars.length * (vars.length - 1)) / 2);
      }),
      { numRuns: 60 },
    );
  });
});

interface FlowCase {
  route: number[];
  bytes: number;
  at: number;
}

/** Runs the flows on a flow network (incremental re-solve on or off); each flow's delivery time. */
function deliveries(incremental: boolean, caps: number[], flows: FlowCase[]): number[] {
  const sim = new Simulation();
  const net = new FlowNetwork(sim, 2);
  net.incremental = incremental;
  const ids = caps.map((bw, i) => net.addLink(`l${i}`, "nic", bw * 1e9, 100));
  const done = new Array<number>(flows.length).fill(-1);
  flows.forEach((f, i) => {
    sim.schedule(f.at, () => {
      const r = [...new Set(f.route.map((x) => ids[x % ids.length]))];
      net.startFlow(
        r,
        r.length,
        f.bytes,
        net.group(1, () => (done[i] = sim.now)),
        0,
        1,
      );
    });
  });
  sim.run();
  return done;
}

/**
 * Delivery times of the incremental and full re-solves agree within 1e-6 of the time plus 1 ns per
 * completion instant before it: rates agree within TOL of capacity (a relative error of at most
 * 1e-7 on the rates here), and a completion check, rounded up to whole ns, can move by 1 ns when
 * its exact time lies that close to an integer, moving the later ones with it.
 */
function expectClose(a: number[], b: number[]): void {
  const instants = new Set(b).size;
  a.forEach((t, i) => expect(Math.abs(t - b[i])).toBeLessThanOrEqual(1e-6 * b[i] + instants));
}

describe("flow network: incremental re-solve equals the full re-solve", () => {
  it("property: random links and flows (shared, late starts) end at the same ns (within rounding)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constantFrom(10, 25, 50), fc.integer({ min: 1, max: 100 })), {
          minLength: 1,
          maxLength: 10,
        }),
        fc.array(
          fc.record({
            route: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
            bytes: fc.oneof(fc.integer({ min: 1, max: 1e7 }), fc.constantFrom(4096, 65536)),
            at: fc.oneof(fc.constant(0), fc.nat(20_000)),
          }),
          { minLength: 1, maxLength: 40 },
        ),
        (caps, flows) => {
          expectClose(deliveries(true, caps, flows), deliveries(false, caps, flows));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("variable-size all-to-alls on 2-4 DGX H100 nodes (fast path and event path) end at the same ns (within rounding)", () => {
    const rng = rootStream(11).child("network-incremental");
    for (const nodes of [2, 4]) {
      for (const fast of [true, false]) {
        const times: number[][] = [];
        const solved: number[] = [];
        for (const incremental of [true, false]) {
          const sim = new Simulation();
          const cluster = new Cluster(sim, clusterSpecFrom({ preset: "dgx-h100", nodes }), { recordTimeline: false });
          const net = cluster.net as FlowNetwork; // network_model flow: the default
          net.incremental = incremental;
          net.fastGroups = fast;
          const n = cluster.gpuCount;
          const r = rng.child(`${nodes}`);
          const sizes = new Float64Array(n * n);
          for (let i = 0; i < sizes.length; i++) sizes[i] = r.next() < 0.1 ? 0 : Math.floor(r.next() * 1e6);
          const t: number[] = [];
          cluster.allToAll(
            Array.from({ length: n }, (_, i) => i),
            sizes,
            () => t.push(sim.now),
          );
          sim.schedule(20_000, () => cluster.hostToDevice(0, 1 << 20, () => t.push(sim.now)));
          sim.run();
          times.push(t);
          solved.push(net.solvedFlows);
        }
        expectClose(times[0], times[1]);
        expect(solved[0]).toBeLessThan(solved[1]);
      }
    }
  });
});
