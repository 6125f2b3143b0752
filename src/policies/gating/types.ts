/**
 * Gating: what a gate does with one batch's routing at one MoE layer, in counts and bytes only
 * (the simulation turns them into time).
 */
export interface GatingInput {
  tokens: number;
  topK: number;
  experts: number;
  gpus: number;
  /** tokens * topK expert ids for this MoE layer, token-major; -1 (NO_PICK) is no expert (see common.ts). */
  picks: ArrayLike<number>;
  /** GPU that holds each token (the batch is sharded over GPUs). */
  tokenGpu: Int32Array;
  /** expert -> GPU. */
  expertGpu: Int32Array;
  /** Bytes of one token row: d_model * dtype bytes. */
  tokenBytes: number;
}

export interface GatingOptions {
  /** Static gating's capacity factor C (default 1). */
  capacityFactor?: number;
  /** Static gating: an explicit per-expert capacity (rows per source GPU), overriding C. */
  capacity?: number;
  /** MegaBlocks block size in rows (default 128). */
  blockSize?: number;
  /**
   * A plan from an earlier call that the caller no longer needs: gates that plan sparsely write
   * the new plan into its arrays (when their sizes fit) instead of allocating new ones. Small typed
   * arrays are costly to allocate (off-heap backing stores), and a simulation plans every layer.
   */
  reuse?: GatingPlan;
}

export interface GatingPlan {
  policy: string;
  /**
   * gpus * gpus, row = source GPU, column = destination: token rows sent, padding included. The diagonal stays on the
   * GPU.
   */
  sendTokens: Float64Array;
  /** Same layout, bytes. */
  sendBytes: Float64Array;
  /** Per expert: rows the expert computes, padding included. */
  expertRows: Int32Array;
  /** Per expert: real token-expert assignments kept (after drops). */
  expertTokens: Int32Array;
  /** Token-expert assignments: dispatched === combined + dropped. */
  dispatched: number;
  dropped: number;
  /** Padding rows computed (and, for fixed-size exchanges, sent). */
  padded: number;
  combined: number;
  /**
   * The collectives between the gate and the experts, in the order the simulation runs them; the
   * last is always the dispatch all-to-all (of `sendBytes`; padded gates have padded it already).
   */
  exchange: readonly ExchangePhase[];
  /** Experts are launched one by one (FastMoE). */
  perExpertLoop: boolean;
  /** Activation / dispatch buffer memory each GPU needs for this layer, bytes. */
  bufferBytesPerGpu: Float64Array;
  /** Rows per (source GPU, expert) when padded to a capacity. */
  capacity?: number;
  /**
   * Cells of the dense S x E x capacity dispatch/combine tensors each GPU builds and multiplies
   * through (GShard/fairseq einsum gating); absent when the gate dispatches with sparse kernels.
   */
  einsumCellsPerGpu?: Float64Array;
  /**
   * The experts with rows (expertRows > 0), each once, in no particular order; set by the gates
   * that plan sparsely (dynamic, fastmoe, megablocks) so that callers need not scan every expert.
   */
  activeExperts?: Int32Array;
  /**
   * Where sendBytes is a product (load-level plans): sendBytes[s * gpus + d] = share[s] * recv[d] * tokenBytes, these
   * very numbers, so that an all-to-all can take the factors instead of the matrix.
   */
  sendFactors?: SendFactors;
}

export interface SendFactors {
  share: Float64Array;
  recv: Float64Array;
  tokenBytes: number;
}

/**
 * One collective of a gate's exchange: `capacity_all_reduce`, an all-reduce (max) of the capacity
 * across the group (Tutel); `counts`, an all-to-all of per-expert counts (dropless gates, which
 * size the dispatch from them); `dispatch`, the all-to-all of the token rows.
 */
export type ExchangePhase = "capacity_all_reduce" | "counts" | "dispatch";

/** The exchanges of the gates: the dispatch alone (static), after Tutel's all-reduce, after the counts. */
export const DISPATCH_ONLY: readonly ExchangePhase[] = Object.freeze(["dispatch"] as const);
export const CAPACITY_THEN_DISPATCH: readonly ExchangePhase[] = Object.freeze([
  "capacity_all_reduce",
  "dispatch",
] as const);
export const COUNTS_THEN_DISPATCH: readonly ExchangePhase[] = Object.freeze(["counts", "dispatch"] as const);

/** What a gate says about how its plan runs, besides the plan's counts. */
export type PlanShape = Pick<GatingPlan, "exchange" | "perExpertLoop">;

/**
 * A layer's routing at load level (workload.routing: load): per-expert token counts and per-GPU token counts, no
 * token identity.
 */
export interface LoadGatingInput {
  tokens: number;
  topK: number;
  experts: number;
  gpus: number;
  /** Tokens held by each GPU (sums to tokens). */
  tokensPerGpu: Int32Array;
  /** Token-expert assignments per expert (sums to tokens * topK). */
  expertLoads: Int32Array;
  /** expert -> GPU. */
  expertGpu: Int32Array;
  tokenBytes: number;
  /**
   * false: the plan's sendTokens and sendBytes are left empty (length 0), its sendFactors give them (a caller that
   * hands all-to-alls the factors saves writing gpus x gpus cells per layer). Default true.
   */
  sendMatrix?: boolean;
}

export interface GatingPolicy {
  name: string;
  description: string;
  plan(input: GatingInput, opts?: GatingOptions): GatingPlan;
  /**
   * The plan from per-expert loads alone, for gates whose plan depends on nothing else (no drops or padding per
   * (source GPU, expert) pair); absent where a gate needs more (static, tutel), which load-level routing refuses.
   */
  planFromLoads?(input: LoadGatingInput, opts?: GatingOptions): GatingPlan;
}
