/**
 * Framework (host) overhead of an eager stack (the node's hostOpNs, e.g. fairseq on PyTorch 1.x): the host thread
 * issues every op of a layer one after another, each costing hostOpNs of CPU time, while the GPU runs behind it.
 * Between two host-device syncs (a tensor read on the host: .item(), .cpu(), int() of a CUDA tensor) a segment of
 * the step takes max(the host's issue time, the GPUs' time): the GPU cannot start an op the host has not issued yet,
 * and the host cannot run past a sync before the GPU has caught up. The ops per layer are counted from the sources
 * of the paper's stack (docs/hardware.md, "Framework host overhead"): fairseq's TransformerEncoderLayer /
 * TransformerDecoderLayer and MultiheadAttention, its MOELayer (fairseq/modules/moe/moe_layer.py) with the
 * GShard top-2 gate (top2gate.py), Tutel's extract_critical and fast dispatcher (tutel/impls/fast_dispatch.py), and
 * the paper's dynamic gating as DESIGN.md describes it. The counts are op calls of the Python code (views and
 * reshapes included: each pays the dispatcher), exact to within a few ops per block.
 */

/** Op calls of the blocks of a fairseq transformer layer (inference, dropout a no-op that is still called). */
export const FAIRSEQ_OPS = {
  /**
   * Self-attention over whole sequences (encoder, LM scoring, prefill): layer norm; fairseq's MultiheadAttention
   * without incremental state takes PyTorch's F.multi_head_attention_forward (torch.empty and the torch.cat of the
   * q/k/v biases in fairseq, then three projections, the scaling, three contiguous/view/transpose, bmm, softmax,
   * dropout, bmm, transpose/contiguous/view, the out-projection: 23); dropout, residual add.
   */
  selfAttention: 26,
  /**
   * Self-attention of one decode step with the incremental key/value cache (fairseq's own path): three
   * projections, the scaling, three contiguous/view/transpose, the cached keys and values read (view) and
   * concatenated with the new ones, the padding mask appended, the cache written back, bmm, softmax in fp32 and
   * back, dropout, bmm, transpose/contiguous/view, the out-projection; layer norm, dropout, residual add.
   */
  selfAttentionIncremental: 40,
  /**
   * Encoder-decoder attention in a decode step (static keys/values cached from the encoder): the query's
   * projection, scaling and reshape, the cached keys and values read, bmm, softmax, dropout, bmm, reshape, the
   * out-projection; layer norm, dropout, residual add.
   */
  crossAttention: 20,
  /** Dense FFN block: layer norm, fc1, activation, activation dropout, fc2, dropout, residual add. */
  ffn: 7,
  /** One expert of fairseq's per-local-expert loop (FeedForwardNetwork): fc1, activation, dropout, fc2, dropout. */
  perLocalExpert: 5,
  /**
   * A MoE layer around its gate: layer norm, MOELayer's reshape, the reshape and chunk after the dispatch, the cat
   * of the experts' outputs, the reshape after the combine and the slices back to the input's shape, dropout,
   * residual add.
   */
  moeLayer: 8,
  /** The output: final layer norm, output projection, log-softmax (beam search's bookkeeping not counted). */
  head: 5,
  /** An encoder-decoder model's encoder output instead of the head: the encoder's final layer norm. */
  encoderOut: 1,
} as const;

/** A gate's op calls: before its host-device sync (all of them when it has none), after it, and its syncs. */
export interface GateHostOps {
  beforeSync: number;
  afterSync: number;
  /** 1 when the gate reads a tensor on the host (to size its exchange), else 0. */
  syncs: 0 | 1;
  /** Experts run in fairseq's Python loop over the GPU's local experts (FAIRSEQ_OPS.perLocalExpert each). */
  expertLoop: boolean;
}

/**
 * Per gating policy. Two all-to-alls through MOELayer.all_to_all_wrapper cost 5 ops each (2 CUDA events,
 * contiguous, empty_like, all_to_all_single).
 * - static: fairseq's top2gating in eval mode, ~100 ops (router linear, softmax, the gate entropy, argmax and
 *   one-hot masks, Gumbel noise, cumsum locations, the auxiliary loss, overflow and histogram metadata, the
 *   normalised gates, one-hot capacity locations and two bmm into the S x E x C combine tensor), then the
 *   dispatch (to, permute, mm), two all-to-alls and the combine (view, mm): 115, no sync.
 * - tutel: router linear and softmax, extract_critical (~39 ops for top-2), the fast dispatcher's update, encode
 *   and decode (~19), two all-to-alls: 70; Tutel's dynamic capacity ends in int(simple_all_reduce(max)): a sync,
 *   after extract_critical (~41 ops before it).
 * - dynamic (the paper's: top-k, sort by expert, bincount, all-to-all of counts, variable all-to-all): router
 *   linear, softmax, top-k, normalisation (sum, clamp, div), flatten, argsort, gather, bincount, the counts'
 *   all-to-all (empty, all_to_all_single) and their copy to the host (the sync: the variable all-to-all's split
 *   sizes are host integers), then the variable all-to-all, the split by counts, the reverse all-to-all, the
 *   scatter back and the weighted sum: 14 before the sync, 16 after. The paper's code is not public; the count
 *   follows DESIGN.md's steps.
 * - fastmoe, megablocks (not gates of the paper's stack; counted by the same rule, experts in C++ / block-sparse
 *   kernels rather than fairseq's Python loop): 14 + 16 with the counts' sync, as dynamic.
 */
export const GATE_HOST_OPS: Readonly<Record<string, GateHostOps>> = {
  static: { beforeSync: 115, afterSync: 0, syncs: 0, expertLoop: true },
  tutel: { beforeSync: 41, afterSync: 29, syncs: 1, expertLoop: true },
  dynamic: { beforeSync: 14, afterSync: 16, syncs: 1, expertLoop: true },
  fastmoe: { beforeSync: 14, afterSync: 16, syncs: 1, expertLoop: false },
  megablocks: { beforeSync: 14, afterSync: 16, syncs: 1, expertLoop: false },
};

/** The host ops of a gating policy (an unknown policy counts as dynamic). */
export function gateHostOps(policy: string): GateHostOps {
  return GATE_HOST_OPS[policy] ?? GATE_HOST_OPS.dynamic;
}

/** Op calls of the attention block of a layer: self-attention (incremental in decode) and cross-attention. */
export function attentionHostOps(decode: boolean, cross: boolean): number {
  const self = decode ? FAIRSEQ_OPS.selfAttentionIncremental : FAIRSEQ_OPS.selfAttention;
  return self + (cross ? FAIRSEQ_OPS.crossAttention : 0);
}

/** Op calls of a MoE layer's expert part on one GPU: fairseq's loop over its local experts, or none. */
export function expertHostOps(gate: GateHostOps, localExperts: number): number {
  return gate.expertLoop ? FAIRSEQ_OPS.perLocalExpert * localExperts : 0;
}

/**
 * The host thread of a step: what it has issued since the last sync, from when. The same on every GPU (each GPU
 * has its own host process issuing the same ops), so one clock stands for all of them.
 */
export class HostClock {
  declare opNs: number;
  /** When the running segment began (the step's start or the last sync). */
  declare segStart: number;
  /** Host time the ops issued in the segment take, ns. */
  declare issued: number;
  constructor(opNs: number) {
    this.opNs = opNs;
    this.segStart = 0;
    this.issued = 0;
  }

  /** Starts a segment at `now` (a step's start). */
  begin(now: number): void {
    this.segStart = now;
    this.issued = 0;
  }

  /** The host issues `ops` more ops. */
  issue(ops: number): void {
    this.issued += ops * this.opNs;
  }

  /**
   * A host-device sync at `now` (when the GPUs' work issued so far is done): how long the step still waits for
   * the host to have issued the segment's ops (0 when the GPU was the slower). The next segment starts after it.
   */
  sync(now: number): number {
    const wait = Math.max(0, this.segStart + this.issued - now);
    this.segStart = now + wait;
    this.issued = 0;
    return wait;
  }
}
