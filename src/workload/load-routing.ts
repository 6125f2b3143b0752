/**
 * Load-level routing (`workload.routing: load`): instead of per-token expert picks, each step's per-expert token
 * counts at each MoE layer are drawn directly. The trace then holds the requests' tokens (sequence, position) but no
 * picks; the simulation's gate draws the counts (moe/load-gating.ts).
 *
 * The marginals: the per-layer inclusion probabilities pi_l[e] (probability that a token's top-k includes expert e)
 * are those the per-token generator (synth.ts `synthesize`, with its topics, temporal reuse, successive sampling and
 * group limit) realizes, measured on a pilot trace of PILOT_SEQUENCES x PILOT_TOKENS tokens from the same parameters
 * (not the parameters' nominal inclusion: successive sampling without replacement picks hot experts less often).
 * The counts of a step of N tokens: independent Binomial(N, pi_l[e]) per expert (the per-token mode's marginal, with
 * its variance N pi (1 - pi) of k distinct picks per token), then corrected to exactly N x K picks by adding or
 * removing the difference in proportion to pi (1 - pi) (the per-expert variances). Not modelled: within-token
 * co-activation, cross-layer and temporal correlation within a request, and the dependence of the marginals on a
 * token's position (the pilot averages over positions 0..PILOT_TOKENS-1).
 */
import type { RandomStream } from "../sim/rng.js";
import { rootStream } from "../sim/rng.js";
import { synthesize, type SynthParams } from "./synth.js";
import type { RoutingTrace, TraceMeta } from "./trace.js";

export type { LoadRouting } from "./trace.js";

/** Sequences and tokens per sequence of the pilot trace that measures the marginals. */
export const PILOT_SEQUENCES = 512;
export const PILOT_TOKENS = 32;

/**
 * The per-layer inclusion probabilities the per-token generator realizes: each layer's expert frequencies over a
 * pilot trace (seeded from `seed`), divided by its tokens.
 */
export function pilotInclusion(
  params: SynthParams,
  seed: string,
  groupLimit?: { groups: number; topGroups: number },
): Float64Array[] {
  const t = synthesize(params, {
    sequences: PILOT_SEQUENCES,
    tokensPerSequence: PILOT_TOKENS,
    seed,
    ...(groupLimit ? { groupLimit } : {}),
  });
  const { layers: L, topK: K, experts: E } = t;
  const out = Array.from({ length: L }, () => new Float64Array(E));
  const picks = t.picks;
  for (let i = 0, q = 0; i < t.tokens; i++)
    for (let l = 0; l < L; l++) {
      const row = out[l];
      for (let k = 0; k < K; k++, q++) row[picks[q]]++;
    }
  for (const row of out) for (let e = 0; e < E; e++) row[e] /= t.tokens;
  return out;
}

/**
 * A trace of the same requests and lengths as `synthesize(params, opts)` (the same length stream), with no picks:
 * `loads` says how the simulation draws its per-expert counts.
 */
export function loadTrace(
  params: SynthParams,
  opts: {
    sequences: number;
    tokensPerSequence: number | [number, number];
    seed: number | string;
    groupLimit?: { groups: number; topGroups: number };
  },
  meta: TraceMeta,
): RoutingTrace {
  const [lo, hi] = Array.isArray(opts.tokensPerSequence)
    ? opts.tokensPerSequence
    : [opts.tokensPerSequence, opts.tokensPerSequence];
  const root = rootStream(opts.seed).child("synth");
  const lengthRng = root.child("lengths");
  const lens: number[] = [];
  let tokens = 0;
  for (let s = 0; s < opts.sequences; s++) {
    const len = lo + lengthRng.int(hi - lo + 1);
    lens.push(len);
    tokens += len;
  }
  const seq = new Int32Array(tokens);
  const step = new Int32Array(tokens);
  for (let s = 0, t = 0; s < opts.sequences; s++) {
    for (let i = 0; i < lens[s]; i++, t++) {
      seq[t] = s;
      step[t] = i;
    }
  }
  return {
    layers: params.layers,
    experts: params.experts,
    topK: params.topK,
    tokens,
    picks: new Uint16Array(0),
    seq,
    step,
    meta: { ...meta, routing: "load" },
    loads: {
      inclusion: pilotInclusion(params, `${String(opts.seed)}/pilot`, opts.groupLimit),
      seed: `${String(opts.seed)}/loads`,
    },
  };
}

/** Below this mean, binomial draws are exact (inversion); at or above it, the normal approximation. */
const INVERSION_MEAN = 25;

/**
 * A Binomial(n, p) draw: exact by inversion of the probability mass function when n min(p, 1 - p) < 25, else the
 * normal approximation N(np, np(1 - p)) rounded to the nearest integer in [0, n] (skewness (1 - 2p) / sqrt(np(1 - p))
 * under 0.2 there).
 */
export function binomial(rng: RandomStream, n: number, p: number): number {
  if (n <= 0 || p <= 0) return 0;
  if (p >= 1) return n;
  if (p > 0.5) return n - binomial(rng, n, 1 - p);
  const mean = n * p;
  if (mean < INVERSION_MEAN) {
    const q = 1 - p;
    const r = p / q;
    let f = Math.pow(q, n);
    let u = rng.next();
    let k = 0;
    while (u >= f && k < n) {
      u -= f;
      k++;
      f *= (r * (n - k + 1)) / k;
    }
    return k;
  }
  const x = Math.floor(rng.normal(mean, Math.sqrt(mean * (1 - p))) + 0.5);
  return x < 0 ? 0 : x > n ? n : x;
}

/**
 * Per-expert token counts of `tokens` tokens with top-`topK` routing at a layer of inclusion probabilities `incl`
 * (each <= 1): Binomial(tokens, incl[e]) per expert, then the total corrected to tokens x topK (see the module
 * comment). Writes out[0..experts).
 */
export function drawExpertLoads(
  rng: RandomStream,
  incl: Float64Array,
  tokens: number,
  topK: number,
  out: Int32Array,
): void {
  const E = incl.length;
  let total = 0;
  for (let e = 0; e < E; e++) total += out[e] = binomial(rng, tokens, incl[e]);
  let diff = tokens * topK - total;
  // Add (diff > 0) or remove (diff < 0) |diff| picks, spread in proportion to the variances pi (1 - pi), within
  // 0 <= out[e] <= tokens; a pass that cannot place all of them (an expert at a bound) repeats over the rest.
  for (let pass = 0; diff !== 0 && pass < 8; pass++) diff = correctionPass(rng, incl, tokens, out, diff);
  // Left over only when the experts with room have no variance (inclusion 0 or 1): the most likely experts with room
  // take it, within the bounds.
  if (diff !== 0) {
    const sign = diff > 0 ? 1 : -1;
    const order = Array.from({ length: E }, (_, e) => e).sort((a, b) => incl[b] - incl[a] || a - b);
    for (const e of order) {
      const x = Math.min(room(out[e], sign, tokens), Math.abs(diff));
      out[e] += sign * x;
      diff -= sign * x;
    }
  }
}

/** How many picks expert count x can gain (sign 1, up to `tokens`: a token picks an expert once) or lose (sign -1). */
function room(x: number, sign: number, tokens: number): number {
  return sign > 0 ? tokens - x : x;
}

/** Scratch of correctionPass, grown to the widest layer drawn: cumulative variances, guide table, picks per expert. */
let cumBuf = new Float64Array(0);
let guideBuf = new Int32Array(0);
let pickBuf = new Int32Array(0);

/**
 * One pass of drawExpertLoads' correction over the experts with room (r_e > 0 picks to give or take); returns the
 * picks it could not place. The law (that of sequential conditional binomials): in index order, expert e takes
 * min(r_e, Binomial(w_e, v_e / V_e)), where w_e is what is still to place and V_e the variance mass of the experts
 * from e on, v = pi (1 - pi); what a bound keeps from e passes on to the experts after it.
 *
 * Drawn as |diff| picks i.i.d. with probability v_e / V over the experts with room (Chen and Asau's guide table:
 * O(1) expected per pick), then, in index order, each expert keeps at most r_e of its picks and each pick over its
 * bound is redrawn among the experts after it (u uniform on [C_e, V) of the cumulative variances C). Same law:
 * given the counts placed before e, every pick not yet placed lies at e or after, i.i.d. with probability
 * proportional to v (a categorical law restricted to a subset is the law restricted and renormalized, and a
 * redrawn pick is drawn from exactly that), so e's picks are Binomial(w_e, v_e / V_e), and those not kept are,
 * given that count, i.i.d. in proportion to v over the experts after e. Without a binding bound both are the
 * Multinomial(|diff|, v / V). An expert without variance (inclusion 0 or 1) takes no pick in a pass (only the
 * fallback after the passes). Cost: |diff| uniforms and table look-ups (plus one per redrawn pick) instead of one
 * inversion with its own Math.pow per expert. Deterministic: every draw comes from `rng`, in a fixed order.
 */
function correctionPass(rng: RandomStream, incl: Float64Array, tokens: number, out: Int32Array, diff: number): number {
  const E = incl.length;
  if (cumBuf.length < E) {
    cumBuf = new Float64Array(E);
    guideBuf = new Int32Array(E);
    pickBuf = new Int32Array(E);
  }
  const cum = cumBuf;
  const guide = guideBuf;
  const picks = pickBuf;
  const sign = diff > 0 ? 1 : -1;
  let mass = 0;
  for (let e = 0; e < E; e++) {
    if (room(out[e], sign, tokens) > 0) mass += incl[e] * (1 - incl[e]);
    cum[e] = mass;
    picks[e] = 0;
  }
  if (!(mass > 0)) return diff;
  // guide[j]: the first expert whose cumulative variance exceeds j / E of the mass (a lower bound of the answer for
  // any u in bucket j; the search below also steps down, against rounding).
  for (let j = 0, e = 0; j < E; j++) {
    const th = (j / E) * mass;
    while (e < E - 1 && cum[e] <= th) e++;
    guide[j] = e;
  }
  for (let want = Math.abs(diff); want > 0; want--) {
    const w = rng.next();
    picks[findCum(cum, guide, E - 1, w * mass, Math.floor(w * E))]++;
  }
  for (let e = 0; e < E; e++) {
    const n = picks[e];
    if (n === 0) continue;
    const x = Math.min(room(out[e], sign, tokens), n);
    out[e] += sign * x;
    diff -= sign * x;
    // Over the bound: redrawn among the experts after e (none with variance left: the next pass takes them).
    const lo = cum[e];
    if (!(mass - lo > 0)) continue;
    for (let k = x; k < n; k++) {
      const u = lo + rng.next() * (mass - lo);
      picks[findCum(cum, guide, E - 1, u, Math.min(E - 1, Math.floor((u / mass) * E)))]++;
    }
  }
  return diff;
}

/**
 * The first expert e <= last with cum[e] > u (u in [0, cum[last])), from guide[j], j = floor(E u / mass): a lower
 * bound of the answer, stepped down against rounding. u rounded up to the mass gives the last expert with variance.
 */
function findCum(cum: Float64Array, guide: Int32Array, last: number, u: number, j: number): number {
  let e = guide[j];
  while (e > 0 && cum[e - 1] > u) e--;
  while (e < last && cum[e] <= u) e++;
  while (e > 0 && cum[e] === cum[e - 1]) e--;
  return e;
}
