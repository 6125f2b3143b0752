/**
 * Routes: the links a flow crosses, and the routes between the members of a collective group
 * precomputed once per group (PairRoutes), with their per-pair capacities and latencies.
 */

export type LinkKind = "nvlink" | "pcie" | "nic" | "fabric" | "memory";

/** Max links on one route. */
export const MAX_ROUTE = 12;

/**
 * The routes between the members of a collective group, precomputed once per group (Cluster
 * memoises them): pair p = i * n + j (member i to member j) crosses route[p * MAX_ROUTE ..] for
 * len[p] links, from endpoint src[p] to dst[p].
 */
export interface PairRoutes {
  n: number;
  route: Int32Array;
  len: Int32Array;
  src: Int32Array;
  dst: Int32Array;
  /** No link lies on the routes of two pairs (an all-to-all over point-to-point links): its flows never share one. */
  disjoint: boolean;
}

/** PairRoutes as a class rather than an object literal (V8: docs/performance.md, "Network"). */
class PairTable implements PairRoutes {
  declare n: number;
  declare route: Int32Array;
  declare len: Int32Array;
  declare src: Int32Array;
  declare dst: Int32Array;
  declare disjoint: boolean;
  constructor(n: number) {
    this.n = n;
    this.route = new Int32Array(n * n * MAX_ROUTE);
    this.len = new Int32Array(n * n);
    this.src = new Int32Array(n * n);
    this.dst = new Int32Array(n * n);
    this.disjoint = true;
  }
}

/**
 * The PairRoutes of a group: route(src, dst, r) writes the links from endpoint src to dst into r
 * and returns how many. disjoint is found by stamping every link of every pair's route.
 */
export function pairRoutes(
  group: readonly number[],
  route: (src: number, dst: number, r: Int32Array) => number,
): PairRoutes {
  const n = group.length;
  const t = new PairTable(n);
  const r = new Int32Array(MAX_ROUTE);
  // the table's arrays in locals: this runs once per group, mostly before V8 compiles it
  const { len, src, dst, route: links } = t;
  let disjoint = true;
  let used: Uint8Array = new Uint8Array(64); // links seen on a route so far
  for (let i = 0; i < n; i++) {
    const from = group[i];
    for (let j = 0; j < n; j++) {
      const p = i * n + j;
      const k = route(from, group[j], r);
      if (k > MAX_ROUTE) throw new Error(`route of ${k} links exceeds ${MAX_ROUTE}`);
      len[p] = k;
      src[p] = from;
      dst[p] = group[j];
      for (let x = 0, at = p * MAX_ROUTE; x < k; x++) {
        const l = r[x];
        links[at + x] = l;
        if (l >= used.length) used = grownBytes(used, 2 * l + 2);
        if (used[l] === 1) disjoint = false;
        used[l] = 1;
      }
    }
  }
  t.disjoint = disjoint;
  return t;
}

function grownBytes(a: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(n);
  out.set(a);
  return out;
}

/**
 * Per pair of a table: its route's minimum capacity (bytes per ns) and its latency (summed in
 * route order). A class, not a literal (docs/performance.md, "Network").
 */
export class TableRates {
  declare readonly rate: Float64Array;
  declare readonly lat: Float64Array;
  /** For the analytic model (built on first use): the table's pairs by link. */
  declare links: PairsByLink | null;
  constructor(t: PairRoutes, linkCap: Float64Array, linkLat: Float64Array) {
    const nn = t.n * t.n;
    const rates = (this.rate = new Float64Array(nn));
    const lats = (this.lat = new Float64Array(nn));
    this.links = null;
    const { len, route } = t; // in locals: this runs once per table, mostly before V8 compiles it
    for (let p = 0; p < nn; p++) {
      let rate = Infinity;
      let lat = 0;
      for (let k = p * MAX_ROUTE, end = k + len[p]; k < end; k++) {
        const l = route[k];
        lat += linkLat[l];
        const cap = linkCap[l];
        if (cap < rate) rate = cap;
      }
      rates[p] = rate;
      lats[p] = lat;
    }
  }
}

/**
 * A table's pairs by link, for the analytic model: links[i] is the i-th distinct link of the
 * routes (in pair order), its pairs are pairs[start[i] .. start[i + 1]) in increasing pair order,
 * and byLat[start[i] ..) are the same pairs from the longest route latency down (the same array
 * as pairs where every link's pairs share one latency; both are read only).
 */
export class PairsByLink {
  declare readonly links: Int32Array;
  declare readonly start: Int32Array;
  declare readonly pairs: Int32Array;
  declare readonly byLat: Int32Array;
  /**
   * The route latency all of link i's pairs have, NaN where they differ: where they share one, the
   * latency of the link's last delivery needs no search for its first pair that sends.
   */
  declare readonly oneLat: Float64Array;
  constructor(t: PairRoutes, lat: Float64Array, nLinks: number) {
    // In phases, each its own function: built once per table, and V8 compiling one large
    // constructor cost more CPU on its background threads than building it did (docs/performance.md, "Scale").
    const { links, index, start } = linksInOrder(t, nLinks);
    this.links = links;
    this.start = start;
    this.pairs = pairsOfLinks(t, index, start);
    this.oneLat = new Float64Array(links.length);
    this.byLat = latencyOrder(this.pairs, start, lat, this.oneLat);
  }
}

/** The distinct links of a table's routes in pair order, each one's index among them, and where its pairs start. */
function linksInOrder(t: PairRoutes, nLinks: number): { links: Int32Array; index: Int32Array; start: Int32Array } {
  const nn = t.n * t.n;
  const route = t.route;
  const len = t.len;
  const index = new Int32Array(nLinks).fill(-1);
  const order = new Int32Array(nLinks);
  const count = new Int32Array(nLinks);
  let nl = 0;
  for (let p = 0; p < nn; p++) {
    for (let k = p * MAX_ROUTE, end = k + len[p]; k < end; k++) {
      const l = route[k];
      let i = index[l];
      if (i < 0) {
        i = index[l] = nl;
        order[nl++] = l;
      }
      count[i]++;
    }
  }
  const start = new Int32Array(nl + 1);
  for (let i = 0; i < nl; i++) start[i + 1] = start[i] + count[i];
  return { links: order.slice(0, nl), index, start };
}

/** Each link's pairs, in increasing pair order, from start[index[link]] on. */
function pairsOfLinks(t: PairRoutes, index: Int32Array, start: Int32Array): Int32Array {
  const nn = t.n * t.n;
  const route = t.route;
  const len = t.len;
  const pairs = new Int32Array(start[start.length - 1]);
  const fill = start.slice(0, start.length - 1);
  for (let p = 0; p < nn; p++) {
    for (let k = p * MAX_ROUTE, end = k + len[p]; k < end; k++) pairs[fill[index[route[k]]]++] = p;
  }
  return pairs;
}

/**
 * byLat: each link's pairs from the longest latency down. Pairs of one latency (most links of a
 * cluster's all-to-all) are in pair order already: where every link's are, byLat is pairs itself.
 * Writes each link's one latency into oneLat (NaN where its pairs differ).
 */
function latencyOrder(pairs: Int32Array, start: Int32Array, lat: Float64Array, oneLat: Float64Array): Int32Array {
  let byLat = pairs;
  for (let i = 0; i < oneLat.length; i++) {
    const a = start[i];
    const b = start[i + 1];
    const first = lat[pairs[a]];
    let same = true;
    for (let x = a + 1; x < b && same; x++) same = lat[pairs[x]] === first;
    oneLat[i] = same ? first : NaN;
    if (same) continue;
    if (byLat === pairs) byLat = pairs.slice();
    sortByLatency(byLat, a, b, lat);
  }
  return byLat;
}

/** Sorts pairs[a .. b) by latency, longest first, then by pair (its own function: the loop above compiles alone). */
function sortByLatency(pairs: Int32Array, a: number, b: number, lat: Float64Array): void {
  const seg = Array.from(pairs.subarray(a, b));
  seg.sort((p, q) => lat[q] - lat[p] || p - q);
  pairs.set(seg, a);
}
