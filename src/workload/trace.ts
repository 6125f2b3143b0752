/**
 * The one canonical in-memory routing trace: typed arrays, token-major.
 *
 * Token t (a decode step of one request, or one prefill token) at MoE layer l picked the experts
 * picks[(t * layers + l) * topK + k] for k = 0..topK-1, highest router weight first.
 * Tokens are stored in the order they were recorded; `seq[t]` is the request (sequence) id and
 * `step[t]` the token's position within its request's generated stream (0-based), so batching
 * can group tokens of different requests into simulation steps.
 */
export interface RoutingTrace {
  /** MoE layers in the trace. */
  layers: number;
  /** Experts per MoE layer. */
  experts: number;
  /** Experts each token picks per layer. */
  topK: number;
  /** Number of tokens. */
  tokens: number;
  /** Expert ids, length tokens * layers * topK. */
  picks: Uint16Array;
  /** Request id per token, length tokens. */
  seq: Int32Array;
  /** Position of the token within its request, length tokens. */
  step: Int32Array;
  /** Optional per-token router weights, same layout as picks. */
  weights?: Float32Array;
  meta: TraceMeta;
  /**
   * Load-level routing (workload.routing: load, workload/load-routing.ts): the trace holds no picks (`picks` is
   * empty) and the simulation draws each step's per-expert counts from these inclusion probabilities.
   */
  loads?: LoadRouting;
}

/** What a load-level trace carries instead of picks: the per-layer inclusion probabilities and the draws' seed. */
export interface LoadRouting {
  /** [trace layer][expert]: probability that a token's top-k at the layer includes the expert (each sums to topK). */
  inclusion: Float64Array[];
  /** Seed of the count draws (a run derives its stream from it). */
  seed: string;
}

export interface TraceMeta {
  model?: string;
  /** Bytes of one expert's weights, when the trace header says. */
  expertBytes?: number;
  /** Domain (e.g. "coding") per request id, when known. */
  domains?: Record<number, string>;
  /** Where the trace came from (path, or "synthetic:<params>"). */
  source?: string;
  /**
   * Tokens that lacked some layer: left out (`incomplete: drop`), or kept with no expert picks at
   * the layers they lacked (`incomplete: empty`). See IncompleteReport.
   */
  incomplete?: {
    policy: string;
    dropped_tokens: number;
    dropped_records: number;
    empty_tokens?: number;
    empty_layers?: number;
    first: string[];
  };
  [key: string]: unknown;
}

/**
 * The pick stored for "no expert": a token kept under `incomplete: empty` at a layer it has no
 * record for holds NO_EXPERT in all its top-k picks there, and costs no expert work at that layer
 * (gating sees -1, an empty pick list). Expert ids are then 0..65534 (experts <= 65535).
 */
export const NO_EXPERT = 0xffff;

/** Tokens with no expert picks at some layer, and such (token, layer) pairs (see NO_EXPERT). */
export function emptyCounts(trace: RoutingTrace): { tokens: number; layers: number } {
  const { picks, topK: K, layers: L } = trace;
  let tokens = 0;
  let pairs = 0;
  if (trace.experts > NO_EXPERT) return { tokens, layers: pairs };
  for (let t = 0; t < trace.tokens; t++) {
    let here = 0;
    for (let l = 0; l < L; l++) if (picks[(t * L + l) * K] === NO_EXPERT) here++;
    if (here > 0) tokens++;
    pairs += here;
  }
  return { tokens, layers: pairs };
}

/** Index of the first pick of token t at layer l. */
export function pickOffset(trace: RoutingTrace, t: number, l: number): number {
  return (t * trace.layers + l) * trace.topK;
}
