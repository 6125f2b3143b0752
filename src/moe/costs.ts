import {
  attentionCost,
  denseFfnCost,
  embeddingCost,
  gatingCost,
  kvCacheBytesPerToken,
  modelStats,
  moeLayerIndices,
  sharedExpertCost,
  weightFormat,
  type Cost,
  type ModelSpec,
} from "../workload/model.js";
import { matmulDtype, weightBytesPerParam } from "../workload/weights.js";
import type { CostOp } from "../hardware/cost.js";
import { DTYPE_BYTES } from "../hardware/devices.js";

export type SimPhase = "decode" | "prefill" | "encode";

/** A workload Cost as a roofline op for the hardware cost model. */
export function genericOp(m: ModelSpec, c: Cost): CostOp {
  return { kind: "generic", flops: c.flops, bytes: c.weightBytes + c.activationBytes, dtype: c.dtype ?? m.dtype };
}

/** One routed expert over `rows` rows: its weights as stored (ModelSpec.weights.experts), its matmuls' precision. */
export function expertOp(m: ModelSpec, rows: number): CostOp {
  const f = weightFormat(m, "experts");
  const { dModel, dFf, activation } = m;
  const dtype = matmulDtype(f, m.dtype);
  return {
    kind: "expert_ffn",
    tokens: rows,
    dModel,
    dFf,
    activation,
    dtype,
    weightBytesPerParam: weightBytesPerParam(f),
  };
}

/**
 * The layers the simulated phase runs through, as global layer indices with their MoE flag. An
 * encoder-decoder model runs its encoder (phase encode) or its decoder (decode/prefill); decoder
 * layers of such a model also carry cross-attention.
 */
export function simulatedLayers(
  m: ModelSpec,
  phase: SimPhase,
): { index: number; moe: boolean; crossAttention: boolean }[] {
  const moe = new Set(moeLayerIndices(m));
  const encDec = m.encoderLayers !== undefined && m.decoderLayers !== undefined;
  let start = 0;
  let count = m.layers;
  if (encDec) {
    start = phase === "encode" ? 0 : m.encoderLayers!;
    count = phase === "encode" ? m.encoderLayers! : m.decoderLayers!;
  }
  const out = [];
  for (let i = start; i < start + count; i++)
    out.push({ index: i, moe: moe.has(i), crossAttention: encDec && phase !== "encode" });
  return out;
}

/**
 * Whether the simulated phase ends in the output head (final layer norm, output projection over the vocabulary,
 * log-softmax). An encoder-decoder model's encoder has none: fairseq's TransformerEncoder returns its final layer
 * norm's output as `encoder_out` for the decoder's cross-attention, and only TransformerDecoder has an
 * `output_layer` (fairseq/models/transformer/transformer_encoder.py, transformer_decoder.py). A decoder-only model
 * scoring whole sequences (phase encode: an LM's evaluation) does compute its logits.
 */
export function runsOutputHead(m: ModelSpec, phase: SimPhase): boolean {
  const encDec = m.encoderLayers !== undefined && m.decoderLayers !== undefined;
  return !(encDec && phase === "encode");
}

/**
 * HBM bytes of the score matrices of standard (non-fused) attention over one sequence: heads x queries x keys
 * scores S written by QK^T and read by the softmax, which writes P, read by PV (FlashAttention, Dao et al. 2022,
 * Algorithm 0: 4 x heads x T x keys elements). The full rectangle is materialised (a causal mask is applied to
 * it, not skipped). Fused kernels (FlashAttention, FlashMLA) keep S and P on chip: 0.
 */
export function attentionScoreBytes(m: ModelSpec, queries: number, keys: number, bytesPerElem: number): number {
  return 4 * m.heads * queries * keys * bytesPerElem;
}

/**
 * Bytes one sequence's self-attention holds for its scores while a layer runs: standard attention materialises
 * the heads x queries x keys probabilities in the activations' dtype (fairseq's MultiheadAttention); a fused kernel
 * keeps S and P on chip and writes only the softmax statistics, one fp32 log-sum-exp per head and query
 * (FlashAttention-2, Dao 2023, Algorithm 1: "Write L_i to HBM"; FlashAttention needs O(N) extra memory, Dao et
 * al. 2022, Theorem 1).
 */
export function attentionScoreMemory(
  m: ModelSpec,
  queries: number,
  keys: number,
  standardAttention: boolean,
  bytesPerElem: number,
): number {
  return standardAttention ? m.heads * queries * keys * bytesPerElem : m.heads * queries * 4;
}

/**
 * Attention over a GPU's sequences: `lengths[i]` new tokens of sequence i after `context` cached ones. With
 * `standardAttention` the score matrices' HBM traffic (attentionScoreBytes) is added to the activation bytes.
 */
export function attentionOnGpu(
  m: ModelSpec,
  newTokensPerSeq: ArrayLike<number>,
  context: number,
  cross: boolean,
  crossLen: number,
  standardAttention = false,
): Cost {
  const bpe = standardAttention ? DTYPE_BYTES[m.dtype] : 0;
  const acc: Cost = { flops: 0, weightBytes: 0, activationBytes: 0 };
  let any = false;
  // a sequence's cost depends on its new tokens only: computed again only when they differ from the last one's
  let lastT = -1;
  let c = acc;
  let cBytes = 0;
  let x = acc;
  let xBytes = 0;
  for (let i = 0; i < newTokensPerSeq.length; i++) {
    const t = newTokensPerSeq[i];
    if (t <= 0) continue;
    any = true;
    if (t !== lastT) {
      lastT = t;
      c = attentionCost(m, { sequences: 1, tokens: t, contextLen: context });
      cBytes = c.activationBytes + attentionScoreBytes(m, t, context + t, bpe);
      if (cross) {
        x = attentionCost(m, { sequences: 1, tokens: t, contextLen: crossLen });
        xBytes = x.activationBytes + attentionScoreBytes(m, t, crossLen, bpe);
      }
    }
    acc.flops += c.flops;
    acc.activationBytes += cBytes;
    acc.weightBytes = c.weightBytes; // weights are read once per layer, whatever the batch
    if (cross) {
      acc.flops += x.flops;
      acc.activationBytes += xBytes;
    }
  }
  if (any && cross) acc.weightBytes *= 2;
  return acc;
}

export { denseFfnCost, embeddingCost, gatingCost, kvCacheBytesPerToken, sharedExpertCost };

/** Bytes of one routed expert's weights. */
export function expertBytes(m: ModelSpec): number {
  return modelStats(m).expertBytes;
}

/** Weight bytes every GPU holds whatever the placement: attention, dense FFNs, gates, shared experts, embeddings. */
export function replicatedWeightBytes(m: ModelSpec): number {
  return modelStats(m).replicatedWeightBytes;
}
