/** Group-limited routing for the synthetic generator (synth.ts): DeepSeek-V3's n_group / topk_group. */
import { UserError } from "../util/errors.js";

/** What the limiter reads of the synthesis parameters (synth.ts SynthParams). */
interface LimiterParams {
  layers: number;
  experts: number;
  topK: number;
  inclusion: number[][][];
}

/**
 * Group-limited routing on sampled picks: per token and layer, the groups holding most of the token's picks (ties:
 * the larger inclusion weight of those picks, then the lower group id) are kept, `topGroups` of them, and each pick
 * outside them is redrawn among the kept groups' experts not picked yet, in proportion to the topic's inclusion
 * probabilities. As in DeepSeek-V3, where the top groups are chosen first and the top-k then taken within them.
 */
export class GroupLimiter {
  private readonly size: number;
  private readonly count: Int32Array;
  private readonly weight: Float64Array;
  private readonly keep: Uint8Array;
  private readonly order: Int32Array;
  constructor(
    private readonly p: LimiterParams,
    private readonly lim: { groups: number; topGroups: number },
    private readonly rng: { next(): number },
  ) {
    const { groups: G, topGroups: M } = lim;
    if (!Number.isInteger(G) || G < 1 || p.experts % G !== 0) {
      throw new UserError(`routing groups: ${G} must be a whole number >= 1 dividing the ${p.experts} experts`);
    }
    if (!Number.isInteger(M) || M < 1 || M > G) {
      throw new UserError(`routing groups: top groups ${M} must be a whole number in 1..${G}`);
    }
    this.size = p.experts / G;
    if (M * this.size < p.topK) {
      throw new UserError(
        `routing groups: ${M} groups of ${this.size} experts cannot hold the top-${p.topK}; use at least ` +
          `${Math.ceil(p.topK / this.size)} top groups`,
      );
    }
    this.count = new Int32Array(G);
    this.weight = new Float64Array(G);
    this.keep = new Uint8Array(G);
    this.order = new Int32Array(G);
  }

  /** Limits every layer of the token at out[at..]. */
  token(cluster: number, out: Uint16Array, at: number): void {
    const { layers: L, topK: K } = this.p;
    for (let l = 0; l < L; l++) this.layer(this.p.inclusion[cluster][l], out, at + l * K);
  }

  private layer(incl: number[], out: Uint16Array, at: number): void {
    const { groups: G, topGroups: M } = this.lim;
    const K = this.p.topK;
    const { count, weight, keep, order, size } = this;
    count.fill(0);
    weight.fill(0);
    let used = 0;
    for (let k = 0; k < K; k++) {
      const g = Math.floor(out[at + k] / size);
      if (count[g]++ === 0) used++;
      weight[g] += incl[out[at + k]];
    }
    if (used <= M) return;
    for (let g = 0; g < G; g++) order[g] = g;
    order.sort((a, b) => count[b] - count[a] || weight[b] - weight[a] || a - b);
    keep.fill(0);
    for (let i = 0; i < M; i++) keep[order[i]] = 1;
    for (let k = 0; k < K; k++) {
      if (keep[Math.floor(out[at + k] / size)]) continue;
      out[at + k] = this.draw(incl, out, at);
    }
  }

  /** An expert of a kept group not among out[at..at+K), in proportion to incl (uniform when all are 0). */
  private draw(incl: number[], out: Uint16Array, at: number): number {
    const { size, keep } = this;
    const K = this.p.topK;
    const taken = (e: number): boolean => {
      for (let k = 0; k < K; k++) if (out[at + k] === e) return true;
      return false;
    };
    let total = 0;
    let n = 0;
    for (let e = 0; e < this.p.experts; e++) {
      if (!keep[Math.floor(e / size)] || taken(e)) continue;
      total += incl[e];
      n++;
    }
    let u = this.rng.next() * (total > 0 ? total : n);
    let last = -1;
    for (let e = 0; e < this.p.experts; e++) {
      if (!keep[Math.floor(e / size)] || taken(e)) continue;
      last = e;
      u -= total > 0 ? incl[e] : 1;
      if (u < 0) return e;
    }
    return last;
  }
}
