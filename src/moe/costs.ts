import type { ModelSpec } from "../workload/model.js";
import type { Dtype } from "../hardware/devices.js";

/** Bytes per element of a dtype. */
export function dtypeBytes(d: Dtype): number {
  return d === "fp32" ? 4 : d === "fp8" ? 1 : 2;
}

export function headDim(m: ModelSpec): number {
  return m.headDim ?? Math.floor(m.dModel / m.heads);
}

/** Layers the simulated phase runs through (an encoder-decoder model runs its encoder or its decoder). */
export function layersFor(m: ModelSpec, phase: "decode" | "prefill" | "encode"): number {
  if (m.encoderLayers !== undefined && m.decoderLayers !== undefined) {
    return phase === "encode" ? m.encoderLayers : m.decoderLayers;
  }
  return m.layers;
}

/** Whether layer l (0-based, within the simulated stack) is an MoE layer: every M-th layer. */
export function isMoeLayer(m: ModelSpec, l: number): boolean {
  const first = m.firstMoeLayer ?? m.moeEvery - 1;
  return l >= first && (l - first) % m.moeEvery === 0;
}

/** Attention weights of one layer (q, k, v, o projections). */
export function attentionParams(m: ModelSpec): number {
  const hd = headDim(m);
  return m.dModel * (m.heads * hd) * 2 + m.dModel * (m.kvHeads * hd) * 2;
}

/** KV-cache bytes per token per layer. */
export function kvBytesPerToken(m: ModelSpec): number {
  return 2 * m.kvHeads * headDim(m) * dtypeBytes(m.dtype);
}

/** FLOPs and bytes of one layer's attention for `tokens` tokens, each attending to `context` earlier tokens. */
export function attentionWork(m: ModelSpec, tokens: number, context: number): { flops: number; bytes: number } {
  if (tokens === 0) return { flops: 0, bytes: 0 };
  const b = dtypeBytes(m.dtype);
  const p = attentionParams(m);
  const hd = headDim(m);
  const flops = 2 * tokens * p + 4 * tokens * context * m.heads * hd;
  const bytes = p * b + tokens * context * kvBytesPerToken(m) + 4 * tokens * m.dModel * b;
  return { flops, bytes };
}

/** FFN matrices: SwiGLU has three, GELU/ReLU two. */
export function ffnMatrices(m: ModelSpec): number {
  return m.activation === "swiglu" ? 3 : 2;
}

/** A dense FFN of hidden size dff for `tokens` tokens. */
export function denseFfnWork(m: ModelSpec, tokens: number, dff: number): { flops: number; bytes: number } {
  if (tokens === 0) return { flops: 0, bytes: 0 };
  const b = dtypeBytes(m.dtype);
  const params = ffnMatrices(m) * m.dModel * dff;
  return { flops: 2 * tokens * params, bytes: params * b + 2 * tokens * m.dModel * b };
}

/** The output head (and embedding lookup) once per step. */
export function headWork(m: ModelSpec, tokens: number): { flops: number; bytes: number } {
  if (tokens === 0) return { flops: 0, bytes: 0 };
  const b = dtypeBytes(m.dtype);
  return { flops: 2 * tokens * m.dModel * m.vocab, bytes: m.dModel * m.vocab * b + tokens * m.vocab * b };
}

/** Bytes of one expert's weights. */
export function expertBytes(m: ModelSpec): number {
  return ffnMatrices(m) * m.dModel * m.dFf * dtypeBytes(m.dtype);
}
