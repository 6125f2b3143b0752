import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { rootStream, type RandomStream } from "../sim/rng.js";
import { UserError, listValues } from "../util/errors.js";
import { TraceBuilder } from "./builder.js";
import { GroupLimiter } from "./group-limit.js";
import type { RoutingTrace } from "./trace.js";

/**
 * Parameters of the synthetic routing generator.
 *
 * Each request follows a latent topic (cluster) that persists across the layers of a token and,
 * with probability `topicStay`, from one token to the next (otherwise it is redrawn from
 * `clusterWeights`). At each layer a token keeps each of the previous token's experts with
 * probability `reuse[layer]` (temporal locality) and fills the rest of its top-k from the
 * topic's per-layer inclusion probabilities `inclusion[cluster][layer][expert]` (popularity
 * skew; the shared topic gives cross-layer correlation and within-layer co-activation), by
 * systematic sampling in random order so each expert is picked with its inclusion probability.
 */
export interface SynthParams {
  kind: "moesim-synth-params";
  version: 1;
  layers: number;
  experts: number;
  topK: number;
  clusters: number;
  /** Stationary topic weights, length clusters, sum 1. */
  clusterWeights: number[];
  /** Probability a token keeps its predecessor's topic. */
  topicStay: number;
  /** [cluster][layer][expert] probability that the expert is among a token's top-k (each row sums to topK). */
  inclusion: number[][][];
  /** Per-layer probability of keeping each of the previous token's experts. */
  reuse: number[];
  /**
   * Cross-layer dependence: lift[l - 1][a][e] = P(e at l | a at l - 1) / P(e at l), for l >= 1.
   * The fill at layer l weighs expert e by the geometric mean over the token's experts a at layer
   * l - 1 of lift[a][e], raised to `strength`.
   */
  crossLayer?: { strength: number; lift: number[][][] };
  /** [layer][expert] multiplicative weight corrections, calibrated so per-layer loads match. */
  adjust?: number[][];
  /** Tokens per request observed in the fitted trace (for defaults). */
  lengths?: { min: number; max: number; mean: number };
  model?: string;
  expertBytes?: number;
  /** What the parameters were fitted to, and the statistics they should reproduce. */
  fittedFrom?: {
    source: string;
    tokens: number;
    reuseRate: number;
    reusePerLayer: number[];
    giniPerLayer: number[];
    maxOverMeanPerLayer: number[];
  };
}

export interface SynthOptions {
  sequences: number;
  tokensPerSequence: number | [number, number];
  seed: number | string;
  /**
   * Group-limited routing (DeepSeek-V3's n_group / topk_group, arXiv 2412.19437 section 2.1.2): the experts split
   * into `groups` groups of consecutive ids, and a token's top-k experts at a layer lie in at most `topGroups` of
   * them. Absent: unrestricted (draws are those of a trace without the option).
   */
  groupLimit?: { groups: number; topGroups: number };
}

const NO_PICKS = new Uint16Array(0);

/** Layers with at least this many experts use the O(m log E) successive fill (see Sampler.successiveFill). */
const FAST_FILL_EXPERTS = 256;

/** xorshift128+ style fast generator seeded from a RandomStream, for the inner sampling loops. */
class FastRng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  constructor(s: RandomStream) {
    const w = () => (Math.floor(s.next() * 0x100000000) >>> 0) | 1;
    this.a = w();
    this.b = w();
    this.c = w();
    this.d = w();
  }
  /** Uniform in [0, 1) (xoshiro128**-like, 32-bit). */
  next(): number {
    const r = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return r / 0x100000000;
  }
}
function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

export function lengthsOf(trace: RoutingTrace): number[] {
  const n = new Map<number, number>();
  for (let t = 0; t < trace.tokens; t++) n.set(trace.seq[t], (n.get(trace.seq[t]) ?? 0) + 1);
  return [...n.values()];
}

/** Scales `w` (over the candidates) so min(1, f * w) sums to m; returns the probabilities. */
function capScale(w: Float64Array, cand: Uint8Array, m: number, out: Float64Array): void {
  const E = w.length;
  let f = 0;
  let capped = 0;
  for (let iter = 0; iter < 20; iter++) {
    let sum = 0;
    let ones = 0;
    for (let e = 0; e < E; e++) {
      if (!cand[e]) continue;
      if (f > 0 && f * w[e] >= 1) ones++;
      else sum += w[e];
    }
    // Every candidate capped at 1 (m equals the candidates, e.g. top-k = experts): f already gives them all 1.
    if (!(sum > 0) && ones > 0) break;
    const nf = sum > 0 ? (m - ones) / sum : 0;
    if (ones === capped && iter > 0 && Math.abs(nf - f) <= 1e-12 * nf) break;
    capped = ones;
    f = nf;
  }
  for (let e = 0; e < E; e++) out[e] = cand[e] ? Math.min(1, f * w[e]) : 0;
}

/**
 * Cumulative sums of weights with a guide table (Chen and Asau): search(u) returns what
 * searchCdf(cdf, u) returns (the first index whose cumulative sum exceeds u, or the last index),
 * starting from the answer at the bottom of u's bucket instead of a binary search: O(1) on average.
 */
export class GuidedCdf {
  readonly cdf: Float64Array;
  readonly total: number;
  private readonly guide: Int32Array;
  private readonly scale: number;

  constructor(weights: ArrayLike<number>) {
    const E = weights.length;
    const cdf = new Float64Array(E);
    let acc = 0;
    for (let e = 0; e < E; e++) cdf[e] = acc += weights[e];
    this.cdf = cdf;
    this.total = cdf[E - 1];
    const G = E;
    this.guide = new Int32Array(G);
    this.scale = this.total > 0 ? G / this.total : 0;
    // guide[j]: the answer for a u below every u that lands in bucket j (the previous bucket's
    // bottom), so that rounding in floor(u * scale) can never start the scan past the answer.
    let i = 0;
    for (let j = 1; j < G; j++) {
      const lo = (j - 1) / this.scale;
      while (i < E - 1 && cdf[i] <= lo) i++;
      this.guide[j] = i;
    }
  }

  search(u: number): number {
    const cdf = this.cdf;
    const last = cdf.length - 1;
    let j = Math.floor(u * this.scale);
    if (!(j >= 0)) j = 0;
    else if (j > last) j = last;
    let i = this.guide[j];
    while (i < last && cdf[i] <= u) i++;
    return i;
  }
}

/**
 * The generator's state for one trace: reused buffers so the inner loop allocates nothing.
 */
class Sampler {
  private readonly order: Int32Array;
  private readonly cand: Uint8Array;
  private readonly prob: Float64Array;
  private readonly w: Float64Array;
  private readonly logLift: Float64Array[] | null;
  private readonly g: Float64Array;
  /** By (topic, layer, has predecessor) key: the fill probabilities, and their cumulative sums with a guide table. */
  private readonly probCache: (Float64Array | undefined)[];
  private readonly cdfCache: (GuidedCdf | undefined)[];
  constructor(
    private readonly p: SynthParams,
    private readonly rng: FastRng,
  ) {
    const E = p.experts;
    this.logLift = p.crossLayer
      ? p.crossLayer.lift.map((m) => {
          const a = new Float64Array(E * E);
          for (let i = 0; i < E; i++) for (let e = 0; e < E; e++) a[i * E + e] = Math.log(Math.max(1e-6, m[i][e]));
          return a;
        })
      : null;
    this.g = new Float64Array(E);
    this.probCache = new Array<Float64Array | undefined>(p.clusters * p.layers * 2).fill(undefined);
    this.cdfCache = new Array<GuidedCdf | undefined>(p.clusters * p.layers * 2).fill(undefined);
    this.order = new Int32Array(p.experts);
    this.cand = new Uint8Array(p.experts);
    this.prob = new Float64Array(p.experts);
    this.w = new Float64Array(p.experts);
  }

  /**
   * Writes one layer's top-k for a token into out[at..at+K): kept experts of `prev` first, then
   * the fill. `prevAt` < 0 when the token has no predecessor.
   */
  layer(cluster: number, l: number, out: Uint16Array, at: number, prevAt: number, reuse: number): void {
    const { topK: K } = this.p;
    const rng = this.rng;
    let n = 0;
    if (prevAt >= 0) {
      for (let k = 0; k < K; k++) {
        if (rng.next() < reuse) {
          const e = out[prevAt + k];
          out[at + n++] = e;
        }
      }
    }
    const m = K - n;
    if (m === 0) return;
    // Without kept experts and without cross-layer lift, the fill probabilities depend only on
    // (topic, layer, has predecessor): compute them once, turning an O(E * iterations) rescaling
    // per token-layer into a lookup. (With many experts and no lift, `fastToken` runs instead.)
    const cacheable = n === 0 && this.logLift === null;
    const key = (cluster * this.p.layers + l) * 2 + (prevAt >= 0 ? 1 : 0);
    let prob = cacheable ? this.probCache[key] : undefined;
    if (prob === undefined) {
      this.resetCandidates(cacheable ? 0 : n, out, at);
      this.fillProbabilities(cluster, l, prevAt, reuse, cacheable ? K : m, out, at);
      prob = this.prob;
      if (cacheable) {
        prob = Float64Array.from(prob);
        this.probCache[key] = prob;
      }
    }
    this.resetCandidates(n, out, at);
    this.sampleFill(prob, m, n, out, at);
  }

  /**
   * True when every token-layer can be drawn by `fastToken`: many experts and no cross-layer lift,
   * so the fill draws from cached cumulative sums by (topic, layer, has predecessor), redrawing
   * experts already kept from the predecessor.
   */
  get allFast(): boolean {
    return this.p.experts >= FAST_FILL_EXPERTS && this.logLift === null;
  }

  /**
   * The fill's cumulative sums for (topic, layer, has predecessor) on the fast path (all top-k slots, no candidate
   * excluded).
   */
  private fastCdf(cluster: number, l: number, hasPrev: boolean, reuse: number): GuidedCdf {
    const key = (cluster * this.p.layers + l) * 2 + (hasPrev ? 1 : 0);
    let cdf = this.cdfCache[key];
    if (cdf === undefined) {
      this.resetCandidates(0, NO_PICKS, 0);
      // Without lift, the fill probabilities read neither `out` nor `at`.
      this.fillProbabilities(cluster, l, hasPrev ? 0 : -1, reuse, this.p.topK, NO_PICKS, 0);
      cdf = this.cdfCache[key] = new GuidedCdf(Float64Array.from(this.prob));
    }
    return cdf;
  }

  /**
   * Every layer of one token when `allFast`: per layer, the predecessor's experts each kept with
   * the layer's reuse probability, then the successive fill.
   */
  fastToken(cluster: number, out: Uint16Array, at: number, prevAt: number): void {
    const { layers: L, topK: K } = this.p;
    const reuseRate = this.p.reuse;
    const rng = this.rng;
    for (let l = 0; l < L; l++) {
      const base = at + l * K;
      let n = 0;
      if (prevAt >= 0) {
        const r = reuseRate[l];
        const pb = prevAt + l * K;
        for (let k = 0; k < K; k++) if (rng.next() < r) out[base + n++] = out[pb + k];
      }
      if (n < K) this.successiveFill(this.fastCdf(cluster, l, prevAt >= 0, reuseRate[l]), K - n, n, out, base);
    }
  }

  /**
   * Candidates for the fill: every expert but the first `kept` of out[at..]. Only the paths that
   * read them set them (successive sampling does not: an O(E) reset per token-layer saved).
   */
  private resetCandidates(kept: number, out: Uint16Array, at: number): void {
    const cand = this.cand;
    cand.fill(1);
    for (let i = 0; i < kept; i++) cand[out[at + i]] = 0;
  }

  /**
   * For many experts (>= FAST_FILL_EXPERTS, fastToken): successive sampling, each pick drawn in proportion to
   * prob by an inverse-CDF search on its cumulative sums (GuidedCdf, O(1) on average), redrawing
   * repeats. O(m) instead of O(E); inclusion probabilities are then close to, not exactly, prob (hot experts slightly
   * under).
   */
  private successiveFill(cdf: GuidedCdf, m: number, n: number, out: Uint16Array, at: number): void {
    const total = cdf.total;
    const rng = this.rng;
    for (let got = 0; got < m;) {
      const lo = cdf.search(rng.next() * total);
      let dup = false;
      for (let i = 0; i < n; i++) if (out[at + i] === lo) dup = true;
      if (dup) continue;
      out[at + n++] = lo;
      got++;
    }
  }

  /** Fill probabilities over the candidates (this.prob), summing to m. */
  private fillProbabilities(
    cluster: number,
    l: number,
    prevAt: number,
    reuse: number,
    m: number,
    out: Uint16Array,
    at: number,
  ): void {
    const { experts: E, topK: K } = this.p;
    const cand = this.cand;
    const incl = this.p.inclusion[cluster][l];
    const w = this.w;
    // Stationary correction: with keep probability r, an expert of inclusion pi must be filled
    // with probability proportional to pi / (1 - r * pi) for its long-run inclusion to stay pi.
    if (prevAt >= 0) for (let e = 0; e < E; e++) w[e] = incl[e] / Math.max(1e-9, 1 - reuse * incl[e]);
    else for (let e = 0; e < E; e++) w[e] = incl[e];
    const adj = this.p.adjust?.[l];
    if (adj) for (let e = 0; e < E; e++) w[e] *= adj[e];
    if (this.logLift !== null && l > 0) {
      // The token's own experts at the layer below sit just before this layer's slot.
      const ll = this.logLift[l - 1];
      const g = this.g;
      g.fill(0);
      for (let k = 0; k < K; k++) {
        const base = out[at - K + k] * E;
        for (let e = 0; e < E; e++) g[e] += ll[base + e];
      }
      const f = this.p.crossLayer!.strength / K;
      for (let e = 0; e < E; e++) w[e] *= Math.exp(f * g[e]);
    }
    capScale(w, cand, m, this.prob);
  }

  /**
   * Random order (Fisher-Yates), then systematic sampling: picks exactly m distinct experts, each with probability
   * prob[e].
   */
  private sampleFill(prob: Float64Array, m: number, n: number, out: Uint16Array, at: number): void {
    const E = this.p.experts;
    const rng = this.rng;
    const cand = this.cand;
    const order = this.order;
    for (let i = 0; i < E; i++) order[i] = i;
    for (let i = E - 1; i > 0; i--) {
      const j = Math.floor(rng.next() * (i + 1));
      const t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    let target = rng.next();
    let cum = 0;
    let got = 0;
    for (let i = 0; i < E && got < m; i++) {
      const e = order[i];
      const pe = prob[e];
      if (pe <= 0) continue;
      cum += pe;
      if (target < cum) {
        out[at + n++] = e;
        cand[e] = 0;
        got++;
        target += 1;
      }
    }
    // Floating-point shortfall: take the most likely remaining experts.
    while (got < m) {
      let best = -1;
      for (let e = 0; e < E; e++) if (cand[e] && (best < 0 || prob[e] > prob[best])) best = e;
      out[at + n++] = best;
      cand[best] = 0;
      got++;
    }
  }
}

/** Generates a routing trace from the parameters; deterministic in opts.seed. */
export function synthesize(params: SynthParams, opts: SynthOptions): RoutingTrace {
  checkParams(params, "synthesis parameters");
  const { layers: L, topK: K } = params;
  if (!Number.isInteger(opts.sequences) || opts.sequences < 1)
    throw new UserError(`sequences must be a positive integer, got ${opts.sequences}`);
  const [lo, hi] = Array.isArray(opts.tokensPerSequence)
    ? opts.tokensPerSequence
    : [opts.tokensPerSequence, opts.tokensPerSequence];
  if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 1 || hi < lo) {
    throw new UserError(
      `tokensPerSequence must be a positive integer or [min, max] with 1 <= min <= max, ` +
        `got ${JSON.stringify(opts.tokensPerSequence)}`,
    );
  }
  const root = rootStream(opts.seed).child("synth");
  const lengthRng = root.child("lengths");
  const topicRng = root.child("topics");
  const fast = new FastRng(root.child("routing"));
  const sampler = new Sampler(params, fast);
  const cw = params.clusterWeights;
  const b = new TraceBuilder(L, params.experts, K);
  const limiter = opts.groupLimit ? new GroupLimiter(params, opts.groupLimit, new FastRng(root.child("groups"))) : null;
  if (lo === hi && opts.sequences * lo * L * K <= 1 << 28) b.reserveTokens(opts.sequences * lo);
  if (sampler.allFast) {
    // The common case (many experts, no cross-layer lift), token by token without per-layer calls.
    // With one topic the topic stream decides nothing (every draw picks topic 0): it is not drawn.
    const oneTopic = params.clusters === 1;
    for (let s = 0; s < opts.sequences; s++) {
      const len = lo + lengthRng.int(hi - lo + 1);
      let cluster = oneTopic ? 0 : topicRng.categorical(cw);
      let prevAt = -1;
      for (let i = 0; i < len; i++) {
        if (!oneTopic && i > 0 && !(topicRng.next() < params.topicStay)) cluster = topicRng.categorical(cw);
        const at = b.addTokenAt(s, i);
        sampler.fastToken(cluster, b.picksBuffer, at, prevAt);
        limiter?.token(cluster, b.picksBuffer, at);
        prevAt = at;
      }
    }
  } else {
    for (let s = 0; s < opts.sequences; s++) {
      const len = lo + lengthRng.int(hi - lo + 1);
      let cluster = topicRng.categorical(cw);
      let prevAt = -1;
      for (let i = 0; i < len; i++) {
        if (i > 0 && !(topicRng.next() < params.topicStay)) cluster = topicRng.categorical(cw);
        const at0 = b.addTokenAt(s, i);
        for (let l = 0; l < L; l++) {
          const at = at0 + l * K;
          sampler.layer(cluster, l, b.picksBuffer, at, prevAt < 0 ? -1 : prevAt + l * K, params.reuse[l]);
        }
        limiter?.token(cluster, b.picksBuffer, at0);
        prevAt = at0;
      }
    }
  }
  return b.build({
    source: `synthetic:${params.fittedFrom?.source ?? params.model ?? "params"}`,
    synthetic: {
      seed: String(opts.seed),
      sequences: opts.sequences,
      tokensPerSequence: opts.tokensPerSequence,
      ...(opts.groupLimit ? { groupLimit: opts.groupLimit } : {}),
    },
    ...(params.model ? { model: params.model } : {}),
    ...(params.expertBytes ? { expertBytes: params.expertBytes } : {}),
  });
}

/** Caps inclusion probabilities at 1 and rescales to sum k. */
function inclusionFromWeights(w: number[], k: number): number[] {
  const E = w.length;
  const cand = new Uint8Array(E).fill(1);
  const out = new Float64Array(E);
  capScale(Float64Array.from(w), cand, k, out);
  return Array.from(out);
}

/**
 * Parameters without a fitted trace: Zipf(s) popularity over a random expert order per layer,
 * one topic, and `locality` as each expert's keep probability.
 */
export function zipfSynthParams(o: {
  layers: number;
  experts: number;
  topK: number;
  zipf: number;
  locality?: number;
  seed?: number | string;
}): SynthParams {
  if (o.topK > o.experts) throw new UserError(`top-k ${o.topK} exceeds the ${o.experts} experts per layer`);
  const rng = rootStream(o.seed ?? 0).child("zipf-params");
  const inclusion: number[][] = [];
  for (let l = 0; l < o.layers; l++) {
    const perm = rng.child(`layer${l}`).shuffle(Array.from({ length: o.experts }, (_, i) => i));
    const w = new Array<number>(o.experts);
    for (let r = 0; r < o.experts; r++) w[perm[r]] = 1 / Math.pow(r + 1, o.zipf);
    inclusion.push(inclusionFromWeights(w, o.topK));
  }
  return {
    kind: "moesim-synth-params",
    version: 1,
    layers: o.layers,
    experts: o.experts,
    topK: o.topK,
    clusters: 1,
    clusterWeights: [1],
    topicStay: 1,
    inclusion: [inclusion],
    reuse: new Array<number>(o.layers).fill(o.locality ?? 0),
  };
}

/** JSON text of the parameters: pretty at the top, one line per innermost array (small diffs, small files). */
export function formatSynthParams(p: SynthParams): string {
  const fmt = (v: unknown, indent: string): string => {
    if (Array.isArray(v)) {
      if (v.every((x) => typeof x === "number")) return JSON.stringify(v);
      const inner = indent + "  ";
      return "[\n" + v.map((x) => inner + fmt(x, inner)).join(",\n") + "\n" + indent + "]";
    }
    if (v !== null && typeof v === "object") {
      const inner = indent + "  ";
      const entries = Object.entries(v).filter(([, x]) => x !== undefined);
      return (
        "{\n" +
        entries.map(([k, x]) => `${inner}${JSON.stringify(k)}: ${fmt(x, inner)}`).join(",\n") +
        "\n" +
        indent +
        "}"
      );
    }
    return JSON.stringify(v);
  };
  return fmt(p, "") + "\n";
}

function checkParams(p: SynthParams, where: string): void {
  const bad = (what: string) => {
    throw new UserError(`${where}: ${what}`);
  };
  if (p === null || typeof p !== "object" || p.kind !== "moesim-synth-params")
    bad(`expected a JSON object with "kind": "moesim-synth-params"`);
  for (const k of ["layers", "experts", "topK", "clusters"] as const) {
    if (!Number.isInteger(p[k]) || p[k] < 1) bad(`"${k}" must be a positive integer`);
  }
  if (p.topK > p.experts) bad(`"topK" ${p.topK} exceeds "experts" ${p.experts}`);
  if (!Array.isArray(p.clusterWeights) || p.clusterWeights.length !== p.clusters)
    bad(`"clusterWeights" must have ${p.clusters} entries`);
  if (!Array.isArray(p.reuse) || p.reuse.length !== p.layers)
    bad(`"reuse" must have ${p.layers} entries (one per layer)`);
  if (!Array.isArray(p.inclusion) || p.inclusion.length !== p.clusters)
    bad(`"inclusion" must be [cluster][layer][expert] with ${p.clusters} clusters`);
  for (const c of p.inclusion) {
    if (!Array.isArray(c) || c.length !== p.layers) bad(`"inclusion" must have ${p.layers} layers per cluster`);
    for (const row of c)
      if (!Array.isArray(row) || row.length !== p.experts) bad(`"inclusion" rows must have ${p.experts} experts`);
  }
  if (typeof p.topicStay !== "number" || p.topicStay < 0 || p.topicStay > 1) bad(`"topicStay" must be in [0, 1]`);
}

/** Directory of the fitted parameter files shipped with the project. */
export const FITTED_DIR = join(dirname(fileURLToPath(import.meta.url)), "fitted");

/** Names of the shipped fitted parameter sets. */
export function fittedNames(): string[] {
  if (!existsSync(FITTED_DIR)) return [];
  return readdirSync(FITTED_DIR)
    .filter((f) => f.endsWith(".json"))
    .map((f) => f.slice(0, -5))
    .sort();
}

/** Loads parameters from a JSON file, or a shipped set by name (e.g. "olmoe-1b-7b"). */
export function loadSynthParams(pathOrName: string): SynthParams {
  let path = pathOrName;
  if (!existsSync(path)) {
    const named = join(FITTED_DIR, `${pathOrName}.json`);
    if (!/[\\/]/.test(pathOrName) && existsSync(named)) path = named;
    else
      throw new UserError(
        `no synthetic parameters file or fitted set '${pathOrName}'; expected a path or one ` +
          `of ${listValues(fittedNames())}`,
      );
  }
  let p: SynthParams;
  try {
    p = JSON.parse(readFileSync(path, "utf8")) as SynthParams;
  } catch (e) {
    throw new UserError(
      `bad JSON (${(e as Error).message}); expected synthesis parameters from 'moesim trace fit'`,
      path,
    );
  }
  checkParams(p, path);
  return p;
}
