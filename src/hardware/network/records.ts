/**
 * Flow records: the flows of one group written down before they are computed (the fast path's
 * group on an idle network, the analytic model's group), in typed arrays by record index.
 */
import { grown } from "../../util/arrays.js";
import { MAX_ROUTE } from "./routes.js";

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
