/**
 * Symmetry quotients of an all-to-all on an idle network (fast-path.ts). On a cluster, an
 * all-to-all whose sizes depend only on the destination (a MoE dispatch under load-level routing:
 * every source sends its share of each destination's rows) sends the same bytes from the M GPUs
 * of a node to a GPU of another node, over links that the node's GPUs hold in parallel (each its
 * PCIe up-link and NIC) or in common (the destination's NIC). Those M flows run at one rate from
 * start to end and finish together; max-min progressive filling can run on one flow per such set
 * (an aggregate) over one constraint per set of parallel links (an orbit), and the members' rates
 * are the aggregate's divided by M. The combine (sizes that depend only on the source) is the
 * mirror: a GPU's flows to the M GPUs of another node.
 *
 * The condition, checked on the table's routes (no topology is assumed): the pairs are split into
 * quotient flows (aggregates: by (source block, destination) or (source, destination block) for
 * pairs across blocks; every other pair alone), and the links into orbits (links with the same
 * capacity, latency and incidences: the same quotient flows at the same route positions, as many
 * times each). It holds when, for every orbit L and every quotient flow q crossing it, each link
 * of L carries exactly M_q / |L| of q's members at one route position, and every quotient flow on L
 * has the same M. Then every member of q crosses one link of L at that position; a link's load is
 * 1 / |L| of the orbit's (sum of the aggregates' rates R_q = M r_q); an orbit of capacity |L| x C
 * saturates exactly when its links do; and on it the aggregates compare as their members do (equal
 * M). So the rates r_q = R_q / M of max-min on the quotient are feasible and give every member a
 * bottleneck on the original links: they are the original's max-min rates (which are unique), at
 * every instant, since completions remove whole quotient flows. Per call the sizes must be equal
 * within each aggregate (all zero, or all the same size).
 *
 * Floating point: the quotient sums different numbers of terms than the member path (R_q over
 * aggregates instead of r over members), so its rates and finish times equal the member path's in
 * exact arithmetic and agree to rounding (a completion check can move by 1 ns); the counters are
 * exact (whole bytes).
 */
import type { ProductSizes } from "./product-sizes.js";
import { MAX_ROUTE, type PairRoutes } from "./routes.js";

/** Aggregate the sources of a block (sizes that depend on the destination) or the destinations (on the source). */
export const BY_SOURCE = 0;
export const BY_DEST = 1;

export class TableQuotient {
  declare readonly kind: number;
  /** Quotient flows: aggregates and single pairs. */
  declare readonly nq: number;
  /** Per pair of the table: its quotient flow (-1: a pair with an empty route). */
  declare readonly qOf: Int32Array;
  /** Per quotient flow: its members (pairs). */
  declare readonly mult: Int32Array;
  /** Per quotient flow: its route over orbits (qRoute[q * MAX_ROUTE ..], qLen[q] of them). */
  declare readonly qRoute: Int32Array;
  declare readonly qLen: Int32Array;
  /** Per orbit: its capacity (bytes per ns), the sum of its links'. */
  declare readonly orbitCap: Float64Array;
  /** Per orbit: its links. */
  declare readonly orbitSize: Int32Array;
  /** Per quotient flow: its first pair (all its members' routes have that one's latencies). */
  declare readonly rep: Int32Array;
  /** Quotient flows of more than one member. */
  declare readonly aggregates: number;
  /** Per member: its block (what the aggregates are taken over). */
  declare readonly block: Int32Array;
  /** The pairs whose routes are empty (qOf -1). */
  declare readonly empty: Int32Array;
  /**
   * Per orbit o: its links oLinks[oLinkStart[o] .. oLinkStart[o + 1]), and the quotient flows each
   * of them carries, oq[oStart[o] .. oStart[o + 1]), with how many members of each (oCount).
   */
  declare readonly oLinkStart: Int32Array;
  declare readonly oLinks: Int32Array;
  declare readonly oStart: Int32Array;
  declare readonly oq: Int32Array;
  declare readonly oCount: Int32Array;
  constructor(o: {
    kind: number;
    nq: number;
    qOf: Int32Array;
    mult: Int32Array;
    qRoute: Int32Array;
    qLen: Int32Array;
    orbitCap: Float64Array;
    orbitSize: Int32Array;
    rep: Int32Array;
    aggregates: number;
    block?: Int32Array;
    empty?: Int32Array;
    oLinkStart: Int32Array;
    oLinks: Int32Array;
    oStart: Int32Array;
    oq: Int32Array;
    oCount: Int32Array;
  }) {
    this.kind = o.kind;
    this.nq = o.nq;
    this.qOf = o.qOf;
    this.mult = o.mult;
    this.qRoute = o.qRoute;
    this.qLen = o.qLen;
    this.orbitCap = o.orbitCap;
    this.orbitSize = o.orbitSize;
    this.rep = o.rep;
    this.aggregates = o.aggregates;
    this.block = o.block ?? new Int32Array(0);
    this.empty = o.empty ?? new Int32Array(0);
    this.oLinkStart = o.oLinkStart;
    this.oLinks = o.oLinks;
    this.oStart = o.oStart;
    this.oq = o.oq;
    this.oCount = o.oCount;
  }
}

/** Per pair its quotient flow, the flows' member counts, and how many there are. */
function quotientFlows(t: PairRoutes, block: Int32Array, kind: number): [Int32Array, Int32Array, number] {
  const n = t.n;
  let nb = 0;
  for (let i = 0; i < n; i++) if (block[i] + 1 > nb) nb = block[i] + 1;
  const aggId = new Int32Array(nb * n).fill(-1);
  const qOf = new Int32Array(n * n).fill(-1);
  const count: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const p = i * n + j;
      if (t.len[p] === 0) continue;
      let q: number;
      if (block[i] === block[j]) {
        q = count.length;
        count.push(0);
      } else {
        const key = kind === BY_SOURCE ? block[i] * n + j : block[j] * n + i;
        q = aggId[key];
        if (q < 0) {
          q = aggId[key] = count.length;
          count.push(0);
        }
      }
      qOf[p] = q;
      count[q]++;
    }
  }
  return [qOf, Int32Array.from(count), count.length];
}

/**
 * The quotient of table t by blocks of members (block[i]: member i's block, e.g. its node), or
 * null where the condition of the file comment fails or no aggregate has more than one member
 * (unless `identity`: then a quotient of single pairs is returned too, for its steady components).
 * linkCap / linkLat: the network's per-link capacity (bytes per ns) and latency.
 */
export function tableQuotient(
  t: PairRoutes,
  block: Int32Array,
  kind: number,
  linkCap: Float64Array,
  linkLat: Float64Array,
  identity = false,
): TableQuotient | null {
  const n = t.n;
  const nn = n * n;
  const [qOf, mult, nq] = quotientFlows(t, block, kind);
  let aggregates = 0;
  for (let q = 0; q < nq; q++) if (mult[q] > 1) aggregates++;
  if (aggregates === 0 && !identity) return null;
  // incidences per link: codes q * MAX_ROUTE + position
  const inc = new Map<number, number[]>();
  for (let p = 0; p < nn; p++) {
    const q = qOf[p];
    if (q < 0) continue;
    for (let x = 0; x < t.len[p]; x++) {
      const l = t.route[p * MAX_ROUTE + x];
      let a = inc.get(l);
      if (a === undefined) inc.set(l, (a = []));
      a.push(q * MAX_ROUTE + x);
    }
  }
  // orbits: links with the same capacity, latency and incidences (code, count)
  const orbitOf = new Map<number, number>();
  const orbitByKey = new Map<string, number>();
  const orbitSig: Array<Array<[number, number]>> = [];
  const orbitSize: number[] = [];
  const orbitLinkCap: number[] = [];
  for (const [l, codes] of inc) {
    codes.sort((a, b) => a - b);
    const sig: Array<[number, number]> = [];
    for (const c of codes) {
      const last = sig[sig.length - 1];
      if (last !== undefined && last[0] === c) last[1]++;
      else sig.push([c, 1]);
    }
    const key = `${linkCap[l]}|${linkLat[l]}|${sig.map(([c, k]) => `${c}x${k}`).join(",")}`;
    let o = orbitByKey.get(key);
    if (o === undefined) {
      o = orbitSig.length;
      orbitByKey.set(key, o);
      orbitSig.push(sig);
      orbitSize.push(0);
      orbitLinkCap.push(linkCap[l]);
    }
    orbitSize[o]++;
    orbitOf.set(l, o);
  }
  // the condition: each link of an orbit carries M_q / |L| of q's members, at one position, and one M per orbit
  const seenQ = new Int32Array(nq).fill(-1);
  for (let o = 0; o < orbitSig.length; o++) {
    const size = orbitSize[o];
    let m = -1;
    for (const [c, k] of orbitSig[o]) {
      const q = Math.floor(c / MAX_ROUTE);
      if (seenQ[q] === o) return null; // q crosses the orbit at two positions
      seenQ[q] = o;
      if (k * size !== mult[q]) return null;
      if (m < 0) m = mult[q];
      else if (mult[q] !== m) return null;
    }
  }
  const qRoute = new Int32Array(nq * MAX_ROUTE);
  const qLen = new Int32Array(nq);
  const rep = new Int32Array(nq).fill(-1);
  for (let p = 0; p < nn; p++) {
    const q = qOf[p];
    if (q < 0 || rep[q] >= 0) continue;
    rep[q] = p;
    qLen[q] = t.len[p];
    for (let x = 0; x < t.len[p]; x++) qRoute[q * MAX_ROUTE + x] = orbitOf.get(t.route[p * MAX_ROUTE + x])!;
  }
  const nO = orbitSig.length;
  const oLinkStart = new Int32Array(nO + 1);
  for (const o of orbitOf.values()) oLinkStart[o + 1]++;
  for (let o = 0; o < nO; o++) oLinkStart[o + 1] += oLinkStart[o];
  const oLinks = new Int32Array(orbitOf.size);
  const fill = oLinkStart.slice(0, nO);
  for (const [l, o] of orbitOf) oLinks[fill[o]++] = l;
  const oStart = new Int32Array(nO + 1);
  const oq: number[] = [];
  const oCount: number[] = [];
  for (let o = 0; o < nO; o++) {
    for (const [c, m] of orbitSig[o]) {
      oq.push(Math.floor(c / MAX_ROUTE));
      oCount.push(m);
    }
    oStart[o + 1] = oq.length;
  }
  return new TableQuotient({
    kind,
    nq,
    qOf,
    mult,
    qRoute,
    qLen,
    orbitCap: Float64Array.from(orbitSize, (s, o) => s * orbitLinkCap[o]),
    orbitSize: Int32Array.from(orbitSize),
    rep,
    aggregates,
    block: Int32Array.from(block),
    empty: Int32Array.from(Array.from(qOf.keys()).filter((p) => qOf[p] < 0)),
    oLinkStart,
    oLinks,
    oStart,
    oq: Int32Array.from(oq),
    oCount: Int32Array.from(oCount),
  });
}

/**
 * The quotient flows' member sizes for one call: sizes[p] for each pair, equal within each
 * aggregate. Writes them into out (0: no flow) and returns how many are > 0, or -1 where an
 * aggregate's sizes differ or a pair with an empty route has bytes.
 */
export function quotientSizes(tq: TableQuotient, sizes: ArrayLike<number>, out: Float64Array): number {
  out.fill(-1, 0, tq.nq);
  const qOf = tq.qOf;
  for (let p = 0; p < qOf.length; p++) {
    const b = sizes[p];
    const q = qOf[p];
    if (q < 0) {
      if (b > 0) return -1;
      continue;
    }
    const v = out[q];
    if (v < 0) out[q] = b;
    else if (v !== b) return -1;
  }
  let count = 0;
  for (let q = 0; q < tq.nq; q++) {
    if (out[q] > 0) count++;
    else out[q] = 0;
  }
  return count;
}

/**
 * Whether two of the call's flows (member sizes `bytes`, 0: none) share a link: two members of one
 * quotient flow do where an orbit on its route has fewer links than it has members, two quotient
 * flows where they cross one orbit (each link of an orbit carries every quotient flow of the orbit).
 * `mark` (one slot per orbit) is stamped with `stamp`.
 */
export function sharesLinks(tq: TableQuotient, bytes: Float64Array, mark: Int32Array, stamp: number): boolean {
  for (let q = 0; q < tq.nq; q++) {
    if (!(bytes[q] > 0)) continue;
    for (let x = q * MAX_ROUTE, end = x + tq.qLen[q]; x < end; x++) {
      const o = tq.qRoute[x];
      if (tq.orbitSize[o] < tq.mult[q] || mark[o] === stamp) return true;
      mark[o] = stamp;
    }
  }
  return false;
}

/**
 * quotientSizes for sizes given as a product (ProductSizes: member i sends u[i] v[j] k1 k2, nothing to
 * itself when noSelf), in O(members + quotient flows) instead of O(pairs): an aggregate's members
 * send the same bytes when the factor they differ by (u over a block of sources, or v over a block
 * of destinations) is the same within every block, and then its size is its first pair's. Writes
 * the member sizes into out and returns [flows > 0, pairs > 0, every size whole], or null where a
 * block's factor differs or a pair with an empty route would send bytes.
 */
export function productQuotientSizes(
  tq: TableQuotient,
  ps: ProductSizes,
  out: Float64Array,
): [number, number, boolean] | null {
  const f = tq.kind === BY_SOURCE ? ps.u : ps.v;
  const block = tq.block;
  const first = new Float64Array(block.length).fill(-1);
  // an identity quotient (no aggregates) fits any sizes
  for (let i = 0; i < block.length && tq.aggregates > 0; i++) {
    const b = block[i];
    if (first[b] < 0) first[b] = f[i];
    else if (f[i] !== first[b]) return null;
  }
  const n = ps.n;
  for (const p of tq.empty) if (ps.at((p / n) | 0, p % n) > 0) return null;
  let flows = 0;
  let pairs = 0;
  let whole = true;
  for (let q = 0; q < tq.nq; q++) {
    const r = tq.rep[q];
    const b = ps.at((r / n) | 0, r % n);
    out[q] = b > 0 ? b : 0;
    if (!(b > 0)) continue;
    flows++;
    pairs += tq.mult[q];
    if (b !== Math.floor(b)) whole = false;
  }
  return [flows, pairs, whole];
}
