/**
 * An all-to-all's sizes as a product instead of an n x n matrix: member i sends
 * ((u[i] * v[j]) * k1) * k2 bytes to member j, nothing to itself when `noSelf`. A MoE layer's
 * exchanges under load-level routing are of this form (each source sends its share of every
 * destination's rows; the combine is the transpose; the counts all-to-all is constant off the
 * diagonal), and the analytic model computes their link loads from it in O(members x blocks)
 * (AnalyticNetwork.runAllToAllProduct), the flow model on a fitting quotient of its table
 * (FlowNetwork.runAllToAllProduct); any other path takes the dense matrix (dense()).
 */
export class ProductSizes {
  declare readonly n: number;
  declare readonly u: Float64Array;
  declare readonly v: Float64Array;
  declare readonly k1: number;
  declare readonly k2: number;
  declare readonly noSelf: boolean;
  /**
   * The factors are never written once the sizes are made (the counts all-to-all, every MoE layer):
   * the analytic model computes their link loads once per table (AnalyticNetwork.runAllToAllProduct).
   */
  declare readonly constant: boolean;
  constructor(u: Float64Array, v: Float64Array, k1: number, k2: number, noSelf: boolean, constant = false) {
    if (u.length !== v.length) throw new Error(`ProductSizes: u has ${u.length} entries, v ${v.length}`);
    this.n = u.length;
    this.u = u;
    this.v = v;
    this.k1 = k1;
    this.k2 = k2;
    this.noSelf = noSelf;
    this.constant = constant;
  }

  /** Bytes member i sends to member j. */
  at(i: number, j: number): number {
    return this.noSelf && i === j ? 0 : this.u[i] * this.v[j] * this.k1 * this.k2;
  }

  /** The n x n matrix, row = sender (the same numbers at() gives, without a call per entry). */
  dense(): Float64Array {
    return this.denseWhole()[0];
  }

  /** dense(), whether every size is a whole number, and how many are > 0, in one pass. */
  denseWhole(): [Float64Array, boolean, number] {
    const { n, u, v, k1, k2, noSelf } = this;
    const out = new Float64Array(n * n);
    let whole = true;
    let count = 0;
    for (let i = 0; i < n; i++) {
      const ui = u[i];
      for (let j = 0, p = i * n; j < n; j++, p++) {
        // at(i, j)'s arithmetic, in its order
        const b = noSelf && i === j ? 0 : ui * v[j] * k1 * k2;
        out[p] = b;
        if (b !== Math.floor(b)) whole = false;
        if (b > 0) count++;
      }
    }
    return [out, whole, count];
  }

  /**
   * Checks that every size is a finite number >= 0 (its factors are: then so are their products,
   * short of overflow, checked on the largest) and returns how many are > 0.
   */
  checkedCount(): number {
    const { n, u, v, k1, k2 } = this;
    let nu = 0;
    let nv = 0;
    let both = 0;
    let uMax = 0;
    let vMax = 0;
    for (let i = 0; i < n; i++) {
      if (!(u[i] >= 0) || !Number.isFinite(u[i])) throw new Error(`allToAll: u[${i}] = ${u[i]} is not a size factor`);
      if (!(v[i] >= 0) || !Number.isFinite(v[i])) throw new Error(`allToAll: v[${i}] = ${v[i]} is not a size factor`);
      if (u[i] > 0) nu++;
      if (v[i] > 0) nv++;
      if (u[i] > 0 && v[i] > 0) both++;
      if (u[i] > uMax) uMax = u[i];
      if (v[i] > vMax) vMax = v[i];
    }
    if (!(k1 >= 0) || !Number.isFinite(k1)) throw new Error(`allToAll: size factor k1 = ${k1} is not finite and >= 0`);
    if (!(k2 >= 0) || !Number.isFinite(k2)) throw new Error(`allToAll: size factor k2 = ${k2} is not finite and >= 0`);
    if (!Number.isFinite(uMax * vMax * k1 * k2)) throw new Error("allToAll: a size overflows");
    if (!(k1 * k2 > 0)) return 0;
    return nu * nv - (this.noSelf ? both : 0);
  }
}
