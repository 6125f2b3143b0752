import { rootStream, type RandomStream } from "../sim/rng.js";
import { minMax } from "../util/arrays.js";
import { UserError } from "../util/errors.js";
import { reuseRates, skewOf, perLayerLoad } from "./stats.js";
import { lengthsOf, synthesize, type SynthParams } from "./synth.js";
import { emptyCounts, type RoutingTrace } from "./trace.js";

/** Fitting synthetic-routing parameters to a trace (`moesim trace fit`): topics, per-layer loads and reuse. */

/**
 * Spherical k-means over tokens (each a binary vector of its layers x experts picks); returns the
 * cluster of each token. Deterministic: seeded initial centres.
 */
function clusterTokens(trace: RoutingTrace, K: number, iters: number, rng: RandomStream): Int32Array {
  const { layers: L, experts: E, topK: k, tokens: T, picks } = trace;
  const D = L * E;
  const per = L * k;
  // Picks as feature indices l * E + e.
  const feat = new Int32Array(T * per);
  for (let t = 0; t < T; t++)
    for (let l = 0; l < L; l++)
      for (let j = 0; j < k; j++) {
        const i = t * per + l * k + j;
        feat[i] = l * E + picks[i];
      }
  const cent = new Float64Array(K * D);
  const chosen = new Set<number>();
  for (let c = 0; c < K; c++) {
    let t = rng.int(T);
    while (chosen.has(t) && chosen.size < T) t = rng.int(T);
    chosen.add(t);
    for (let j = 0; j < per; j++) cent[c * D + feat[t * per + j]] = 1;
  }
  const assign = new Int32Array(T);
  const norm = new Float64Array(K);
  const size = new Float64Array(K);
  for (let it = 0; it < iters; it++) {
    for (let c = 0; c < K; c++) {
      let s = 0;
      for (let d = 0; d < D; d++) s += cent[c * D + d] ** 2;
      norm[c] = s;
    }
    for (let t = 0; t < T; t++) {
      let best = 0;
      let bestScore = -Infinity;
      const f0 = t * per;
      for (let c = 0; c < K; c++) {
        const base = c * D;
        let dot = 0;
        for (let j = 0; j < per; j++) dot += cent[base + feat[f0 + j]];
        const score = dot - 0.5 * norm[c];
        if (score > bestScore) {
          bestScore = score;
          best = c;
        }
      }
      assign[t] = best;
    }
    cent.fill(0);
    size.fill(0);
    for (let t = 0; t < T; t++) {
      const base = assign[t] * D;
      size[assign[t]]++;
      for (let j = 0; j < per; j++) cent[base + feat[t * per + j]]++;
    }
    for (let c = 0; c < K; c++) {
      if (size[c] === 0) {
        // Re-seed an empty cluster on a random token.
        const t = rng.int(T);
        for (let j = 0; j < per; j++) cent[c * D + feat[t * per + j]] = 1;
        continue;
      }
      for (let d = 0; d < D; d++) cent[c * D + d] /= size[c];
    }
  }
  return assign;
}

const round = (x: number, digits = 6): number => Number(x.toPrecision(digits));

/**
 * Fits generator parameters to a trace: topics by k-means over tokens' routing, per-topic
 * per-layer inclusion probabilities, topic persistence from consecutive tokens, and per-layer keep
 * probabilities calibrated by simulation so the synthetic reuse rate matches the trace's.
 */
export function fitSynth(
  trace: RoutingTrace,
  opts: {
    clusters?: number;
    iterations?: number;
    seed?: number | string;
    calibrationRounds?: number;
    crossLayerStrength?: number;
  } = {},
): SynthParams {
  const { layers: L, experts: E, topK: K, tokens: T, picks, seq } = trace;
  if (T < 2) throw new UserError("cannot fit synthetic parameters to a trace with fewer than 2 tokens");
  const empty = emptyCounts(trace);
  if (empty.tokens > 0)
    throw new UserError(
      `cannot fit synthetic parameters to a trace with ${empty.tokens} tokens that have no experts at some ` +
        `layer (read with incomplete: empty): the fit would count the missing layers as routing; read it ` +
        `with --incomplete drop instead`,
    );
  const C = Math.max(1, Math.min(opts.clusters ?? 8, T));
  const rng = rootStream(opts.seed ?? 0).child("fit");
  const assign = clusterTokens(trace, C, opts.iterations ?? 8, rng.child("kmeans"));
  // Inclusion per cluster and layer, lightly smoothed toward uniform.
  const size = new Float64Array(C);
  const counts = new Float64Array(C * L * E);
  for (let t = 0; t < T; t++) {
    const c = assign[t];
    size[c]++;
    for (let l = 0; l < L; l++) for (let j = 0; j < K; j++) counts[(c * L + l) * E + picks[(t * L + l) * K + j]]++;
  }
  const alpha = 1;
  const used: number[] = [];
  for (let c = 0; c < C; c++) if (size[c] > 0) used.push(c);
  const inclusion = used.map((c) =>
    Array.from({ length: L }, (_, l) =>
      Array.from({ length: E }, (_, e) =>
        round((counts[(c * L + l) * E + e] + (alpha * K) / E) / (size[c] + alpha), 4),
      ),
    ),
  );
  const clusterWeights = used.map((c) => size[c] / T);
  // Topic persistence: P(same topic) = stay + (1 - stay) * sum pi^2.
  const last = new Map<number, number>();
  let pairs = 0;
  let same = 0;
  for (let t = 0; t < T; t++) {
    const p = last.get(seq[t]);
    last.set(seq[t], t);
    if (p === undefined) continue;
    pairs++;
    if (assign[p] === assign[t]) same++;
  }
  const sumSq = clusterWeights.reduce((a, w) => a + w * w, 0);
  const obsSame = pairs > 0 ? same / pairs : 1;
  const topicStay = sumSq < 1 ? Math.min(1, Math.max(0, (obsSame - sumSq) / (1 - sumSq))) : 1;
  const target = reuseRates(trace);
  const lens = lengthsOf(trace);
  const [minLen, maxLen] = minMax(lens);
  const load = perLayerLoad(trace).map(skewOf);
  const params: SynthParams = {
    kind: "moesim-synth-params",
    version: 1,
    layers: L,
    experts: E,
    topK: K,
    clusters: used.length,
    clusterWeights: clusterWeights.map((w) => round(w)),
    topicStay: round(topicStay),
    inclusion,
    reuse: target.perLayer.map(() => 0),
    lengths: { min: minLen, max: maxLen, mean: round(T / lens.length) },
    ...(typeof trace.meta.model === "string" ? { model: trace.meta.model } : {}),
    ...(typeof trace.meta.expertBytes === "number" ? { expertBytes: trace.meta.expertBytes } : {}),
    fittedFrom: {
      source: String(trace.meta.source ?? "trace")
        .split(/[\\/]/)
        .pop()!,
      tokens: T,
      reuseRate: round(target.overall),
      reusePerLayer: target.perLayer.map((x) => round(x)),
      giniPerLayer: load.map((s) => round(s.gini)),
      maxOverMeanPerLayer: load.map((s) => round(s.maxOverMean)),
    },
  };
  const strength = opts.crossLayerStrength ?? 3;
  if (strength > 0 && L > 1) params.crossLayer = { strength, lift: liftMatrices(trace) };
  const targetLoad = perLayerLoad(trace).map((row) => row.map((x) => x / T));
  params.adjust = Array.from({ length: L }, () => new Array<number>(E).fill(1));
  // Calibrate keep probabilities (measured reuse = r + (1 - r) * chance, solved for r) and the
  // per-layer load corrections, by simulating and comparing with the trace.
  const meanLen = Math.max(2, Math.round(T / lens.length));
  const sequences = Math.max(8, Math.min(lens.length, Math.ceil(20000 / meanLen)));
  const rounds = opts.calibrationRounds ?? 4;
  for (let round_ = 0; round_ < rounds; round_++) {
    const sim = synthesize(params, { sequences, tokensPerSequence: meanLen, seed: `calibrate-${round_}` });
    const got = reuseRates(sim).perLayer;
    const simLoad = perLayerLoad(sim);
    params.adjust = params.adjust.map((row, l) => {
      const next = row.map(
        (a, e) => a * Math.pow((targetLoad[l][e] + 1e-4) / (simLoad[l][e] / sim.tokens + 1e-4), 0.8),
      );
      const mean = next.reduce((x, y) => x + y, 0) / E;
      return next.map((x) => round(x / mean, 5));
    });
    params.reuse = params.reuse.map((r, l) => {
      const chance = r < 1 ? Math.max(0, Math.min(0.999, (got[l] - r) / (1 - r))) : 0;
      const next = (target.perLayer[l] - chance) / (1 - chance);
      return round(Math.min(1, Math.max(0, next)));
    });
  }
  return params;
}

/** lift[l - 1][a][e] = P(e at l | a at l - 1) / P(e at l), shrunk toward 1 for rare a. */
function liftMatrices(trace: RoutingTrace, pseudo = 20): number[][][] {
  const { layers: L, experts: E, topK: K, tokens: T, picks } = trace;
  const out: number[][][] = [];
  for (let l = 1; l < L; l++) {
    const J = new Float64Array(E * E);
    const na = new Float64Array(E);
    const ne = new Float64Array(E);
    for (let t = 0; t < T; t++) {
      const a0 = (t * L + l - 1) * K;
      const b0 = a0 + K;
      for (let i = 0; i < K; i++) {
        na[picks[a0 + i]]++;
        ne[picks[b0 + i]]++;
        const r = picks[a0 + i] * E;
        for (let j = 0; j < K; j++) J[r + picks[b0 + j]]++;
      }
    }
    const m: number[][] = [];
    for (let a = 0; a < E; a++) {
      const row: number[] = [];
      for (let e = 0; e < E; e++) {
        const pe = Math.max(ne[e], 0.5) / T;
        row.push(Number(((J[a * E + e] + pseudo * pe) / ((na[a] + pseudo) * pe)).toPrecision(2)));
      }
      m.push(row);
    }
    out.push(m);
  }
  return out;
}
