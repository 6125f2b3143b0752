import { UserError, listValues } from "../util/errors.js";
import { bytesPerParam, matmulDtype, weightBytesPerParam, type DType, type WeightFormat } from "./weights.js";

export type { DType, WeightFormat } from "./weights.js";
export { bytesPerParam } from "./weights.js";
/** FFN activation: gated ones (SwiGLU) have three matrices per FFN, the others two. */
export type Activation = "swiglu" | "gelu" | "relu";

/**
 * Multi-head latent attention (DeepSeek-V2/V3): queries and keys/values go through low-rank
 * projections; the KV cache holds the compressed latent (kvLoraRank) plus the shared RoPE key.
 */
export interface MlaSpec {
  /** Query low-rank dimension; absent = full-rank query projection (V2-Lite). */
  qLoraRank?: number;
  kvLoraRank: number;
  qkNopeHeadDim: number;
  qkRopeHeadDim: number;
  vHeadDim: number;
}

/**
 * Shape of an MoE transformer, enough to derive parameters, bytes and FLOPs of each part.
 * Decoder-only models give `layers`; encoder-decoder models give `encoderLayers` and
 * `decoderLayers` (their sum is `layers`), and decoder layers carry a cross-attention block.
 */
export interface ModelSpec {
  name: string;
  /** Total transformer layers (encoder + decoder for encoder-decoder models). */
  layers: number;
  /** Every M-th layer (within each stack) is MoE; 1 = all layers. */
  moeEvery: number;
  /** Index (within a stack) of the first MoE layer; default moeEvery - 1 (fairseq/NLLB style). */
  firstMoeLayer?: number;
  /** Routed experts per MoE layer. */
  experts: number;
  topK: number;
  dModel: number;
  /** Hidden size of one routed expert's FFN. */
  dFf: number;
  /** Hidden size of the dense FFN in non-MoE layers (default dFf). */
  denseDFf?: number;
  /** Always-active shared experts per MoE layer (DeepSeek, Qwen). */
  sharedExperts?: number;
  /** Hidden size of each shared expert (default dFf). */
  sharedDFf?: number;
  vocab: number;
  heads: number;
  kvHeads: number;
  /** Per-head dimension (default dModel / heads). */
  headDim?: number;
  /** Activations, KV cache, and every weight that `weights` does not name (embeddings, head, router, biases). */
  dtype: DType;
  /**
   * Weight storage as deployed (default: dtype): linear = attention projections, dense FFNs and
   * shared experts; experts = routed experts (src/workload/weights.ts).
   */
  weights?: { linear?: WeightFormat; experts?: WeightFormat };
  activation: Activation;
  encoderLayers?: number;
  decoderLayers?: number;
  /** Static-gating capacity factor C (capacity per expert = ceil(C * S / E)). */
  capacityFactor?: number;
  /** Input embedding and output head share one matrix (default false). */
  tiedEmbeddings?: boolean;
  /** Linear layers carry biases (fairseq/NLLB). */
  bias?: boolean;
  /** MLA attention dimensions, when the model uses it instead of (grouped-query) MHA. */
  mla?: MlaSpec;
  /**
   * Group-limited routing (DeepSeek-V3 config.json n_group / topk_group): the experts split into `groups` groups of
   * consecutive ids, and a token's top-k experts lie in at most `topGroups` of them.
   */
  routingGroups?: { groups: number; topGroups: number };
  /**
   * Where the figures come from, and the published totals the tests check against. Publishers count active
   * parameters two ways: with the input embedding (OLMoE, Mixtral) or without it, since the lookup does no compute
   * (gpt-oss, Kimi K2); `activeExcludesInputEmbedding` says which.
   */
  published?: { totalParams: number; activeParams?: number; activeExcludesInputEmbedding?: boolean; source: string };
}

const B = 1e9;

/** Built-in model presets. Shapes follow each model's published config. */
export const MODEL_PRESETS: Record<string, ModelSpec> = {
  // Huang et al. 2023 (arXiv 2303.06182), Table 1: LM 52B, E=512, M=2, C=0.05.
  "paper-lm-52b": {
    name: "paper-lm-52b",
    layers: 24,
    moeEvery: 2,
    experts: 512,
    topK: 2,
    dModel: 1024,
    dFf: 4096,
    vocab: 51200,
    heads: 16,
    kvHeads: 16,
    dtype: "fp16",
    activation: "gelu",
    capacityFactor: 0.05,
    tiedEmbeddings: true,
    bias: true,
    published: { totalParams: 52 * B, source: "Huang et al. 2023, arXiv 2303.06182, Table 1 (LM, 52B)" },
  },
  // NLLB-MoE 54.5B: 24 enc + 24 dec, every 4th layer MoE, 128 experts, top-2, C=1.
  "nllb-moe-54b": {
    name: "nllb-moe-54b",
    layers: 48,
    encoderLayers: 24,
    decoderLayers: 24,
    moeEvery: 4,
    experts: 128,
    topK: 2,
    dModel: 2048,
    dFf: 8192,
    vocab: 256206,
    heads: 16,
    kvHeads: 16,
    dtype: "fp16",
    activation: "relu",
    capacityFactor: 1,
    tiedEmbeddings: true,
    bias: true,
    published: { totalParams: 54.5 * B, source: "NLLB Team 2022, arXiv 2207.04672 (NLLB-200 MoE, 54.5B)" },
  },
  // allenai/OLMoE-1B-7B-0924 config.json; paper arXiv 2409.02060: 6.9B total, 1.3B active.
  "olmoe-1b-7b": {
    name: "olmoe-1b-7b",
    layers: 16,
    moeEvery: 1,
    firstMoeLayer: 0,
    experts: 64,
    topK: 8,
    dModel: 2048,
    dFf: 1024,
    vocab: 50304,
    heads: 16,
    kvHeads: 16,
    dtype: "bf16",
    activation: "swiglu",
    published: { totalParams: 6.9 * B, activeParams: 1.3 * B, source: "Muennighoff et al. 2024, arXiv 2409.02060" },
  },
  // mistralai/Mixtral-8x7B-v0.1: 46.7B total, 12.9B active (Mistral AI blog / arXiv 2401.04088).
  "mixtral-8x7b": {
    name: "mixtral-8x7b",
    layers: 32,
    moeEvery: 1,
    firstMoeLayer: 0,
    experts: 8,
    topK: 2,
    dModel: 4096,
    dFf: 14336,
    vocab: 32000,
    heads: 32,
    kvHeads: 8,
    headDim: 128,
    dtype: "bf16",
    activation: "swiglu",
    published: { totalParams: 46.7 * B, activeParams: 12.9 * B, source: "Jiang et al. 2024, arXiv 2401.04088" },
  },
  // deepseek-ai/DeepSeek-V2-Lite: 15.7B total, 2.4B active; first layer dense, 2 shared experts, MLA.
  "deepseek-v2-lite": {
    name: "deepseek-v2-lite",
    layers: 27,
    moeEvery: 1,
    firstMoeLayer: 1,
    experts: 64,
    topK: 6,
    dModel: 2048,
    dFf: 1408,
    denseDFf: 10944,
    sharedExperts: 2,
    vocab: 102400,
    heads: 16,
    kvHeads: 16,
    headDim: 128,
    dtype: "bf16",
    activation: "swiglu",
    mla: { kvLoraRank: 512, qkNopeHeadDim: 128, qkRopeHeadDim: 64, vHeadDim: 128 },
    published: { totalParams: 15.7 * B, activeParams: 2.4 * B, source: "DeepSeek-AI 2024, arXiv 2405.04434 (V2-Lite)" },
  },
  // Qwen/Qwen1.5-MoE-A2.7B: 14.3B total, 2.7B active; 60 experts top-4 + one shared expert of 5632.
  "qwen1.5-moe-a2.7b": {
    name: "qwen1.5-moe-a2.7b",
    layers: 24,
    moeEvery: 1,
    firstMoeLayer: 0,
    experts: 60,
    topK: 4,
    dModel: 2048,
    dFf: 1408,
    sharedExperts: 1,
    sharedDFf: 5632,
    vocab: 151936,
    heads: 16,
    kvHeads: 16,
    dtype: "bf16",
    activation: "swiglu",
    bias: false,
    published: { totalParams: 14.3 * B, activeParams: 2.7 * B, source: "Qwen team 2024, Qwen1.5-MoE-A2.7B model card" },
  },
  // deepseek-ai/DeepSeek-V3 config.json (also DeepSeek-R1): 61 layers, first 3 dense (first_k_dense_replace),
  // 256 routed experts top-8 + 1 shared, MLA, FP8 weights as released; 671B total, 37B active (arXiv 2412.19437,
  // main model without the 14B multi-token-prediction module). Routing is group-limited (n_group 8, topk_group 4).
  "deepseek-v3": {
    name: "deepseek-v3",
    layers: 61,
    moeEvery: 1,
    firstMoeLayer: 3,
    experts: 256,
    topK: 8,
    dModel: 7168,
    dFf: 2048,
    denseDFf: 18432,
    sharedExperts: 1,
    vocab: 129280,
    heads: 128,
    kvHeads: 128,
    headDim: 128,
    dtype: "bf16",
    // quantization_config: fp8 e4m3, weight_block_size [128, 128] on every linear layer; embeddings, head, router bf16
    weights: { linear: "fp8", experts: "fp8" },
    activation: "swiglu",
    mla: { qLoraRank: 1536, kvLoraRank: 512, qkNopeHeadDim: 128, qkRopeHeadDim: 64, vHeadDim: 128 },
    routingGroups: { groups: 8, topGroups: 4 },
    published: {
      totalParams: 671 * B,
      activeParams: 37 * B,
      source: "DeepSeek-AI 2024, arXiv 2412.19437; config.json",
    },
  },
  // moonshotai/Kimi-K2-Instruct config.json: the DeepSeek-V3 architecture with 384 routed experts, 64 heads and
  // one dense layer; FP8 weights as released; 1.04T total, 32B active (Kimi K2 model card).
  "kimi-k2": {
    name: "kimi-k2",
    layers: 61,
    moeEvery: 1,
    firstMoeLayer: 1,
    experts: 384,
    topK: 8,
    dModel: 7168,
    dFf: 2048,
    denseDFf: 18432,
    sharedExperts: 1,
    vocab: 163840,
    heads: 64,
    kvHeads: 64,
    headDim: 128,
    dtype: "bf16",
    // quantization_config as DeepSeek-V3's (block-FP8 128 x 128)
    weights: { linear: "fp8", experts: "fp8" },
    activation: "swiglu",
    mla: { qLoraRank: 1536, kvLoraRank: 512, qkNopeHeadDim: 128, qkRopeHeadDim: 64, vHeadDim: 128 },
    // config.json: n_group 1, topk_group 1 (routing is not group-limited).
    routingGroups: { groups: 1, topGroups: 1 },
    published: {
      totalParams: 1040 * B,
      activeParams: 32 * B,
      activeExcludesInputEmbedding: true,
      source: "Moonshot AI 2025, Kimi K2 model card; config.json",
    },
  },
  // Qwen/Qwen3-235B-A22B config.json: 94 layers all MoE, 128 experts top-8 (moe_intermediate_size 1536), GQA 64/4
  // heads of 128; 235B total, 22B active (Qwen3 technical report, arXiv 2505.09388).
  "qwen3-235b-a22b": {
    name: "qwen3-235b-a22b",
    layers: 94,
    moeEvery: 1,
    firstMoeLayer: 0,
    experts: 128,
    topK: 8,
    dModel: 4096,
    dFf: 1536,
    vocab: 151936,
    heads: 64,
    kvHeads: 4,
    headDim: 128,
    dtype: "bf16",
    activation: "swiglu",
    published: { totalParams: 235 * B, activeParams: 22 * B, source: "Qwen team 2025, arXiv 2505.09388; config.json" },
  },
  // Qwen/Qwen3-30B-A3B config.json: 48 layers all MoE, 128 experts top-8 (moe_intermediate_size 768), GQA 32/4
  // heads of 128; 30.5B total, 3.3B active (Qwen3 model card).
  "qwen3-30b-a3b": {
    name: "qwen3-30b-a3b",
    layers: 48,
    moeEvery: 1,
    firstMoeLayer: 0,
    experts: 128,
    topK: 8,
    dModel: 2048,
    dFf: 768,
    vocab: 151936,
    heads: 32,
    kvHeads: 4,
    headDim: 128,
    dtype: "bf16",
    activation: "swiglu",
    published: {
      totalParams: 30.5 * B,
      activeParams: 3.3 * B,
      source: "Qwen team 2025, Qwen3-30B-A3B model card; config.json",
    },
  },
  // openai/gpt-oss-120b config.json: 36 layers all MoE, 128 experts top-4, d_model = expert hidden = 2880, GQA 64/8
  // heads of 64, biases on attention and experts; 116.8B total, 5.1B active (gpt-oss model card, arXiv 2508.10925).
  // quantization_config: mxfp4 on the MoE experts; self_attn, router, embed_tokens and lm_head not converted (bf16).
  "gpt-oss-120b": {
    name: "gpt-oss-120b",
    layers: 36,
    moeEvery: 1,
    firstMoeLayer: 0,
    experts: 128,
    topK: 4,
    dModel: 2880,
    dFf: 2880,
    vocab: 201088,
    heads: 64,
    kvHeads: 8,
    headDim: 64,
    dtype: "bf16",
    weights: { experts: "mxfp4" },
    activation: "swiglu",
    bias: true,
    published: {
      totalParams: 116.8 * B,
      activeParams: 5.1 * B,
      activeExcludesInputEmbedding: true,
      source: "OpenAI 2025, gpt-oss model card (arXiv 2508.10925); config.json",
    },
  },
  // meta-llama/Llama-4-Maverick-17B-128E config.json (text model): 48 layers, MoE every other layer
  // (interleave_moe_layer_step 2), 128 experts top-1 + 1 shared expert of 8192, dense FFN 16384, GQA 40/8 heads of
  // 128; 400B total, 17B active (Meta, Llama 4 model card).
  "llama-4-maverick": {
    name: "llama-4-maverick",
    layers: 48,
    moeEvery: 2,
    experts: 128,
    topK: 1,
    dModel: 5120,
    dFf: 8192,
    denseDFf: 16384,
    sharedExperts: 1,
    vocab: 202048,
    heads: 40,
    kvHeads: 8,
    headDim: 128,
    dtype: "bf16",
    activation: "swiglu",
    published: {
      totalParams: 400 * B,
      activeParams: 17 * B,
      source: "Meta 2025, Llama 4 Maverick model card; config.json",
    },
  },
};

/** A preset by name; a UserError listing the valid names otherwise. */
export function getModelPreset(name: string): ModelSpec {
  const spec = MODEL_PRESETS[name];
  if (spec === undefined) {
    throw new UserError(`unknown model preset '${name}'; expected ${listValues(Object.keys(MODEL_PRESETS))}`);
  }
  return spec;
}

function stacks(spec: ModelSpec): { start: number; count: number; decoder: boolean }[] {
  if (spec.encoderLayers !== undefined || spec.decoderLayers !== undefined) {
    const enc = spec.encoderLayers ?? 0;
    const dec = spec.decoderLayers ?? 0;
    return [
      { start: 0, count: enc, decoder: false },
      { start: enc, count: dec, decoder: true },
    ];
  }
  return [{ start: 0, count: spec.layers, decoder: true }];
}

/** Global indices (encoder layers first) of the MoE layers. */
export function moeLayerIndices(spec: ModelSpec): number[] {
  const first = spec.firstMoeLayer ?? spec.moeEvery - 1;
  const out: number[] = [];
  for (const s of stacks(spec)) {
    for (let i = first; i < s.count; i += spec.moeEvery) out.push(s.start + i);
  }
  return out;
}

function headDim(spec: ModelSpec): number {
  return spec.headDim ?? spec.dModel / spec.heads;
}

/** Parameters of one FFN with hidden size dFf (gated activations have three matrices). */
export function ffnParams(spec: ModelSpec, dFf: number): number {
  const mats = spec.activation === "swiglu" ? 3 : 2;
  const biases = spec.bias ? (mats - 1) * dFf + spec.dModel : 0;
  return mats * spec.dModel * dFf + biases;
}

/** Storage format of one kind of weights (ModelSpec.weights, default dtype). */
export function weightFormat(spec: ModelSpec, kind: "linear" | "experts"): WeightFormat {
  return spec.weights?.[kind] ?? spec.dtype;
}

/** Bytes of one FFN's weights stored in format f (its biases in dtype). */
export function ffnWeightBytes(spec: ModelSpec, dFf: number, f: WeightFormat): number {
  const matrices = (spec.activation === "swiglu" ? 3 : 2) * spec.dModel * dFf;
  return matrices * weightBytesPerParam(f) + (ffnParams(spec, dFf) - matrices) * bytesPerParam(spec.dtype);
}

/** Parameters of one self-attention block (projections only). */
export function attentionParams(spec: ModelSpec): number {
  const d = spec.dModel;
  if (spec.mla) {
    const m = spec.mla;
    const qHead = m.qkNopeHeadDim + m.qkRopeHeadDim;
    const q = m.qLoraRank ? d * m.qLoraRank + m.qLoraRank * spec.heads * qHead : d * spec.heads * qHead;
    const kvA = d * (m.kvLoraRank + m.qkRopeHeadDim);
    const kvB = m.kvLoraRank * spec.heads * (m.qkNopeHeadDim + m.vHeadDim);
    const o = spec.heads * m.vHeadDim * d;
    return q + kvA + kvB + o;
  }
  const hd = headDim(spec);
  const q = d * spec.heads * hd;
  const kv = 2 * d * spec.kvHeads * hd;
  const o = spec.heads * hd * d;
  const biases = spec.bias ? spec.heads * hd + 2 * spec.kvHeads * hd + d : 0;
  return q + kv + o + biases;
}

export interface ModelStats {
  totalParams: number;
  activeParams: number;
  /** Parameters of one routed expert. */
  expertParams: number;
  /** Bytes of one routed expert's weights (ModelSpec.weights.experts). */
  expertBytes: number;
  /** Bytes of every weight but the routed experts (attention, dense FFNs, gates, shared experts, embeddings). */
  replicatedWeightBytes: number;
  moeLayers: number;
  denseLayers: number;
  /** Input embedding plus output head (once when tied). */
  embeddingParams: number;
  /** Self-attention parameters per layer (decoder layers of encoder-decoder models add cross-attention). */
  attentionParamsPerLayer: number;
  /** Forward FLOPs per token through the active parameters (2 per multiply-add), without attention scores. */
  flopsPerTokenActive: number;
  bytesPerParam: number;
  /** Gate (router) parameters per MoE layer. */
  gateParamsPerLayer: number;
  /** Shared-expert parameters per MoE layer. */
  sharedExpertParamsPerLayer: number;
  /** Dense FFN parameters per dense layer. */
  denseFfnParamsPerLayer: number;
}

/** Parameter counts and per-token cost derived from the spec. */
export function modelStats(spec: ModelSpec): ModelStats {
  const moe = new Set(moeLayerIndices(spec));
  const expertParams = ffnParams(spec, spec.dFf);
  const denseFfn = ffnParams(spec, spec.denseDFf ?? spec.dFf);
  const shared = (spec.sharedExperts ?? 0) * ffnParams(spec, spec.sharedDFf ?? spec.dFf);
  const gate = spec.dModel * spec.experts;
  const attn = attentionParams(spec);
  const bpp = bytesPerParam(spec.dtype);
  const linear = weightFormat(spec, "linear");
  const denseBytes = ffnWeightBytes(spec, spec.denseDFf ?? spec.dFf, linear);
  const sharedBytes = (spec.sharedExperts ?? 0) * ffnWeightBytes(spec, spec.sharedDFf ?? spec.dFf, linear);
  let total = 0;
  let active = 0;
  let replicated = 0;
  for (const s of stacks(spec)) {
    // Decoder layers of an encoder-decoder model have a cross-attention block too.
    const attnHere = s.decoder && stacks(spec).length === 2 ? 2 * attn : attn;
    for (let i = 0; i < s.count; i++) {
      total += attnHere;
      active += attnHere;
      replicated += attnHere * weightBytesPerParam(linear);
      if (moe.has(s.start + i)) {
        total += spec.experts * expertParams + gate + shared;
        active += spec.topK * expertParams + gate + shared;
        replicated += gate * bpp + sharedBytes;
      } else {
        total += denseFfn;
        active += denseFfn;
        replicated += denseBytes;
      }
    }
  }
  const embedding = (spec.tiedEmbeddings ? 1 : 2) * spec.vocab * spec.dModel;
  total += embedding;
  active += embedding;
  // The embedding lookup costs no FLOPs; the output head costs 2 * dModel * vocab per token.
  const flops = 2 * (active - embedding) + 2 * spec.dModel * spec.vocab;
  return {
    totalParams: total,
    activeParams: active,
    expertParams,
    expertBytes: ffnWeightBytes(spec, spec.dFf, weightFormat(spec, "experts")),
    replicatedWeightBytes: replicated + embedding * bpp,
    moeLayers: moe.size,
    denseLayers: spec.layers - moe.size,
    embeddingParams: embedding,
    attentionParamsPerLayer: attn,
    flopsPerTokenActive: flops,
    bytesPerParam: bpp,
    gateParamsPerLayer: gate,
    sharedExpertParamsPerLayer: shared,
    denseFfnParamsPerLayer: denseFfn,
  };
}

/** FLOPs and bytes moved by one operation. */
export interface Cost {
  flops: number;
  /** Weight bytes read (once per operation, shared by all its tokens). */
  weightBytes: number;
  /** Activation/KV bytes read and written. */
  activationBytes: number;
  /** Precision of its matmuls (default: the model's dtype). */
  dtype?: DType;
}

/** KV-cache bytes one token adds per layer (MLA caches the latent plus the RoPE key). */
export function kvCacheBytesPerToken(spec: ModelSpec): number {
  const bpp = bytesPerParam(spec.dtype);
  if (spec.mla) return (spec.mla.kvLoraRank + spec.mla.qkRopeHeadDim) * bpp;
  return 2 * spec.kvHeads * headDim(spec) * bpp;
}

/**
 * One self-attention block for `tokens` new tokens per sequence over `sequences` sequences.
 * Prefill: the new tokens attend causally to themselves after `contextLen` cached tokens;
 * decode: tokens = 1 and each attends to contextLen cached tokens plus itself.
 */
export function attentionCost(spec: ModelSpec, opts: { sequences: number; tokens: number; contextLen: number }): Cost {
  const bpp = bytesPerParam(spec.dtype);
  const n = opts.sequences * opts.tokens;
  const params = attentionParams(spec);
  const qkDim = spec.mla ? spec.mla.qkNopeHeadDim + spec.mla.qkRopeHeadDim : headDim(spec);
  const vDim = spec.mla ? spec.mla.vHeadDim : headDim(spec);
  // Sum over new tokens i = 1..T of the keys each one sees: contextLen + i.
  const T = opts.tokens;
  const keysSeen = T * opts.contextLen + (T * (T + 1)) / 2;
  const scoreFlops = 2 * spec.heads * (qkDim + vDim) * keysSeen * opts.sequences;
  const kvRead = opts.sequences * (opts.contextLen + T) * kvCacheBytesPerToken(spec);
  // the projections' weights as stored; the whole block computes at the activations' rate (scores are not FP8)
  return {
    flops: 2 * params * n + scoreFlops,
    weightBytes: params * weightBytesPerParam(weightFormat(spec, "linear")),
    activationBytes: kvRead + 2 * n * spec.dModel * bpp,
  };
}

function ffnCost(spec: ModelSpec, dFf: number, tokens: number, kind: "linear" | "experts"): Cost {
  const bpp = bytesPerParam(spec.dtype);
  const f = weightFormat(spec, kind);
  return {
    flops: 2 * ffnParams(spec, dFf) * tokens,
    weightBytes: ffnWeightBytes(spec, dFf, f),
    activationBytes: 2 * tokens * spec.dModel * bpp,
    dtype: matmulDtype(f, spec.dtype),
  };
}

/** The dense FFN of a non-MoE layer over `tokens` tokens. */
export function denseFfnCost(spec: ModelSpec, tokens: number): Cost {
  return ffnCost(spec, spec.denseDFf ?? spec.dFf, tokens, "linear");
}

/** One routed expert over the `tokens` tokens routed to it. */
export function expertCost(spec: ModelSpec, tokens: number): Cost {
  return ffnCost(spec, spec.dFf, tokens, "experts");
}

/** The shared experts of one MoE layer over `tokens` tokens (zero when the model has none). */
export function sharedExpertCost(spec: ModelSpec, tokens: number): Cost {
  const n = spec.sharedExperts ?? 0;
  const c = ffnCost(spec, spec.sharedDFf ?? spec.dFf, tokens, "linear");
  return {
    flops: n * c.flops,
    weightBytes: n * c.weightBytes,
    activationBytes: n > 0 ? c.activationBytes : 0,
    dtype: c.dtype,
  };
}

/** The gate: router matmul, softmax and top-k over `tokens` tokens. */
export function gatingCost(spec: ModelSpec, tokens: number): Cost {
  const bpp = bytesPerParam(spec.dtype);
  const matmul = 2 * spec.dModel * spec.experts * tokens;
  const softmaxTopK = tokens * spec.experts * (5 + Math.log2(Math.max(2, spec.topK)));
  return {
    flops: matmul + softmaxTopK,
    weightBytes: spec.dModel * spec.experts * bpp,
    activationBytes: tokens * (spec.dModel * bpp + spec.experts * 4 + spec.topK * 8),
  };
}

/** Embedding lookup plus output head (logits) over `tokens` tokens. */
export function embeddingCost(spec: ModelSpec, tokens: number): Cost {
  const bpp = bytesPerParam(spec.dtype);
  return {
    flops: 2 * spec.dModel * spec.vocab * tokens,
    weightBytes: spec.vocab * spec.dModel * bpp * (spec.tiedEmbeddings ? 1 : 2),
    activationBytes: tokens * (spec.dModel * bpp + spec.vocab * bpp),
  };
}
