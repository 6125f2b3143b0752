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

  /**
   * From a table's pairs by link (PairsByLink's start and pairs, n members). `minPairs`: links with
   * at most this many pairs are summed pair by pair and set no block bounds (default: half the
   * group's size, which keeps a GPU's NVLink links, {one GPU} x {the rest of its node}, from
   * splitting the nodes into single GPUs).
   */
  constructor(n: number, al: { readonly start: Int32Array; readonly pairs: Int32Array }, minPairs = n / 2) {
    this.n = n;
    const nl = al.start.length - 1;
    const srcs: Int32Array[] = [];
    const dsts: Int32Array[] = [];
    const dSplit = new Uint8Array(n + 1);
    const sSplit = new Uint8Array(n + 1);
    const seenS = new Int32Array(n).fill(-1);
    const seenD = new Int32Array(n).fill(-1);
    const sBuf = new Int32Array(n);
    const dBuf = new Int32Array(n);
    for (let i = 0; i < nl; i++) {
      const a = al.start[i];
      const b = al.start[i + 1];
      let ns = 0;
      let nd = 0;
      let dup = false;
      for (let x = a; x < b; x++) {
        const p = al.pairs[x];
        if (x > a && p === al.pairs[x - 1]) dup = true; // a route crossing the link twice
        const s = (p / n) | 0;
        const d = p - s * n;
        if (seenS[s] !== i) {
          seenS[s] = i;
          sBuf[ns++] = s;
        }
        if (seenD[d] !== i) {
          seenD[d] = i;
          dBuf[nd++] = d;
        }
      }
      const pairs = b - a;
      if (dup || pairs <= minPairs || pairs !== ns * nd) {
        srcs.push(new Int32Array(0));
        dsts.push(new Int32Array(0));
        continue;
      }
      const S = sBuf.slice(0, ns); // in pair order: increasing
      const D = dBuf.slice(0, nd).sort();
      srcs.push(S);
      dsts.push(D);
      // a wide link splits the destinations into blocks at the ends of its runs, a tall one the sources
      if (nd >= ns) splitAtRuns(D, dSplit);
      else splitAtRuns(S, sSplit);
    }
    const [nbD, dBlock] = blocksOf(dSplit, n);
    const [nbS, sBlock] = blocksOf(sSplit, n);
    this.nbD = nbD;
    this.dBlock = dBlock;
    this.dFirst = firstOf(dBlock, nbD);
    this.sFirst = firstOf(sBlock, nbS);
    this.nbS = nbS;
    this.sBlock = sBlock;
    const dSize = blockSizes(dBlock, nbD);
    const sSize = blockSizes(sBlock, nbS);
    this.mode = new Int8Array(nl);
    this.mStart = new Int32Array(nl + 1);
    this.cover = new Int32Array(nl).fill(-1);
    this.selfIn = new Uint8Array(nl);
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
        this.mode[i] = BY_ROWS;
        members.push(...S);
        this.cover[i] = covers.id(BY_ROWS, dCover!);
        this.selfIn[i] = S.some((m) => dCover!.includes(dBlock[m])) ? 1 : 0;
        rows = true;
        rowsSelf ||= this.selfIn[i] === 1;
      } else if (colCost < pairs) {
        this.mode[i] = BY_COLS;
        members.push(...D);
        this.cover[i] = covers.id(BY_COLS, sCover!);
        this.selfIn[i] = D.some((m) => sCover!.includes(sBlock[m])) ? 1 : 0;
        cols = true;
        colsSelf ||= this.selfIn[i] === 1;
      }
      this.mStart[i + 1] = members.length;
    }
    this.members = Int32Array.from(members);
    this.cStart = Int32Array.from(covers.start);
    this.cBlocks = Int32Array.from(covers.blocks);
    this.cMode = Int8Array.from(covers.mode);
    // covers of the form [0, a) + [b, nb): "every block but a run" (a GPU's off-node destinations)
    this.cHead = new Int32Array(covers.mode.length).fill(-1);
    this.cTail = new Int32Array(covers.mode.length).fill(-1);
    for (let c = 0; c < covers.mode.length; c++) {
      const nb = covers.mode[c] === BY_ROWS ? nbD : nbS;
      let y = this.cStart[c];
      const ye = this.cStart[c + 1];
      let a = 0;
      while (y < ye && this.cBlocks[y] === a) {
        y++;
        a++;
      }
      const b = y < ye ? this.cBlocks[y] : nb;
      let k = b;
      while (y < ye && this.cBlocks[y] === k) {
        y++;
        k++;
      }
      if (y === ye && k === nb) {
        this.cHead[c] = a;
        this.cTail[c] = b;
      }
    }
    this.rows = rows;
    this.cols = cols;
    this.rowsSelf = rowsSelf;
    this.colsSelf = colsSelf;
  }
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
