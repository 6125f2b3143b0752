/**
 * Expert buffering: a per-GPU, per-MoE-layer cache of expert weights backed by CPU memory.
 *
 * Request semantics (shared by every policy, so Belady MIN is provably optimal among them): the
 * cache serves a flat stream of expert requests, cut into batches. Within a batch each active
 * expert is requested once, in order (ascending expert id when built by buildAccessSequences). A
 * request to a resident expert is a hit and moves nothing; a request to a non-resident expert is a
 * miss that loads it (one copy of its weights from CPU memory), evicting exactly one resident
 * expert first when the cache is full. An expert is used at the moment of its request, so a batch
 * may have more active experts than the cache has slots. Policies differ only in which resident
 * they evict; they may look at the current batch's whole active set (the gate has computed it
 * before the experts run), and Belady also at the future of the stream.
 */
export interface AccessSequence {
  /** Expert ids, batch after batch. */
  requests: Int32Array;
  /** Index in `requests` where batch b starts; length batches + 1. */
  batchStart: Int32Array;
  /** Expert ids are in [0, experts). */
  experts: number;
}

/** What one batch did to the cache: experts loaded (misses) and evicted, in order. */
export interface CacheStep {
  misses: number[];
  evicted: number[];
}

export interface ExpertCache {
  readonly capacity: number;
  /** Serve batch b (its active experts, in request order). */
  accessBatch(b: number, active: ArrayLike<number>): CacheStep;
  /**
   * Fast path for whole-trace runs: serve requests[start..end) as batch b without recording which
   * experts moved; returns the number of misses. Same decisions as accessBatch.
   */
  serve(b: number, requests: ArrayLike<number>, start: number, end: number): number;
  /** Resident experts, ascending id. */
  resident(): number[];
}

export interface CacheContext {
  experts: number;
  /** The whole access stream this cache will serve (needed by policies with needsFuture). */
  future?: AccessSequence;
}

export interface BufferingPolicy {
  name: string;
  description: string;
  /** True when the policy needs ctx.future (offline policies such as Belady MIN). */
  needsFuture: boolean;
  create(capacity: number, ctx: CacheContext): ExpertCache;
}

export interface CacheResult {
  requests: number;
  misses: number;
  hits: number;
  miss_rate: number;
  bytes_moved: number;
}
