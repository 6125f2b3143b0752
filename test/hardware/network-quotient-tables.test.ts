import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Simulation } from "../../src/sim/engine.js";
import { FlowNetwork, MAX_ROUTE, pairRoutes, type PairRoutes } from "../../src/hardware/network/index.js";
import { BY_DEST, BY_SOURCE, tableQuotient } from "../../src/hardware/network/quotient.js";
import { QuotientSolver } from "../../src/hardware/network/quotient-solver.js";

/**
 * The quotient's condition (quotient.ts, tableQuotient) on made-up tables rather than a cluster's:
 * blocks of 1-4 members (mostly all of one size), routes built from link families held by a
 * member, a pair of members, a block, a pair of blocks or all (in a random order; a family twice
 * is a link crossed twice), pairs within a block on links of their own or meeting those across
 * blocks, links of a few capacities and latencies, members' pairs to themselves on a link of their
 * own or on none, and perturbations of single routes (positions swapped, an extra link, a link
 * crossed twice, a link's capacity changed). Wherever the condition holds and the sizes fit, every
 * member's delivery must be the one flow-by-flow solving gives (within 1 ns) and the link and
 * endpoint counters the same; the condition must hold and fail often enough that neither side is
 * vacuous. The reference is the event-driven path with one group per flow, not the fast path.
 * Dropping tableQuotient's check of one M per orbit, or of M / |L| members per link, or the
 * capacity from an orbit's key makes it fail.
 */
const FAMILIES = [
  "src",
  "srcPair",
  "srcBlock",
  "dst",
  "dstPair",
  "dstBlock",
  "blockPair",
  "global",
  "pair",
  "srcToBlock",
  "blockToDst",
] as const;
type Family = (typeof FAMILIES)[number];
interface Hop {
  fam: Family;
  cap: number;
  lat: number;
}
interface Perturb {
  pair: number;
  op: "swap" | "extra" | "twice" | "cap";
  a: number;
  b: number;
}
interface Case {
  blocks: number[];
  cross: Hop[];
  local: Hop[];
  selfLink: boolean;
  /** Pairs within a block cross links of their own families (else the same as pairs across blocks, where keys meet). */
  localApart: boolean;
  perturb: Perturb[];
  pattern: "dest" | "source" | "random";
  values: number[];
  self: boolean;
  fractional: boolean;
}

const hopArb: fc.Arbitrary<Hop> = fc.record({
  fam: fc.constantFrom(...FAMILIES),
  cap: fc.constantFrom(1, 2, 3, 8),
  lat: fc.constantFrom(0, 300, 1000),
});

const caseArb: fc.Arbitrary<Case> = fc.record({
  blocks: fc.oneof(
    {
      weight: 3,
      arbitrary: fc
        .tuple(fc.integer({ min: 2, max: 4 }), fc.integer({ min: 2, max: 4 }))
        .map(([k, g]) => Array.from({ length: k }, () => g)),
    },
    { weight: 1, arbitrary: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 2, maxLength: 4 }) },
  ),
  // mostly routes of distinct families (a family twice is a link crossed twice: refused)
  cross: fc.oneof(
    { weight: 3, arbitrary: fc.uniqueArray(hopArb, { minLength: 1, maxLength: 4, selector: (h) => h.fam }) },
    { weight: 1, arbitrary: fc.array(hopArb, { minLength: 1, maxLength: 5 }) },
  ),
  local: fc.uniqueArray(hopArb, { minLength: 0, maxLength: 3, selector: (h) => h.fam }),
  selfLink: fc.boolean(),
  localApart: fc.boolean(),
  perturb: fc.oneof(
    { weight: 2, arbitrary: fc.constant<Perturb[]>([]) },
    {
      weight: 1,
      arbitrary: fc.array(
        fc.record({
          pair: fc.nat(1000),
          op: fc.constantFrom("swap" as const, "extra" as const, "twice" as const, "cap" as const),
          a: fc.nat(20),
          b: fc.nat(20),
        }),
        { minLength: 1, maxLength: 2 },
      ),
    },
  ),
  pattern: fc.constantFrom("dest" as const, "source" as const, "random" as const),
  values: fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 2e6 })), { minLength: 1, maxLength: 16 }),
  self: fc.boolean(),
  fractional: fc.boolean(),
});

interface Built {
  n: number;
  block: Int32Array;
  t: PairRoutes;
  links: Array<{ cap: number; lat: number }>;
  sizes: Float64Array;
}

function build(c: Case): Built {
  const block: number[] = [];
  const local: number[] = [];
  c.blocks.forEach((g, b) => {
    for (let k = 0; k < g; k++) {
      block.push(b);
      local.push(k);
    }
  });
  const n = block.length;
  const links: Array<{ cap: number; lat: number }> = [];
  const ids = new Map<string, number>();
  const link = (key: string, cap: number, lat: number): number => {
    let id = ids.get(key);
    if (id === undefined) {
      ids.set(key, (id = links.length));
      links.push({ cap, lat });
    }
    return id;
  };
  const keyOf = (fam: Family, i: number, j: number): string => {
    const [bi, bj] = [block[i], block[j]];
    const k: Record<Family, string> = {
      src: `${i}`,
      srcPair: `${bi}.${local[i] >> 1}`,
      srcBlock: `${bi}`,
      dst: `${j}`,
      dstPair: `${bj}.${local[j] >> 1}`,
      dstBlock: `${bj}`,
      blockPair: `${bi}-${bj}`,
      global: "",
      pair: `${i}-${j}`,
      srcToBlock: `${i}-${bj}`,
      blockToDst: `${bi}-${j}`,
    };
    return `${fam}:${k[fam]}`;
  };
  const routes: number[][] = [];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const hops = i === j ? [] : block[i] === block[j] ? c.local : c.cross;
      const apart = c.localApart && block[i] === block[j] ? "local " : "";
      const r = hops.map((h) => link(apart + keyOf(h.fam, i, j), h.cap, h.lat));
      if (i === j && c.selfLink) r.push(link(`self:${i}`, 4, 0));
      routes.push(r);
    }
  }
  for (const p of c.perturb) {
    const r = routes[p.pair % routes.length];
    if (r.length === 0) continue;
    if (p.op === "swap") [r[p.a % r.length], r[p.b % r.length]] = [r[p.b % r.length], r[p.a % r.length]];
    else if (p.op === "extra" && r.length < MAX_ROUTE)
      r.splice(p.a % (r.length + 1), 0, link(`extra:${p.b % 3}`, 2, 0));
    else if (p.op === "twice" && r.length < MAX_ROUTE) r.push(r[p.a % r.length]);
    else if (p.op === "cap") links[r[p.a % r.length]].cap *= 1.5;
  }
  const t = pairRoutes(
    Array.from({ length: n }, (_, i) => i),
    (s, d, out) => {
      const r = routes[s * n + d];
      r.forEach((l, x) => (out[x] = l));
      return r.length;
    },
  );
  const sizes = new Float64Array(n * n);
  const v = (k: number): number => c.values[k % c.values.length] * (c.fractional ? 1 / 3 : 1);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (i === j && !c.self) continue;
      sizes[i * n + j] = v(c.pattern === "dest" ? j : c.pattern === "source" ? i : i * n + j);
    }
  }
  return { n, block: Int32Array.from(block), t, links, sizes };
}

function network(b: Built): { sim: Simulation; net: FlowNetwork } {
  const sim = new Simulation();
  const net = new FlowNetwork(sim, b.n);
  b.links.forEach((l, i) => net.addLink(`l${i}`, "fabric", l.cap * 1e9, l.lat));
  return { sim, net };
}

function counters(net: FlowNetwork) {
  return {
    linkBytes: Array.from(net.linkBytes.subarray(0, net.nLinks)),
    linkBusy: Array.from(net.linkBusy.subarray(0, net.nLinks)),
    sent: Array.from(net.sentBytes),
    received: Array.from(net.receivedBytes),
    delivered: Array.from(net.deliveredBytes),
  };
}

/** Flow by flow, each pair its own group: every pair's delivery (ns) and the counters. */
function byFlows(b: Built) {
  const { sim, net } = network(b);
  const nn = b.n * b.n;
  const at = new Float64Array(nn).fill(-1);
  const r = new Int32Array(MAX_ROUTE);
  for (let p = 0; p < nn; p++) {
    const bytes = b.sizes[p];
    if (!(bytes > 0)) continue;
    const k = b.t.len[p];
    for (let x = 0; x < k; x++) r[x] = b.t.route[p * MAX_ROUTE + x];
    net.startFlow(
      r,
      k,
      bytes,
      net.group(1, () => (at[p] = sim.now)),
      b.t.src[p],
      b.t.dst[p],
    );
  }
  sim.run();
  return { at, c: counters(net) };
}

/** On the quotient: every pair's delivery and the counters; null where the condition fails, undefined where the sizes do not fit. */
function byQuotient(b: Built, kind: number) {
  const { net } = network(b);
  const tq = tableQuotient(b.t, b.block, kind, net.linkCap, net.linkLat);
  if (tq === null) return null;
  const qs = new QuotientSolver(tq);
  if (!qs.fits(b.sizes)) return undefined;
  const lat = net.ratesOf(b.t).lat;
  const out = [0, 0, 0, 0, 0];
  qs.run(net, b.t, b.sizes, lat, 0, out);
  // a member's delivery: its quotient flow's finish (the solver's completion checks) + its route's latency
  const fin = (qs as unknown as { fin: Float64Array }).fin;
  const at = new Float64Array(b.n * b.n).fill(-1);
  for (let p = 0; p < at.length; p++) if (b.sizes[p] > 0) at[p] = Math.ceil(fin[tq.qOf[p]] + lat[p]);
  return { at, c: counters(net), deliver: out[0] };
}

describe("symmetry quotient on made-up tables", () => {
  it("gives every member the flow-by-flow delivery and counters wherever its condition holds (property)", () => {
    let taken = 0;
    let refused = 0;
    let noFit = 0;
    fc.assert(
      fc.property(caseArb, (c) => {
        const b = build(c);
        let m: ReturnType<typeof byFlows> | null = null;
        for (const kind of [BY_SOURCE, BY_DEST]) {
          const q = byQuotient(b, kind);
          if (q === null) refused++;
          if (q === undefined) noFit++;
          if (!q) continue;
          taken++;
          m ??= byFlows(b);
          let last = 0;
          for (let p = 0; p < q.at.length; p++) {
            expect(Math.abs(q.at[p] - m.at[p]), `pair ${p}`).toBeLessThanOrEqual(1);
            last = Math.max(last, m.at[p]);
          }
          expect(Math.abs(Math.ceil(q.deliver) - last)).toBeLessThanOrEqual(1);
          const rel = c.fractional ? 1e-12 : 0;
          for (const key of ["linkBytes", "sent", "received", "delivered"] as const) {
            q.c[key].forEach((x, i) => {
              const y = m!.c[key][i];
              expect(Math.abs(x - y), `${key}[${i}]`).toBeLessThanOrEqual(rel * Math.max(x, y));
            });
          }
          q.c.linkBusy.forEach((x, i) => expect(Math.abs(x - m!.c.linkBusy[i]), `busy[${i}]`).toBeLessThanOrEqual(1));
        }
      }),
      { numRuns: 300, seed: 2026 },
    );
    expect(taken).toBeGreaterThan(30);
    expect(refused).toBeGreaterThan(30);
    expect(noFit).toBeGreaterThan(30);
  });
});
