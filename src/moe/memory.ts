/**
 * Memory accounting: each GPU's pool by category. Weights (or the expert cache's slots) are
 * allocated once at the start; the KV cache and activations per step; all-to-all buffers per MoE
 * layer. An allocation that does not fit throws OomStop, which ends the run with the OOM recorded.
 */
import type { MemoryCategory, OomInfo } from "../hardware/memory.js";
import type { Placement } from "../policies/placement/index.js";
import { moeLayerIndices } from "../workload/model.js";
import { attentionScoreMemory, denseFfnCost, sharedExpertCost } from "./costs.js";
import type { RunConstants, StepScratch } from "./state.js";

export class OomStop extends Error {
  constructor(readonly info: OomInfo) {
    super("out of memory");
  }
}

export function alloc(c: RunConstants, g: number, cat: MemoryCategory, bytes: number): void {
  if (bytes <= 0) return;
  const r = c.cluster.memory(g).allocate(cat, bytes);
  if (!r.ok) throw new OomStop(r.oom);
}

export function free(c: RunConstants, g: number, cat: MemoryCategory, bytes: number): void {
  if (bytes > 0) c.cluster.memory(g).free(cat, bytes);
}

/** Expert copies per GPU of a placement: each expert's own GPU and its replicas (hot copies, EPLB's redundant ones). */
export function copiesPerGpu(p: Placement, gpus: number): Int32Array {
  const n = new Int32Array(gpus);
  const replicas = p.replicas;
  for (let e = 0; e < p.expertGpu.length; e++) {
    n[p.expertGpu[e]]++;
    const r = replicas?.[e];
    if (r !== undefined) for (let k = 0; k < r.length; k++) n[r[k]]++;
  }
  return n;
}

/** a[i] += b[i] for each i. */
function addInto(a: Int32Array, b: Int32Array): void {
  for (let i = 0; i < a.length; i++) a[i] += b[i];
}

/** Per run: each GPU's expert copies in MoE layer 0, and over all MoE layers (counted once, not once per GPU). */
const copiesOf = new WeakMap<RunConstants, { first: Int32Array; all: Int32Array }>();

function staticCopies(c: RunConstants): { first: Int32Array; all: Int32Array } {
  let r = copiesOf.get(c);
  if (r === undefined) {
    const all = new Int32Array(c.D);
    let first: Int32Array = all;
    // (the sum in a function of its own: this loop runs once per run, too short for V8 to compile it on the stack)
    for (let j = 0; j < c.moeLayers.length; j++) {
      const n = copiesPerGpu(c.placements[j], c.D);
      if (j === 0) first = n;
      addInto(all, n);
    }
    r = { first, all };
    copiesOf.set(c, r);
  }
  return r;
}

/**
 * The run's static memory on GPU g: the replicated dense weights (the dense baseline's FFNs in
 * place of its MoE layers) and the GPU's expert copies (replicas included), or with buffering its cache slots. An
 * encoder-decoder model keeps the other stack's experts resident too (placed like the simulated
 * stack's first MoE layer; buffering caches only the simulated stack, as the paper buffers the
 * NLLB decoder).
 */
export function allocStaticMemory(c: RunConstants, g: number): void {
  let weights = c.denseParamBytes;
  const otherStackMoe = moeLayerIndices(c.m).length - c.moeLayerCountAll;
  if (c.denseEq) {
    const shared = c.m.sharedExperts ? sharedExpertCost(c.m, 0).weightBytes : 0;
    weights += (c.moeLayerCountAll + otherStackMoe) * (denseFfnCost(c.denseEqSpec, 0).weightBytes - shared);
  } else if (otherStackMoe > 0) {
    const perLayer = c.moeLayers.length > 0 ? staticCopies(c).first[g] : Math.ceil(c.E / c.D);
    weights += otherStackMoe * perLayer * c.eBytes;
  }
  if (!c.caches) {
    weights += staticCopies(c).all[g] * c.eBytes;
    alloc(c, g, "weights", weights);
  } else {
    alloc(c, g, "weights", weights);
    alloc(c, g, "expert_cache", c.slots * c.moeLayers.length * c.eBytes);
  }
}

/**
 * The step's memory on every GPU, once its tokens and sequences are assigned: the KV cache of its
 * requests and the activations of the widest layer.
 */
export function allocStepMemory(c: RunConstants, s: StepScratch): void {
  const m = c.m;
  for (let g = 0; g < c.D; g++) {
    // KV cache: decode keeps context + 1 tokens per request; prefill/encode its new tokens.
    const cached = c.cfg.phase === "decode" ? s.gpuSeqs[g].length * (c.ctx + 1) : s.perGpuTokens[g];
    s.stepKv[g] = c.cfg.phase === "encode" ? 0 : (cached * c.kvPerToken * c.nLayers) / c.T;
    // Hidden states and logits of the GPU's tokens (no logits where the phase has no output head: an
    // encoder-decoder model's encoder), and one layer's attention scores (attentionScoreMemory: the
    // heads x new tokens x keys probabilities with standard attention as in fairseq, statistics only when fused).
    let scores = 0;
    for (const t of s.gpuSeqs[g]) scores += attentionScoreMemory(m, t, c.ctx + t, c.standardAttention, c.bytesPerElem);
    const perToken = 4 * m.dModel + (c.outputHead ? m.vocab / c.T : 0);
    s.stepAct[g] = s.perGpuTokens[g] * perToken * c.bytesPerElem + scores / c.T;
    alloc(c, g, "kv_cache", s.stepKv[g]);
    alloc(c, g, "activations", s.stepAct[g]);
  }
}

/** Frees what allocStepMemory took. */
export function freeStepMemory(c: RunConstants, s: StepScratch): void {
  for (let g = 0; g < c.D; g++) {
    free(c, g, "kv_cache", s.stepKv[g]);
    free(c, g, "activations", s.stepAct[g]);
  }
}
