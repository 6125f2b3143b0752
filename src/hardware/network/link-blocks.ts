/**
 * Block sums for the analytic all-to-all (AnalyticNetwork.analyticTable): on a cluster most of a
 * table's links carry a product set of pairs {sources} x {destinations} (a GPU's PCIe up-link and
 * NIC: that GPU x every GPU on other nodes; a node's NIC receive side: every GPU on other nodes x
 * the GPUs behind it), whose destinations (or sources) are whole nodes. Such a link's load is then
 * a sum of per-(source, destination block) or per-(source block, destination) sums, which one pass
 * over the sizes computes for all links at once: O(pairs + links x sources x blocks) instead of
 * O(pairs x route length) scattered reads. Blocks are contiguous runs of members, found from the
 * links themselves (no topology is assumed); a link whose pairs are not such a product set, or for
 * which the sums would not save work, is summed pair by pair as before.
 */

/** A link whose sources (destinations) fall in more runs of consecutive members than this sets no block bounds. */
const MAX_RUNS = 4;

/** How a link's load is summed: pair by pair, by (source, destination block), by (source block, destination). */
export const BY_PAIRS = 0;
export const BY_ROWS = 1;
export const BY_COLS = 2;

/**
 * Per table (built once, with its PairsByLink): destination blocks dBlock[j] (nbD of them) and
 * source blocks sBlock[i] (nbS); per link i its mode, and for BY_ROWS its sources
 * members[mStart[i] ..) and destination blocks (its cover's; for BY_COLS its destinations and
 * source blocks), each in increasing order.
 */
export class LinkBlocks {
  declare readonly n: number;
  declare readonly nbD: number;
  declare readonly dBlock: Int32Array;
  /** Destination block k is members dFirst[k] .. dFirst[k + 1] - 1 (blocks are runs of consecutive members). */
  declare readonly dFirst: Int32Array;
  declare readonly nbS: number;
  declare readonly sBlock: Int32Array;
  declare readonly sFirst: Int32Array;
  declare readonly mode: Int8Array;
  declare readonly mStart: Int32Array;
  declare readonly members: Int32Array;
  /** Link i's blocks are its cover c = cover[i]'s: cBlocks[cStart[c] .. cStart[c + 1]) (of destinations if BY_ROWS). */
  declare readonly cover: Int32Array;
  declare readonly cStart: Int32Array;
  declare readonly cBlocks: Int32Array;
  declare readonly cMode: Int8Array;
  /** Where cover c is blocks [0, cHead[c]) and [cTail[c], blocks): those bounds (else -1). */
  declare readonly cHead: Int32Array;
  declare readonly cTail: Int32Array;
  /** Link i carries a member's pair to itself (a member and its own block are both on it). */
  declare readonly selfIn: Uint8Array;
  /** Some link is summed BY_ROWS / BY_COLS: the pass over the sizes must build that matrix of sums. */
  declare readonly rows: boolean;
  declare readonly cols: boolean;
  /** Some link summed BY_ROWS / BY_COLS carries pairs of members to themselves. */
  declare readonly rowsSelf: boolean;
  declare readonly colsSelf: boolean;
  /** The links summed BY_PAIRS, in increasing order; the others (BY_ROWS or BY_COLS). */
  declare readonly byPairs: Int32Array;
  declare readonly byBlocks: Int32Array;
  /**
   * The pairs of link byPairs[y] as source members qSrc[qStart[y] ..) and destinations qDst (in
   * the link's pair order): product sizes are read by member, without a division per pair.
   */
  declare readonly qStart: Int32Array;
  declare readonly qSrc: Int32Array;
  declare readonly qDst: Int32Array;

  /**
   * From a table's pairs by link (PairsByLink's start and pairs, n members). `minPairs`: links with
   * at most this many pairs are summed pair by pair and set no block bounds (default: half the
   * group's size, which keeps a GPU's NVLink links, {one GPU} x {the rest of its node}, from
   * splitting the nodes into single GPUs).
   */
  constructor(n: number, al: LinkPairs, minPairs = n / 2) {
    // In phases, each its own function: a table is built once per run, and V8 compiling one large
    // constructor (with its inlined helpers) cost more CPU on its background threads than building
    // the table did (docs/performance.md, "Scale").
    this.n = n;
    const { srcs, dsts, dSplit, sSplit } = productSets(n, al, minPairs);
    const [nbD, dBlock] = blocksOf(dSplit, n);
    const [nbS, sBlock] = blocksOf(sSplit, n);
    this.nbD = nbD;
    this.dBlock = dBlock;
    this.dFirst = firstOf(dBlock, nbD);
    this.sFirst = firstOf(sBlock, nbS);
    this.nbS = nbS;
    this.sBlock = sBlock;
    const m = linkModes(al, srcs, dsts, dBlock, blockSizes(dBlock, nbD), sBlock, blockSizes(sBlock, nbS));
    this.mode = m.mode;
    this.mStart = m.mStart;
    this.cover = m.cover;
    this.selfIn = m.selfIn;
    this.members = Int32Array.from(m.members);
    const covers = m.covers;
    this.cStart = Int32Array.from(covers.start);
    this.cBlocks = Int32Array.from(covers.blocks);
    this.cMode = Int8Array.from(covers.mode);
    [this.cHead, this.cTail] = coverBounds(this.cMode, this.cStart, this.cBlocks, nbD, nbS);
    this.rows = m.rows;
    this.cols = m.cols;
    this.rowsSelf = m.rowsSelf;
    this.colsSelf = m.colsSelf;
    [this.byPairs, this.byBlocks] = byMode(this.mode);
    [this.qStart, this.qSrc, this.qDst] = pairMembers(n, al, this.byPairs);
  }
}

/** A table's pairs by link: PairsByLink's start and pairs. */
interface LinkPairs {
  readonly start: Int32Array;
  readonly pairs: Int32Array;
}

/**
 * Per link, its sources and destinations (increasing) where its pairs are their product set
 * (empty arrays for the others, and for links of at most minPairs pairs), and the block bounds
 * the sets mark: a wide link splits the destinations into blocks at the ends of its runs, a tall
 * one the sources.
 */
function productSets(n: number, al: LinkPairs, minPairs: number) {
  const nl = al.start.length - 1;
  const srcs: Int32Array[] = [];
  const dsts: Int32Array[] = [];
  const dSplit = new Uint8Array(n + 1);
  const sSplit = new Uint8Array(n + 1);
  const seen = new Int32Array(2 * n + 2).fill(-1);
  const sBuf = new Int32Array(n);
  const dBuf = new Int32Array(n);
  const none = new Int32Array(0);
  for (let i = 0; i < nl; i++) {
    const a = al.start[i];
    const b = al.start[i + 1];
    const ns = distinctEnds(n, al.pairs, a, b, i, seen, sBuf, dBuf);
    const nd = seen[2 * n];
    const pairs = b - a;
    if (seen[2 * n + 1] === 1 || pairs <= minPairs || pairs !== ns * nd) {
      srcs.push(none);
      dsts.push(none);
      continue;
    }
    const S = sBuf.slice(0, ns); // in pair order: increasing
    const D = dBuf.slice(0, nd).sort();
    srcs.push(S);
    dsts.push(D);
    if (nd >= ns) splitAtRuns(D, dSplit);
    else splitAtRuns(S, sSplit);
  }
  return { srcs, dsts, dSplit, sSplit };
}

/**
 * The distinct sources (into sBuf) and destinations (dBuf) of pairs[a .. b), link i's: returns
 * how many sources; seen[2n] = how many destinations, seen[2n + 1] = 1 where a pair repeats (a
 * route crossing the link twice). seen[m] and seen[n + m]: the last link that saw member m as a
 * source and as a destination.
 */
function distinctEnds(
  n: number,
  pairs: Int32Array,
  a: number,
  b: number,
  i: number,
  seen: Int32Array,
  sBuf: Int32Array,
  dBuf: Int32Array,
): number {
  let ns = 0;
  let nd = 0;
  let dup = false;
  for (let x = a; x < b; x++) {
    const p = pairs[x];
    if (x > a && p === pairs[x - 1]) dup = true;
    const s = (p / n) | 0;
    const d = p - s * n;
    if (seen[s] !== i) {
      seen[s] = i;
      sBuf[ns++] = s;
    }
    if (seen[n + d] !== i) {
      seen[n + d] = i;
      dBuf[nd++] = d;
    }
  }
  seen[2 * n] = nd;
  seen[2 * n + 1] = dup ? 1 : 0;
  return ns;
}

/**
 * Per link, how its load is summed: by (source, destination block) where its sets cover whole
 * destination blocks and that costs fewer terms than its pairs (and no more than by source
 * blocks), by (source block, destination) likewise, else pair by pair; its members and cover.
 */
function linkModes(
  al: LinkPairs,
  srcs: Int32Array[],
  dsts: Int32Array[],
  dBlock: Int32Array,
  dSize: Int32Array,
  sBlock: Int32Array,
  sSize: Int32Array,
) {
  const nl = al.start.length - 1;
  const mode = new Int8Array(nl);
  const mStart = new Int32Array(nl + 1);
  const cov = new Int32Array(nl).fill(-1);
  const selfIn = new Uint8Array(nl);
  const members: number[] = [];
  const covers = new Covers();
  let rows = false;
  let cols = false;
  let rowsSelf = false;
  let colsSelf = false;
  for (let i = 0; i < nl; i++) {
    const S = srcs[i];
    const D = dsts[i];
    const pairs = al.start[i + 1] - al.start[i];
    const dCover = S.length > 0 ? cover(D, dBlock, dSize) : null;
    const sCover = S.length > 0 ? cover(S, sBlock, sSize) : null;
    const rowCost = dCover ? S.length * dCover.length : Infinity;
    const colCost = sCover ? D.length * sCover.length : Infinity;
    if (rowCost < pairs && rowCost <= colCost) {
      mode[i] = BY_ROWS;
      for (let k = 0; k < S.length; k++) members.push(S[k]);
      cov[i] = covers.id(BY_ROWS, dCover!);
      selfIn[i] = S.some((m) => dCover!.includes(dBlock[m])) ? 1 : 0;
      rows = true;
      rowsSelf ||= selfIn[i] === 1;
    } else if (colCost < pairs) {
      mode[i] = BY_COLS;
      for (let k = 0; k < D.length; k++) members.push(D[k]);
      cov[i] = covers.id(BY_COLS, sCover!);
      selfIn[i] = D.some((m) => sCover!.includes(sBlock[m])) ? 1 : 0;
      cols = true;
      colsSelf ||= selfIn[i] === 1;
    }
    mStart[i + 1] = members.length;
  }
  return { mode, mStart, cover: cov, selfIn, members, covers, rows, cols, rowsSelf, colsSelf };
}

/** Per cover of the form [0, a) + [b, nb) ("every block but a run": a GPU's off-node destinations) a, b; else -1. */
function coverBounds(
  cMode: Int8Array,
  cStart: Int32Array,
  cBlocks: Int32Array,
  nbD: number,
  nbS: number,
): [Int32Array, Int32Array] {
  const head = new Int32Array(cMode.length).fill(-1);
  const tail = new Int32Array(cMode.length).fill(-1);
  for (let c = 0; c < cMode.length; c++) {
    const nb = cMode[c] === BY_ROWS ? nbD : nbS;
    let y = cStart[c];
    const ye = cStart[c + 1];
    let a = 0;
    while (y < ye && cBlocks[y] === a) {
      y++;
      a++;
    }
    const b = y < ye ? cBlocks[y] : nb;
    let k = b;
    while (y < ye && cBlocks[y] === k) {
      y++;
      k++;
    }
    if (y === ye && k === nb) {
      head[c] = a;
      tail[c] = b;
    }
  }
  return [head, tail];
}

/** The links summed BY_PAIRS and the others, each in increasing order. */
function byMode(mode: Int8Array): [Int32Array, Int32Array] {
  let np = 0;
  for (let i = 0; i < mode.length; i++) if (mode[i] === BY_PAIRS) np++;
  const byPairs = new Int32Array(np);
  const byBlocks = new Int32Array(mode.length - np);
  for (let i = 0, p = 0, q = 0; i < mode.length; i++) {
    if (mode[i] === BY_PAIRS) byPairs[p++] = i;
    else byBlocks[q++] = i;
  }
  return [byPairs, byBlocks];
}

/** The pairs of the links byPairs[y] as members: start per link, sources, destinations. */
function pairMembers(n: number, al: LinkPairs, byPairs: Int32Array): [Int32Array, Int32Array, Int32Array] {
  const qStart = new Int32Array(byPairs.length + 1);
  for (let y = 0; y < byPairs.length; y++) {
    qStart[y + 1] = qStart[y] + al.start[byPairs[y] + 1] - al.start[byPairs[y]];
  }
  const qSrc = new Int32Array(qStart[byPairs.length]);
  const qDst = new Int32Array(qStart[byPairs.length]);
  for (let y = 0; y < byPairs.length; y++) {
    for (let x = al.start[byPairs[y]], q = qStart[y]; q < qStart[y + 1]; x++, q++) {
      const p = al.pairs[x];
      const s = (p / n) | 0;
      qSrc[q] = s;
      qDst[q] = p - s * n;
    }
  }
  return [qStart, qSrc, qDst];
}

/** Distinct block lists (covers), each stored once: links of a node's GPUs share theirs. */
class Covers {
  readonly start: number[] = [0];
  readonly blocks: number[] = [];
  readonly mode: number[] = [];
  private readonly ids = new Map<string, number>();
  id(mode: number, blocks: number[]): number {
    const key = `${mode}:${blocks.join(",")}`;
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.mode.length;
      this.ids.set(key, id);
      this.mode.push(mode);
      this.blocks.push(...blocks);
      this.start.push(this.blocks.length);
    }
    return id;
  }
}

/** Marks a block boundary before and after each run of consecutive members in the sorted set, if it has few runs. */
function splitAtRuns(set: Int32Array, split: Uint8Array): void {
  let runs = 1;
  for (let k = 1; k < set.length; k++) if (set[k] !== set[k - 1] + 1) runs++;
  if (runs > MAX_RUNS) return;
  split[set[0]] = 1;
  for (let k = 1; k < set.length; k++) {
    if (set[k] !== set[k - 1] + 1) {
      split[set[k - 1] + 1] = 1;
      split[set[k]] = 1;
    }
  }
  split[set[set.length - 1] + 1] = 1;
}

/** Blocks from boundaries: member k's block is the number of boundaries in 1..k. */
function blocksOf(split: Uint8Array, n: number): [number, Int32Array] {
  const block = new Int32Array(n);
  let b = 0;
  for (let k = 0; k < n; k++) {
    if (k > 0 && split[k] === 1) b++;
    block[k] = b;
  }
  return [n > 0 ? b + 1 : 0, block];
}

/** first[k]: block k's first member; first[nb] = n. */
function firstOf(block: Int32Array, nb: number): Int32Array {
  const first = new Int32Array(nb + 1);
  for (let k = block.length - 1; k >= 0; k--) first[block[k]] = k;
  first[nb] = block.length;
  return first;
}

function blockSizes(block: Int32Array, nb: number): Int32Array {
  const size = new Int32Array(nb);
  for (let k = 0; k < block.length; k++) size[block[k]]++;
  return size;
}

/** The blocks a sorted set of members fills exactly, in increasing order; null if it covers a block only in part. */
function cover(set: Int32Array, block: Int32Array, size: Int32Array): number[] | null {
  const out: number[] = [];
  let k = 0;
  while (k < set.length) {
    const b = block[set[k]];
    let m = 0;
    while (k < set.length && block[set[k]] === b) {
      k++;
      m++;
    }
    if (m !== size[b]) return null;
    out.push(b);
  }
  return out;
}
