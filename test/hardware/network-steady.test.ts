import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { MaxMin } from "../../src/hardware/network/index.js";
import { TableQuotient } from "../../src/hardware/network/quotient.js";
import { MAX_ROUTE } from "../../src/hardware/network/routes.js";
import { SteadyComponents } from "../../src/hardware/network/steady.js";

/**
 * Steady components (steady.ts): the flows it computes in closed form must finish when max-min
 * fair sharing, re-solved at every completion, finishes them. The reference is an event loop over
 * the standalone MaxMin solver; systems are random orbits (capacities) and flows (routes, sizes),
 * with many equal sizes so that steady bottlenecks occur.
 */
interface System {
  caps: number[];
  flows: Array<{ route: number[]; bytes: number }>;
}

function quotientOf(s: System): TableQuotient {
  const nq = s.flows.length;
  const qRoute = new Int32Array(nq * MAX_ROUTE);
  const qLen = new Int32Array(nq);
  const byOrbit: number[][] = s.caps.map(() => []);
  s.flows.forEach((f, q) => {
    qLen[q] = f.route.length;
    f.route.forEach((o, x) => {
      qRoute[q * MAX_ROUTE + x] = o;
      byOrbit[o].push(q);
    });
  });
  const oStart = new Int32Array(s.caps.length + 1);
  byOrbit.forEach((qs, o) => (oStart[o + 1] = oStart[o] + qs.length));
  return new TableQuotient({
    kind: 0,
    nq,
    qOf: new Int32Array(0),
    mult: new Int32Array(nq).fill(1),
    qRoute,
    qLen,
    orbitCap: Float64Array.from(s.caps),
    orbitSize: new Int32Array(s.caps.length).fill(1),
    rep: new Int32Array(nq),
    aggregates: 0,
    oLinkStart: new Int32Array(s.caps.length + 1),
    oLinks: new Int32Array(0),
    oStart,
    oq: Int32Array.from(byOrbit.flat()),
    oCount: new Int32Array(oStart[s.caps.length]).fill(1),
  });
}

/** Finish time of every flow (NaN: no bytes) under max-min rates re-solved at each completion. */
function reference(s: System): number[] {
  const mm = new MaxMin();
  for (const c of s.caps) mm.addConstraint(c);
  const live = new Map<number, { v: number; rem: number }>();
  s.flows.forEach((f, q) => {
    if (f.bytes > 0) live.set(q, { v: mm.addVariable(f.route), rem: f.bytes });
  });
  const fin = s.flows.map(() => NaN);
  let t = 0;
  while (live.size > 0) {
    mm.solveAll();
    let dt = Infinity;
    for (const { v, rem } of live.values()) dt = Math.min(dt, rem / mm.value[v]);
    t += dt;
    for (const [q, f] of live) {
      f.rem -= mm.value[f.v] * dt;
      if (f.rem <= 1e-9 * s.flows[q].bytes) {
        fin[q] = t;
        mm.removeVariable(f.v);
        live.delete(q);
      }
    }
  }
  return fin;
}

function steadyRun(s: System, t0: number) {
  const tq = quotientOf(s);
  const sc = new SteadyComponents(tq);
  const fin = new Float64Array(tq.nq);
  const out = [0, 0];
  const n = sc.run(
    Float64Array.from(s.flows, (f) => f.bytes),
    t0,
    fin,
    out,
  );
  return { n, fin, closed: Array.from(sc.closed), out };
}

const systemArb: fc.Arbitrary<System> = fc.integer({ min: 1, max: 5 }).chain((nO) =>
  fc.record({
    caps: fc.array(fc.constantFrom(1, 2, 4, 8), { minLength: nO, maxLength: nO }),
    flows: fc.array(
      fc.record({
        route: fc.uniqueArray(fc.nat(nO - 1), { minLength: 1, maxLength: Math.min(3, nO) }),
        bytes: fc.constantFrom(0, 1000, 1000, 2000, 3000, 7777),
      }),
      { minLength: 1, maxLength: 8 },
    ),
  }),
);

describe("steady components (closed-form quotient flows)", () => {
  it("finish every flow they compute when re-solved max-min sharing does (property)", () => {
    let closed = 0;
    let open = 0;
    fc.assert(
      fc.property(systemArb, (s) => {
        const t0 = 1_000_000;
        const got = steadyRun(s, t0);
        const ref = reference(s);
        s.flows.forEach((f, q) => {
          if (!(f.bytes > 0)) return;
          if (got.closed[q] === 0) {
            open++;
            return;
          }
          closed++;
          const d = got.fin[q] - t0;
          expect(d, `flow ${q}`).toBeGreaterThanOrEqual(ref[q] - 1e-6);
          expect(d, `flow ${q}`).toBeLessThanOrEqual(ref[q] + 1 + 1e-6);
        });
      }),
      { numRuns: 400, seed: 2026 },
    );
    // both outcomes occur, so neither half of the check is vacuous
    expect(closed).toBeGreaterThan(100);
    expect(open).toBeGreaterThan(100);
  });

  it("leaves a flow whose shared orbit is not saturated at its share to progressive filling", () => {
    // f0 and f1 (same size) share orbit 0 (capacity 2, share 1); f1 also crosses orbit 1 (capacity
    // 0.5): f1 runs at 0.5, so f0 gets 1.5, not orbit 0's share; f1's bottleneck (orbit 1) is steady
    const s: System = {
      caps: [2, 0.5],
      flows: [
        { route: [0], bytes: 1000 },
        { route: [0, 1], bytes: 1000 },
      ],
    };
    expect(steadyRun(s, 0).closed).toEqual([0, 0]);
    // the reference: f0 at 1.5 (what orbit 0 leaves it), not at orbit 0's share of 1
    expect(reference(s)[0]).toBeCloseTo(1000 / 1.5, 6);
  });

  it("computes a destination-sized dispatch through a switch in closed form", () => {
    // 4 senders (orbits 0-3, capacity 3), 4 receivers (orbits 4-7, capacity 3); flow i -> j for
    // i != j, sized by the receiver: every flow into j runs at 1 until all of them are done
    const sizes = [300, 600, 900, 1200];
    const flows: System["flows"] = [];
    for (let i = 0; i < 4; i++)
      for (let j = 0; j < 4; j++) if (i !== j) flows.push({ route: [i, 4 + j], bytes: sizes[j] });
    const s: System = { caps: Array(8).fill(3), flows };
    const got = steadyRun(s, 0);
    expect(got.n).toBe(12);
    flows.forEach((f, q) => expect(got.fin[q]).toBe(f.bytes));
    expect(got.out).toEqual([1200, 1200]);
  });
});
