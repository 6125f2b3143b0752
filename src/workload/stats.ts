import { UserError } from "../util/errors.js";
import type { RoutingTrace } from "./trace.js";

export interface LayerSkew {
  /** Load of the busiest expert over the mean load. */
  maxOverMean: number;
  /** Gini coefficient of the per-expert loads (0 = uniform). */
  gini: number;
  /** Coefficient of variation (std / mean) of the per-expert loads. */
  cv: number;
  /** Zipf exponent s fitted by least squares on log(load) vs log(rank). */
  zipfS: number;
}

export interface TraceStats {
  tokens: number;
  layers: number;
  experts: number;
  top_k: number;
  sequences: number;
  /** [layer][expert]: tokens that picked the expert at the layer. */
  perLayerLoad: number[][];
  /** Per-layer skew and the means over layers. */
  skew: { perLayer: LayerSkew[]; mean: LayerSkew };
  /**
   * Fraction of a token's experts that the previous token of the same request also picked at the
   * same layer (over all tokens that have a previous token).
   */
  reuseRate: number;
  /** The same, per layer. */
  reusePerLayer: number[];
  /**
   * Mean over adjacent layer pairs of the mutual information (bits) between an expert picked at
   * layer l and one picked at layer l + 1 by the same token: 0 when layers route independently.
   */
  crossLayerMI: number;
  /**
   * Mean over layers of the mutual information (bits) between two distinct experts picked by the
   * same token at the same layer, minus its value under independent draws from the marginal:
   * how much expert pairs co-activate beyond popularity.
   */
  coActivationMI: number;
  /** Statistics left out, and why (e.g. the correlations of a trace with very many experts). */
  notes: string[];
}

/**
 * The correlation statistics hold experts x experts doubles per layer pair: beyond this many
 * experts (2048^2 x 8 bytes = 32 MiB, twice) they are skipped with a note rather than allocating
 * up to 2^32 doubles for ids up to 65535.
 */
export const MAX_CORRELATION_EXPERTS = 2048;

/** Per-layer expert loads: [layer][expert] counts of tokens that picked the expert. */
export function perLayerLoad(trace: RoutingTrace): number[][] {
  const { layers: L, experts: E, topK: K, tokens: T, picks } = trace;
  const counts = new Float64Array(L * E);
  for (let t = 0; t < T; t++) {
    const base = t * L * K;
    for (let l = 0; l < L; l++) {
      const o = base + l * K;
      for (let k = 0; k < K; k++) if (picks[o + k] < E) counts[l * E + picks[o + k]]++;
    }
  }
  const out: number[][] = [];
  for (let l = 0; l < L; l++) out.push(Array.from(counts.subarray(l * E, l * E + E)));
  return out;
}

export function skewOf(load: readonly number[]): LayerSkew {
  const n = load.length;
  const sorted = [...load].sort((a, b) => b - a);
  const total = sorted.reduce((a, b) => a + b, 0);
  const mean = total / n;
  if (total === 0) return { maxOverMean: 0, gini: 0, cv: 0, zipfS: 0 };
  let varSum = 0;
  for (const x of sorted) varSum += (x - mean) ** 2;
  // Gini from the ascending order: sum (2i - n - 1) x_i / (n * total).
  let g = 0;
  for (let i = 0; i < n; i++) g += (2 * (i + 1) - n - 1) * sorted[n - 1 - i];
  // Zipf: log x_r = c - s log r over the experts with a positive load.
  let sx = 0,
    sy = 0,
    sxx = 0,
    sxy = 0,
    m = 0;
  for (let r = 0; r < n; r++) {
    if (sorted[r] <= 0) continue;
    const x = Math.log(r + 1);
    const y = Math.log(sorted[r]);
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
    m++;
  }
  const den = m * sxx - sx * sx;
  const zipfS = m > 1 && den > 0 ? -(m * sxy - sx * sy) / den : 0;
  return { maxOverMean: sorted[0] / mean, gini: g / (n * total), cv: Math.sqrt(varSum / n) / mean, zipfS };
}

/** Mutual information (bits) of a joint count matrix. */
function mutualInformation(joint: Float64Array, n: number): number {
  let total = 0;
  const row = new Float64Array(n);
  const col = new Float64Array(n);
  for (let a = 0; a < n; a++) {
    for (let b = 0; b < n; b++) {
      const v = joint[a * n + b];
      row[a] += v;
      col[b] += v;
      total += v;
    }
  }
  if (total === 0) return 0;
  let mi = 0;
  for (let a = 0; a < n; a++) {
    for (let b = 0; b < n; b++) {
      const v = joint[a * n + b];
      if (v > 0) mi += (v / total) * Math.log2((v * total) / (row[a] * col[b]));
    }
  }
  return mi;
}

/** Reuse of the previous token's experts, overall and per layer. */
export function reuseRates(trace: RoutingTrace): { overall: number; perLayer: number[] } {
  const { layers: L, experts: E, topK: K, tokens: T, picks, seq } = trace;
  const last = new Map<number, number>();
  const hits = new Float64Array(L);
  let pairs = 0;
  const mark = new Int32Array(E).fill(-1);
  let stamp = 0;
  for (let t = 0; t < T; t++) {
    const p = last.get(seq[t]);
    last.set(seq[t], t);
    if (p === undefined) continue;
    pairs++;
    for (let l = 0; l < L; l++) {
      stamp++;
      const po = (p * L + l) * K;
      for (let k = 0; k < K; k++) if (picks[po + k] < E) mark[picks[po + k]] = stamp;
      const o = (t * L + l) * K;
      let h = 0;
      for (let k = 0; k < K; k++) if (picks[o + k] < E && mark[picks[o + k]] === stamp) h++;
      hits[l] += h;
    }
  }
  const perLayer = Array.from(hits, (h) => (pairs > 0 ? h / (pairs * K) : 0));
  const overall = perLayer.reduce((a, b) => a + b, 0) / Math.max(1, L);
  return { overall, perLayer };
}

/** Cross-layer and within-layer co-activation mutual information (see TraceStats). */
export function correlationStats(trace: RoutingTrace): { crossLayerMI: number; coActivationMI: number } {
  const { layers: L, experts: E, topK: K, tokens: T, picks } = trace;
  const joint = new Float64Array(E * E);
  let cross = 0;
  for (let l = 0; l + 1 < L; l++) {
    joint.fill(0);
    for (let t = 0; t < T; t++) {
      const a0 = (t * L + l) * K;
      const b0 = a0 + K;
      if (picks[a0] >= E || picks[b0] >= E) continue; // no experts at one of the layers (incomplete: empty)
      for (let i = 0; i < K; i++) {
        const r = picks[a0 + i] * E;
        for (let j = 0; j < K; j++) joint[r + picks[b0 + j]]++;
      }
    }
    cross += mutualInformation(joint, E);
  }
  let co = 0;
  for (let l = 0; l < L; l++) {
    joint.fill(0);
    const marg = new Float64Array(E);
    for (let t = 0; t < T; t++) {
      const o = (t * L + l) * K;
      if (picks[o] >= E) continue;
      for (let i = 0; i < K; i++) {
        marg[picks[o + i]]++;
        for (let j = 0; j < K; j++) if (i !== j) joint[picks[o + i] * E + picks[o + j]]++;
      }
    }
    // Baseline: independent pairs from the marginal, excluding self-pairs.
    const base = new Float64Array(E * E);
    for (let a = 0; a < E; a++) for (let b = 0; b < E; b++) if (a !== b) base[a * E + b] = marg[a] * marg[b];
    co += mutualInformation(joint, E) - mutualInformation(base, E);
  }
  return { crossLayerMI: L > 1 ? cross / (L - 1) : 0, coActivationMI: co / Math.max(1, L) };
}

/** Shape, per-layer load, skew, temporal reuse and correlation of a trace. */
export function traceStats(trace: RoutingTrace, opts: { correlations?: boolean } = {}): TraceStats {
  const load = perLayerLoad(trace);
  const perLayer = load.map(skewOf);
  const mean = (f: (s: LayerSkew) => number) => perLayer.reduce((a, s) => a + f(s), 0) / Math.max(1, perLayer.length);
  const reuse = reuseRates(trace);
  const notes: string[] = [];
  const tooMany = trace.experts > MAX_CORRELATION_EXPERTS;
  if (tooMany && opts.correlations !== false) {
    notes.push(
      `cross-layer and co-activation MI skipped: ${trace.experts} experts per layer is more ` +
        `than ${MAX_CORRELATION_EXPERTS} (they need experts^2 counts per layer)`,
    );
  }
  const corr =
    opts.correlations === false || tooMany ? { crossLayerMI: NaN, coActivationMI: NaN } : correlationStats(trace);
  return {
    tokens: trace.tokens,
    layers: trace.layers,
    experts: trace.experts,
    top_k: trace.topK,
    sequences: new Set(trace.seq).size,
    perLayerLoad: load,
    skew: {
      perLayer,
      mean: {
        maxOverMean: mean((s) => s.maxOverMean),
        gini: mean((s) => s.gini),
        cv: mean((s) => s.cv),
        zipfS: mean((s) => s.zipfS),
      },
    },
    reuseRate: reuse.overall,
    reusePerLayer: reuse.perLayer,
    crossLayerMI: corr.crossLayerMI,
    coActivationMI: corr.coActivationMI,
    notes,
  };
}

/**
 * Distinct expert groups (of `groups` groups of consecutive expert ids) a token's picks span at one layer: the
 * maximum and the mean over all (token, layer), and how many (token, layer) exceed `limit` when given. With a
 * placement's expert -> GPU map and GPUs per node instead, the same counts nodes (`nodesPerToken`).
 */
export function groupsPerToken(
  trace: RoutingTrace,
  groups: number,
  limit?: number,
): { max: number; mean: number; over_limit: number } {
  if (!Number.isInteger(groups) || groups < 1 || trace.experts % groups !== 0) {
    throw new UserError(`routing groups: ${groups} must be a whole number >= 1 dividing the ${trace.experts} experts`);
  }
  const size = trace.experts / groups;
  return spanPerToken(trace, (e) => Math.floor(e / size), groups, limit);
}

/** Distinct nodes a token's picks reach at one layer, given each expert's GPU and the GPUs per node. */
export function nodesPerToken(
  trace: RoutingTrace,
  expertGpu: ArrayLike<number>,
  gpusPerNode: number,
  limit?: number,
): { max: number; mean: number; over_limit: number } {
  let nodes = 1;
  for (let e = 0; e < trace.experts; e++) nodes = Math.max(nodes, Math.floor(expertGpu[e] / gpusPerNode) + 1);
  return spanPerToken(trace, (e) => Math.floor(expertGpu[e] / gpusPerNode), nodes, limit);
}

function spanPerToken(
  trace: RoutingTrace,
  bucketOf: (e: number) => number,
  buckets: number,
  limit: number | undefined,
): { max: number; mean: number; over_limit: number } {
  const { tokens, layers, topK, picks } = trace;
  const bucket = Int32Array.from({ length: trace.experts }, (_, e) => bucketOf(e));
  const seen = new Int32Array(buckets).fill(-1);
  let max = 0;
  let sum = 0;
  let over = 0;
  let stamp = 0;
  for (let t = 0; t < tokens; t++) {
    for (let l = 0; l < layers; l++, stamp++) {
      const base = (t * layers + l) * topK;
      let n = 0;
      for (let k = 0; k < topK; k++) {
        if (picks[base + k] >= trace.experts) continue;
        const b = bucket[picks[base + k]];
        if (seen[b] !== stamp) {
          seen[b] = stamp;
          n++;
        }
      }
      if (n > max) max = n;
      sum += n;
      if (limit !== undefined && n > limit) over++;
    }
  }
  const n = tokens * layers;
  return { max, mean: n ? sum / n : 0, over_limit: over };
}
