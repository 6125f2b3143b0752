/**
 * One step of the simulation: the step's tokens assigned to GPUs, then per layer attention and the
 * dense parts and, on MoE layers, gating, the plan's exchange phases (the shared experts computing
 * meanwhile), weight copies for cache misses, expert compute and the combine; then the output head
 * and the step's record. Phases are attributed on the critical path, so they add up to the step's
 * latency. In the run's first steps the GPUs' intervals, link samples and the first MoE layer's
 * dispatch matrix go to its window (window.ts).
 */
import type { ProcessGenerator, SimEvent } from "../sim/engine.js";
import { PHASES, type PhaseName } from "./types.js";
import { PhaseTimes, type Run, type RunConstants, type RunTallies, type StepScratch } from "./state.js";
import { allocStepMemory, free, freeStepMemory, OomStop } from "./memory.js";
import { denseParts, headNs } from "./dense.js";
import { gateLayer } from "./gating.js";
import { combine, exchangePhase, sendBytesOf, tpCollective } from "./exchange.js";
import { expertCompute, startCopies } from "./experts.js";
import { attentionHostOps, expertHostOps, FAIRSEQ_OPS } from "./host.js";
import {
  afterCollective,
  busySince,
  endWindowStep,
  markBusy,
  recordComm,
  recordCompute,
  recordDispatch,
  windowOpen,
  type Window,
} from "./window.js";

/** One step; an allocation that does not fit ends the run with the OOM recorded at this step. */
export function* runStep(run: Run, stepIdx: number, tokens: Int32Array): ProcessGenerator<void> {
  yield* oomStops(run, stepIdx, stepBody(run, stepIdx, tokens));
}

/** Runs a step's body; an OomStop ends the run with the OOM recorded at the step. */
export function* oomStops(run: Run, stepIdx: number, body: ProcessGenerator<void>): ProcessGenerator<void> {
  try {
    yield* body;
  } catch (e) {
    if (!(e instanceof OomStop)) throw e;
    run.t.oom = { ...e.info, step: stepIdx };
  }
}

function* stepBody(run: Run, stepIdx: number, tokens: Int32Array): ProcessGenerator<void> {
  const { c, s, t } = run;
  const start = c.sim.now;
  const phases = new PhaseTimes();
  const tpBytes = beginStep(c, s, tokens);
  const w = windowOpen(run.w, stepIdx) ? run.w : null;
  s.host.begin(start);
  for (let l = 0; l < c.nLayers; l++) {
    const moe = c.layers[l].moe && !c.denseEq;
    const t0 = c.sim.now;
    s.host.issue(attentionHostOps(c.cfg.phase === "decode", c.layers[l].crossAttention) + (moe ? 0 : FAIRSEQ_OPS.ffn));
    denseParts(c, s, t, l, moe);
    if (w) recordCompute(w, stepIdx, l, "attention", () => t0, s.attnGpu);
    let attnMax = s.cur.attnMax;
    if (tpBytes !== null) {
      // Tensor parallel: each block ends with an all-reduce within the group; its time counts
      // to the block (attention, or the dense FFN).
      yield attnMax;
      let t1 = c.sim.now;
      yield* collective(run, w, stepIdx, l, "tp all-reduce", tpCollective(c, tpBytes, "allReduce"));
      phases.attention += attnMax + (c.sim.now - t1);
      attnMax = 0;
      if (!moe) {
        const t2 = c.sim.now;
        if (w) recordCompute(w, stepIdx, l, "dense", () => t2, s.denseGpu);
        yield s.cur.denseMax;
        t1 = c.sim.now;
        yield* collective(run, w, stepIdx, l, "tp all-reduce", tpCollective(c, tpBytes, "allReduce"));
        phases.dense += s.cur.denseMax + (c.sim.now - t1);
        continue;
      }
    }
    if (!moe) {
      if (w) recordCompute(w, stepIdx, l, "dense", (g) => t0 + s.attnGpu[g], s.denseGpu);
      phases.attention += attnMax;
      phases.dense += s.cur.denseMax;
      yield attnMax + s.cur.denseMax;
      continue;
    }
    yield* moeLayer(run, stepIdx, tokens, l, attnMax, tpBytes, phases);
  }
  if (w) markBusy(w, t.gpuBusy);
  const headMax = headNs(c, s, t);
  if (w && c.outputHead) {
    const t0 = c.sim.now;
    recordCompute(w, stepIdx, -1, "head", () => t0, busySince(w, t.gpuBusy));
  }
  phases.dense += headMax;
  yield headMax;
  // the step's output is read on the host (scores, the next tokens): a sync
  s.host.issue(c.outputHead ? FAIRSEQ_OPS.head : FAIRSEQ_OPS.encoderOut);
  yield* hostSync(run, phases);
  if (w) endWindowStep(w, c.cluster, c.sim.now);
  endStep(c, s, t, stepIdx, tokens, start, phases);
}

/** A host-device sync: waits until the host has issued the segment's ops (framework overhead, host.ts). */
function* hostSync(run: Run, phases: PhaseTimes): ProcessGenerator<void> {
  const wait = run.s.host.sync(run.c.sim.now);
  if (wait <= 0) return;
  phases.host += wait;
  yield wait;
}

/** Waits for a collective; in the window, records it on the communication streams and samples the links. */
function* collective<T>(
  run: Run,
  w: Window | null,
  stepIdx: number,
  layer: number,
  what: string,
  ev: SimEvent<T>,
): ProcessGenerator<void> {
  const t0 = run.c.sim.now;
  yield ev;
  if (w === null) return;
  recordComm(w, stepIdx, 0, layer, what, t0, run.c.sim.now);
  afterCollective(w, run.c.cluster, run.c.sim.now);
}

/**
 * MoE layer (layer l, MoE layer j) after its attention (attnMax on the slowest GPU): gating, the
 * plan's exchange phases in order (weight copies for cache misses start as soon as gating has
 * decided, one copy stream per GPU, overlapping them; the shared experts compute on each GPU while
 * the dispatch is on the wire, as vLLM's SharedFusedMoE runs them: docs/deployments.md), expert
 * compute once a GPU's tokens have arrived and its shared experts are done, the combine (and with
 * tensor parallelism the all-gather that gives every rank its group's tokens back).
 */
function* moeLayer(
  run: Run,
  stepIdx: number,
  tokens: Int32Array,
  l: number,
  attnMax: number,
  tpBytes: Float64Array | null,
  phases: PhaseTimes,
): ProcessGenerator<void> {
  const { c, s, x, t } = run;
  const w = windowOpen(run.w, stepIdx) ? run.w : null;
  const j = c.moeIndexOf[l];
  const tGate = c.sim.now;
  if (w) markBusy(w, t.gpuBusy);
  const { plan, owner } = gateLayer(c, s, x, t, j, tokens);
  if (w) {
    // with tensor parallelism attention is behind (attnMax is 0 here)
    const after = tpBytes === null ? s.attnGpu : null;
    recordCompute(w, stepIdx, l, "gate", (g) => tGate + (after?.[g] ?? 0), busySince(w, t.gpuBusy));
    recordDispatch(w, stepIdx, j, c.D, () => sendBytesOf(plan));
  }
  phases.attention += attnMax;
  phases.gating += s.cur.gateMax;
  yield attnMax + s.cur.gateMax;
  const copies = c.caches !== null ? startCopies(c, s, x, t, j, stepIdx, owner) : null;
  const tDispatch = c.sim.now;
  // the shared experts (denseParts' dense part of a MoE layer), from now on each GPU's compute stream
  const sharedMax = s.cur.denseMax;
  const busyUntil = sharedMax > 0 ? s.busyUntil : null;
  if (busyUntil !== null) for (let g = 0; g < c.D; g++) busyUntil[g] = tDispatch + s.denseGpu[g];
  if (w && busyUntil !== null) recordCompute(w, stepIdx, l, "shared experts", () => tDispatch, s.denseGpu);
  const exchange = plan.exchange;
  const gh = c.gateHost;
  s.host.issue(FAIRSEQ_OPS.moeLayer + gh.beforeSync);
  let hostWait = 0;
  for (let i = 0; i < exchange.length; i++) {
    yield* collective(run, w, stepIdx, l, exchange[i], exchangePhase(c, x, plan, exchange[i]));
    if (i === 0 && gh.syncs > 0 && exchange.length > 1) {
      // the gate reads the counts (or Tutel's capacity) on the host to size the dispatch
      const t1 = c.sim.now;
      yield* hostSync(run, phases);
      hostWait += c.sim.now - t1;
    }
  }
  s.host.issue(gh.afterSync + expertHostOps(gh, c.localExperts));
  const tArrived = c.sim.now;
  phases.all_to_all += tArrived - tDispatch - hostWait;
  if (copies !== null && copies.copyDone.length > 0) yield c.sim.allOf(copies.copyDone);
  if (w) markBusy(w, t.gpuBusy);
  const endMax = expertCompute(c, s, x, t, plan, copies?.ready ?? null, tArrived, busyUntil);
  if (w) {
    const from = (g: number): number => (busyUntil ? Math.max(tArrived, busyUntil[g]) : tArrived);
    recordCompute(w, stepIdx, l, "experts", from, busySince(w, t.gpuBusy));
  }
  // On the critical GPU: its compute; the rest of the span is waiting for its shared experts
  // (as far as they outlast the dispatch), then for weights.
  const sharedEnd = tDispatch + sharedMax;
  const expertSpan = endMax - tArrived;
  const wait = Math.max(0, expertSpan - s.cur.critCompute);
  const sharedWait = Math.min(wait, Math.max(0, sharedEnd - tArrived));
  phases.expert_compute += Math.min(expertSpan, s.cur.critCompute);
  phases.dense += sharedWait;
  phases.weight_transfer += wait - sharedWait;
  // a GPU whose shared experts outlast every GPU's routed experts ends the layer
  const layerEnd = Math.max(endMax, sharedEnd);
  phases.dense += layerEnd - Math.max(endMax, tArrived);
  if (layerEnd > c.sim.now) yield layerEnd - c.sim.now;
  const tCombine = c.sim.now;
  yield* collective(run, w, stepIdx, l, "combine", combine(c, x, plan));
  if (tpBytes !== null) yield* collective(run, w, stepIdx, l, "tp all-gather", tpCollective(c, tpBytes, "allGather"));
  phases.all_to_all += c.sim.now - tCombine;
  for (let g = 0; g < c.D; g++) free(c, g, "all_to_all", plan.bufferBytesPerGpu[g]);
  x.lastPlan = plan; // done with it: the next layer's plan may reuse its arrays
}

/**
 * Sets up a step: data parallel for the dense parts (whole requests go to GPUs, or tensor-parallel
 * groups of T GPUs, round-robin), each GPU's tokens and sequences, and the step's memory (KV
 * cache for its requests, activations of the widest layer). Returns the tensor-parallel
 * all-reduce sizes (null without tensor parallelism).
 */
export function beginStep(c: RunConstants, s: StepScratch, tokens: Int32Array): Float64Array | null {
  s.cur.misses = s.cur.hits = s.cur.dropped = s.cur.padded = 0;
  s.gpuTokensStep.fill(0);
  assignTokens(c, s, tokens);
  allocStepMemory(c, s);
  // The activation bytes each tensor-parallel group reduces after attention or a dense FFN.
  return c.T > 1 ? Float64Array.from(s.groupTokens, (k) => k * c.m.dModel * c.bytesPerElem) : null;
}

/**
 * Assigns `tokens` to GPUs (see beginStep) and forgets the per-step cost memos; overlap.ts calls
 * it once per micro-batch.
 */
export function assignTokens(c: RunConstants, s: StepScratch, tokens: Int32Array): void {
  const n = tokens.length;
  const T = c.T;
  // (the buffers grow only under continuous batching, whose steps' sizes are not known in advance)
  if (s.tokenGpuBuf.length < n) s.tokenGpuBuf = new Int32Array(Math.max(n, 2 * s.tokenGpuBuf.length));
  s.tokenGpu = s.tokenGpuBuf.length === n ? s.tokenGpuBuf : s.tokenGpuBuf.subarray(0, n);
  s.perGpuTokens.fill(0);
  s.dispatchTokens.fill(0);
  s.groupTokens.fill(0);
  if (s.seqTokens.length < n) {
    s.seqTokens = new Int32Array(s.tokenGpuBuf.length);
    s.gpuSeqBuf = new Int32Array(s.tokenGpuBuf.length);
  }
  const seqKey = c.seqKey;
  const stamp = ++s.stampNow;
  const seqStamp = s.seqStamp;
  const seqRank = s.seqRank;
  const seqTokens = s.seqTokens;
  const DP = c.DP;
  const tokenGpu = s.tokenGpu;
  const groupTokens = s.groupTokens;
  const perGpuTokens = s.perGpuTokens;
  let ranks = 0;
  // perGpuTokens: the tokens whose dense work a GPU shares (its group's); tokenGpu: the GPU that
  // dispatches each token to the experts (1/T of its group's tokens). Sequences are ranked in order of
  // first appearance; rank r goes to group r mod DP.
  for (let i = 0; i < n; i++) {
    const q = seqKey[tokens[i]];
    let r: number;
    if (seqStamp[q] !== stamp) {
      seqStamp[q] = stamp;
      r = seqRank[q] = ranks++;
      seqTokens[r] = 0;
    } else r = seqRank[q];
    seqTokens[r]++;
    const k = r % DP;
    if (T === 1) {
      tokenGpu[i] = k;
      groupTokens[k]++;
      perGpuTokens[k]++;
    } else {
      tokenGpu[i] = k * T + (groupTokens[k]++ % T);
      for (let y = 0; y < T; y++) perGpuTokens[k * T + y]++;
    }
  }
  // each group's sequences (ranks k, k + DP, ...) as one segment of gpuSeqBuf, shared by the group's T GPUs
  for (let k = 0, at = 0; k < DP; k++) {
    const cnt = k < ranks ? Math.floor((ranks - 1 - k) / DP) + 1 : 0;
    for (let i = 0; i < cnt; i++) s.gpuSeqBuf[at + i] = seqTokens[k + i * DP];
    const view = s.gpuSeqBuf.subarray(at, at + cnt);
    for (let y = 0; y < T; y++) s.gpuSeqs[k * T + y] = view;
    at += cnt;
  }
  const dispatchTokens = s.dispatchTokens;
  for (let i = 0; i < n; i++) dispatchTokens[tokenGpu[i]]++;
  // Per-step costs that do not change from layer to layer (they depend on the GPU's tokens and
  // sequences only): attention with / without cross-attention, the dense FFN or shared experts,
  // the gate. Computed at the first layer that needs them.
  for (const a of s.attnNs) a.fill(-1);
  for (const a of s.denseNs) a.fill(-1);
  s.gateNs.fill(-1);
  if (s.picksBuf.length < n * c.K) s.picksBuf = new Int32Array(n * c.K);
}

/** Ends a step: its memory freed, its record, the run's totals. */
export function endStep(
  c: RunConstants,
  s: StepScratch,
  t: RunTallies,
  stepIdx: number,
  tokens: Int32Array,
  start: number,
  phases: Record<PhaseName, number>,
): void {
  const n = tokens.length;
  const now = c.sim.now;
  freeStepMemory(c, s);
  let tot = 0;
  let mx = 0;
  for (let g = 0; g < c.D; g++) {
    tot += s.gpuTokensStep[g];
    if (s.gpuTokensStep[g] > mx) mx = s.gpuTokensStep[g];
  }
  t.steps.push({
    step: stepIdx,
    start_ns: start,
    end_ns: now,
    tokens: n,
    latency_ns: now - start,
    phases_ns: phases,
    gpu_tokens: Array.from(s.gpuTokensStep),
    max_gpu_share: tot > 0 ? mx / tot : 0,
    cache_misses: s.cur.misses,
    cache_hits: s.cur.hits,
    dropped: s.cur.dropped,
    padded: s.cur.padded,
  });
  for (const p of PHASES) t.phaseTotals[p] += phases[p];
  t.tokensDone += n;
  const seqKey = c.seqKey;
  for (let i = 0; i < n; i++) {
    const q = seqKey[tokens[i]];
    if (t.requestStart[q] !== t.requestStart[q]) {
      // NaN: the sequence's first step
      t.requestStart[q] = start;
      t.requestOrder[t.requests++] = q;
    }
    t.requestEnd[q] = now;
  }
}
