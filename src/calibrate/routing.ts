/**
 * The routing sample used to validate calibration without ../shared: 256 tokens x top-k expert
 * picks over E experts, drawn from a skewed (Zipf, s = 1.1) popularity over a seeded random
 * permutation of the experts, without replacement per token, from the stream
 * rootStream(seed).child("calibrate/routing"). Deterministic for a given seed.
 */
import { rootStream } from "../sim/rng.js";

export interface RoutingSample {
  tokens: number;
  experts: number;
  topK: number;
  /** picks[t * topK + j], highest router weight first. */
  picks: Uint16Array;
  source: string;
}

export const ROUTING_SAMPLE_SEED = 9;

export function routingSample(experts = 16, topK = 2, tokens = 256, seed = ROUTING_SAMPLE_SEED): RoutingSample {
  const rng = rootStream(seed).child("calibrate/routing");
  const perm = rng.shuffle(Array.from({ length: experts }, (_, i) => i));
  const picks = new Uint16Array(tokens * topK);
  for (let t = 0; t < tokens; t++) {
    const taken = new Set<number>();
    for (let j = 0; j < topK; j++) {
      let e: number;
      do e = perm[rng.zipf(experts, 1.1)];
      while (taken.has(e));
      taken.add(e);
      picks[t * topK + j] = e;
    }
  }
  return { tokens, experts, topK, picks, source: `synthetic:zipf1.1,seed=${seed}` };
}

/**
 * Router logits that reproduce the picks: the j-th pick gets max(4, k) - j (plus a small seeded
 * jitter below 0.25; at least 1 for every pick), every other expert a value in [-1, 0). Softmax +
 * top-k on them returns the picks.
 */
export function logitsForPicks(sample: RoutingSample, tokens: number, seed = ROUTING_SAMPLE_SEED): Float32Array {
  const rng = rootStream(seed).child("calibrate/logits");
  const { experts: E, topK: k } = sample;
  const out = new Float32Array(tokens * E);
  const top = Math.max(4, k);
  for (let t = 0; t < tokens; t++) {
    for (let e = 0; e < E; e++) out[t * E + e] = rng.uniform(-1, 0);
    for (let j = 0; j < k; j++) out[t * E + sample.picks[(t % sample.tokens) * k + j]] = top - j + rng.uniform(0, 0.25);
  }
  return out;
}

/** Tokens per expert for the first `tokens` tokens of the sample. */
export function expertCounts(sample: RoutingSample, tokens: number): number[] {
  const c = new Array<number>(sample.experts).fill(0);
  for (let t = 0; t < tokens; t++)
    for (let j = 0; j < sample.topK; j++) c[sample.picks[(t % sample.tokens) * sample.topK + j]]++;
  return c;
}
