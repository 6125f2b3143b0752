/**
 * Flow records: the flows of one group written down before they are computed (the fast path's
 * group on an idle network, the analytic model's group), in typed arrays by record index; and the
 * table and sizes of a group whose records are written only if it is replayed (DeferredTable).
 */
import { grown } from "../../util/arrays.js";
import { ProductSizes } from "./product-sizes.js";
import { MAX_ROUTE, type PairRoutes } from "./routes.js";

export class FlowRecords {
  /** Records 0..n are in use. */
  n = 0;
  route = new Int32Array(64 * MAX_ROUTE);
  len = new Int32Array(64);
  bytes = new Float64Array(64);
  logical = new Float64Array(64);
  maxRate = new Float64Array(64);
  src = new Int32Array(64);
  dst = new Int32Array(64);

  /** Room for n records, keeping those written. */
  grow(n: number): void {
    this.route = grown(this.route, n * MAX_ROUTE);
    this.len = grown(this.len, n);
    this.bytes = grown(this.bytes, n);
    this.logical = grown(this.logical, n);
    this.maxRate = grown(this.maxRate, n);
    this.src = grown(this.src, n);
    this.dst = grown(this.dst, n);
  }

  /** Appends a flow to the records, growing them as needed. */
  push(
    route: ArrayLike<number>,
    len: number,
    bytes: number,
    logical: number,
    maxRate: number,
    src: number,
    dst: number,
  ): void {
    const i = this.n++;
    if (i === this.len.length) this.grow(2 * i);
    for (let k = 0; k < len; k++) this.route[i * MAX_ROUTE + k] = route[k];
    this.len[i] = len;
    this.bytes[i] = bytes;
    this.logical[i] = logical;
    this.maxRate[i] = maxRate;
    this.src[i] = src;
    this.dst[i] = dst;
  }
}

/**
 * The fast path's all-to-all run without records (a quotient run, quotient.ts): its table and a
 * copy of its sizes, or of their factors, kept so that its records can be written should a flow
 * join it (replayIso).
 */
export class DeferredTable {
  private table: PairRoutes | null = null;
  private sizes = new Float64Array(0);
  private product: ProductSizes | null = null;
  private count = 0;

  /** Keeps t and a copy of its n x n sizes (`count` of them > 0). */
  keepSizes(t: PairRoutes, sizes: ArrayLike<number>, count: number): void {
    const nn = t.n * t.n;
    if (this.sizes.length < nn) this.sizes = new Float64Array(nn);
    for (let p = 0; p < nn; p++) this.sizes[p] = sizes[p];
    this.table = t;
    this.product = null;
    this.count = count;
  }

  /** Keeps t and a copy of the factors of its product sizes (`count` of them > 0). */
  keepProduct(t: PairRoutes, ps: ProductSizes, count: number): void {
    this.table = t;
    this.product = new ProductSizes(ps.u.slice(), ps.v.slice(), ps.k1, ps.k2, ps.noSelf);
    this.count = count;
  }

  /** Forgets what was kept (another group started). */
  clear(): void {
    this.table = null;
    this.product = null;
  }

  /** What was kept, as its table, its sizes matrix and their count (null if nothing); forgets it. */
  take(): [PairRoutes, ArrayLike<number>, number] | null {
    const t = this.table;
    if (t === null) return null;
    const sizes = this.product !== null ? this.product.dense() : this.sizes;
    this.clear();
    return [t, sizes, this.count];
  }
}
