import { Simulation, type ProcessGenerator, type SimEvent } from "../sim/engine.js";
import { EventLog } from "../sim/log.js";
import type { RandomStream } from "../sim/rng.js";
import { Cluster, type NetworkModel } from "../hardware/cluster.js";
import type { ClusterSpec } from "../hardware/devices.js";
import type { CostModel } from "../hardware/cost.js";
import type { MemoryCategory, OomInfo } from "../hardware/memory.js";
import type { Cost, ModelSpec } from "../workload/model.js";
import { DTYPE_BYTES } from "../hardware/devices.js";
import type { RoutingTrace } from "../workload/trace.js";
import type { ContinuousBatcher, RequestStats } from "../workload/batching.js";
import type { GatingPlan, GatingPolicy } from "../policies/gating/index.js";
import type { BufferingPolicy, ExpertCache } from "../policies/buffering/index.js";
import type { Placement, PlacementPolicy } from "../policies/placement/index.js";
import {
  attentionOnGpu,
  denseFfnCost,
  embeddingCost,
  expertBytes as expertBytesOf,
  genericOp,
  kvCacheBytesPerToken,
  replicatedWeightBytes,
  sharedExpertCost,
  simulatedLayers,
} from "./costs.js";
import { buildAccessSequences, buildPlacements, traceLayerOf } from "./prepare.js";

export type Phase = "decode" | "prefill" | "encode";

export const PHASES = ["attention", "dense", "gating", "all_to_all", "expert_compute", "weight_transfer", "idle"] as const;
export type PhaseName = (typeof PHASES)[number];

export interface MoeSimConfig {
  name: string;
  clusterSpec: ClusterSpec;
  /** GPUs used (the first N of the cluster). */
  gpus: number;
  cost?: CostModel;
  model: ModelSpec;
  trace: RoutingTrace;
  phase: Phase;
  /** Steps (token indices of the trace) for static batching; null for continuous batching. */
  steps: Int32Array[] | null;
  continuous?: { batcher: () => ContinuousBatcher };
  contextTokens: number;
  maxSteps?: number;
  gating: { policy: GatingPolicy; capacityFactor?: number; blockSize?: number };
  buffering: { policy: BufferingPolicy | null; slots: number; pinned: boolean };
  placement: { policy: PlacementPolicy; replicateHot: number };
  rng: RandomStream;
  eventLog?: boolean;
  /**
   * The dense baseline: every MoE layer becomes a dense FFN of width top-k x the expert's (plus
   * shared experts), so FLOPs per token stay the same; no gating, no all-to-all, no experts.
   */
  denseEquivalent?: boolean;
  /** Two-stage all-to-all across nodes (see Cluster.allToAll). */
  hierarchicalAllToAll?: boolean;
  /** The network model: max-min fair flows (default) or analytic (see Cluster's networkModel). */
  networkModel?: NetworkModel;
  /**
   * Tensor-parallel degree of the dense parts (attention, dense FFN, head): groups of this many
   * consecutive GPUs share each request's dense work, each rank holding 1/T of those weights, with
   * an all-reduce after attention and after each dense FFN, and an all-gather after each MoE
   * layer's combine; experts stay expert-parallel over all GPUs, each rank dispatching 1/T of its
   * group's tokens. 1 (the default) is pure data parallelism.
   */
  tensorParallel?: number;
}

export interface StepRecord {
  step: number;
  start_ns: number;
  end_ns: number;
  tokens: number;
  latency_ns: number;
  phases_ns: Record<PhaseName, number>;
  /** Tokens computed by the experts of each GPU in this step (all MoE layers). */
  gpu_tokens: number[];
  max_gpu_share: number;
  cache_misses: number;
  cache_hits: number;
  dropped: number;
  padded: number;
}

export interface LayerCacheStats {
  gpu: number;
  layer: number;
  requests: number;
  hits: number;
  misses: number;
  bytes_moved: number;
}

export interface MoeSimResult {
  name: string;
  completedSteps: number;
  totalSteps: number | null;
  tokens: number;
  simulatedNs: number;
  oom: (OomInfo & { step: number }) | null;
  steps: StepRecord[];
  phaseTotalsNs: Record<PhaseName, number>;
  /** Mean number of experts with no tokens, per MoE layer, over steps. */
  inactiveExperts: { layer: number; mean_inactive: number; experts: number }[];
  cache: LayerCacheStats[] | null;
  memory: {
    gpu: number;
    capacity_bytes: number;
    peak_bytes: number;
    peak_by_category: Record<string, number>;
    timeline: { time_ns: number; category: MemoryCategory; bytes: number }[];
  }[];
  links: { link: string; kind: string; bytes: number }[];
  requestLatencyNs: number[];
  events: number;
  eventLog: string | null;
  gpuBusyNs: number[];
  placement: Placement[];
}

const CATEGORIES: MemoryCategory[] = ["weights", "expert_cache", "activations", "all_to_all", "kv_cache", "workspace"];

function zeroPhases(): Record<PhaseName, number> {
  return { attention: 0, dense: 0, gating: 0, all_to_all: 0, expert_compute: 0, weight_transfer: 0, idle: 0 };
}

class OomStop extends Error {
  constructor(readonly info: OomInfo) {
    super("out of memory");
  }
}

/**
 * Simulates MoE inference step by step. Per step, per layer: attention (and the dense FFN of
 * non-MoE layers) on each GPU for its share of the tokens, then on MoE layers gating, an optional
 * all-to-all of counts, the dispatch all-to-all, expert compute (only experts with tokens, each
 * waiting for its weights when buffering missed), and the combine all-to-all. Expert weights that
 * miss the cache are copied from CPU memory over PCIe, one copy stream per GPU, starting as soon
 * as gating has decided, so the copies overlap the dispatch all-to-all as in the paper.
 * Collectives synchronise the GPUs, so each layer ends when its slowest GPU does.
 */
export function simulateMoe(cfg: MoeSimConfig): MoeSimResult {
  const sim = new Simulation({ log: cfg.eventLog ? new EventLog() : false });
  const cluster = new Cluster(sim, cfg.clusterSpec, { cost: cfg.cost, networkModel: cfg.networkModel });
  const cost = cluster.cost;
  const D = cfg.gpus;
  const T = cfg.tensorParallel ?? 1;
  if (!(Number.isInteger(T) && T >= 1 && D % T === 0)) throw new Error(`tensor-parallel degree ${T} must divide the ${D} GPUs`);
  const DP = D / T;
  const tpGroups = Array.from({ length: DP }, (_, k) => Array.from({ length: T }, (_, r) => k * T + r));
  const group = Array.from({ length: D }, (_, i) => i);
  const m = cfg.model;
  const trace = cfg.trace;
  const E = m.experts;
  const K = trace.topK;
  const bytesPerElem = DTYPE_BYTES[m.dtype];
  const tokenBytes = m.dModel * bytesPerElem;
  const eBytes = expertBytesOf(m);
  const launchNs = cfg.clusterSpec.node.gpu.launchOverheadNs;
  const layers = simulatedLayers(m, cfg.phase);
  const nLayers = layers.length;
  const moeLayers: number[] = [];
  const denseEq = cfg.denseEquivalent === true;
  const denseEqSpec: ModelSpec = { ...m, denseDFf: m.topK * m.dFf + (m.sharedExperts ?? 0) * (m.sharedDFf ?? m.dFf) };
  if (!denseEq) for (let l = 0; l < nLayers; l++) if (layers[l].moe) moeLayers.push(l);
  const moeIndexOf = new Int32Array(nLayers).fill(-1);
  moeLayers.forEach((l, j) => (moeIndexOf[l] = j));

  // Placement per MoE layer, from the trace's historical load (and co-activation).
  const placements = buildPlacements(cfg, moeLayers.length, D);
  // Buffering: one cache per (GPU, MoE layer); Belady gets the future of its own request stream.
  const slots = cfg.buffering.policy ? cfg.buffering.slots : 0;
  let caches: ExpertCache[][] | null = null;
  if (cfg.buffering.policy) {
    const pol = cfg.buffering.policy;
    if (pol.needsFuture && cfg.steps === null) {
      throw new Error(`buffering policy ${pol.name} needs the future of the trace: use static batching`);
    }
    const futures = pol.needsFuture ? buildAccessSequences(cfg, placements, moeLayers.length, D) : null;
    caches = group.map((g) =>
      moeLayers.map((_, j) => pol.create(slots, { experts: E, future: futures ? futures[g][j] : undefined })),
    );
  }

  // Static memory: replicated dense weights, and each GPU's experts (or its cache slots).
  const denseParamBytes = replicatedWeightBytes(m) / T;
  const moeLayerCountAll = layers.filter((x) => x.moe).length;
  let oom: (OomInfo & { step: number }) | null = null;
  let currentStep = -1;
  const alloc = (g: number, cat: MemoryCategory, bytes: number): void => {
    if (bytes <= 0) return;
    const r = cluster.memory(g).allocate(cat, bytes);
    if (!r.ok) throw new OomStop(r.oom);
  };
  const free = (g: number, cat: MemoryCategory, bytes: number): void => {
    if (bytes > 0) cluster.memory(g).free(cat, bytes);
  };

  const expertsOnGpu = (j: number, g: number): number => {
    const p = placements[j];
    let n = 0;
    for (let e = 0; e < p.expertGpu.length; e++) if (p.expertGpu[e] === g) n++;
    return n;
  };

  const steps: StepRecord[] = [];
  const phaseTotals = zeroPhases();
  const inactiveSum = new Float64Array(moeLayers.length);
  const cacheStats: LayerCacheStats[] | null = caches
    ? group.flatMap((g) => moeLayers.map((_, j) => ({ gpu: g, layer: j, requests: 0, hits: 0, misses: 0, bytes_moved: 0 })))
    : null;
  const gpuBusy = new Float64Array(D);
  const requestStart = new Map<number, number>();
  const requestEnd = new Map<number, number>();
  let tokensDone = 0;
  let batcherStats: RequestStats | null = null;

  // Scratch reused across layers and steps, and memoised costs (a cost model is a pure function of the op).
  let picksBuf = new Int32Array(0);
  let activeBuf = new Int32Array(0);
  let stamp = new Int32Array(0);
  let stampNow = 0;
  const countsBySize = new Map<number, Float64Array>();
  const backBuf = new Float64Array(D * D);
  const byId = (a: number, b: number): number => a - b;
  let lastPlan: GatingPlan | undefined;
  let expertNsMemo = new Float64Array(0);
  const expertNs = (rows: number): number => {
    if (rows >= expertNsMemo.length) {
      const bigger = new Float64Array(Math.max(rows + 1, 2 * expertNsMemo.length, 64)).fill(-1);
      bigger.set(expertNsMemo);
      expertNsMemo = bigger;
    }
    let t = expertNsMemo[rows];
    if (t < 0) t = expertNsMemo[rows] = cost.timeNs({ kind: "expert_ffn", tokens: rows, dModel: m.dModel, dFf: m.dFf, activation: m.activation, dtype: m.dtype });
    return t;
  };

  const waitAll = (evs: SimEvent<unknown>[]): SimEvent<unknown[]> => sim.allOf(evs);
  /** All-reduce (or all-gather) of `bytesPerGroup[k]` within every tensor-parallel group at once. */
  const tpCollective = (bytesPerGroup: Float64Array, kind: "allReduce" | "allGather"): SimEvent<unknown[]> => {
    const evs: SimEvent<unknown>[] = [];
    for (let k = 0; k < DP; k++) {
      if (bytesPerGroup[k] <= 0) continue;
      const ev = sim.event<unknown>(`tp_${kind}`);
      if (kind === "allReduce") cluster.allReduce(tpGroups[k], bytesPerGroup[k], () => ev.succeed());
      else cluster.allGather(tpGroups[k], bytesPerGroup[k] / T, () => ev.succeed());
      evs.push(ev);
    }
    return sim.allOf(evs);
  };
  const a2a = (sizes: Float64Array): SimEvent<void> => {
    const ev = sim.event<void>("all_to_all");
    cluster.allToAll(group, sizes, () => ev.succeed(), { hierarchical: cfg.hierarchicalAllToAll === true });
    return ev;
  };

  /** One step; an allocation that does not fit ends the run with the OOM recorded at this step. */
  function* runStep(stepIdx: number, tokens: Int32Array): ProcessGenerator<void> {
    try {
      yield* stepBody(stepIdx, tokens);
    } catch (e) {
      if (!(e instanceof OomStop)) throw e;
      oom = { ...e.info, step: stepIdx };
    }
  }

  // Per-step scratch, reused from step to step (a step's state lives here while it runs; steps
  // run one at a time).
  let tokenGpuBuf = new Int32Array(0);
  let tokenGpu = tokenGpuBuf; // the step's view: one entry per token
  const perGpuTokens = new Int32Array(D);
  const dispatchTokens = new Int32Array(D);
  const groupTokens = new Float64Array(DP);
  const seqRank = new Map<number, number>();
  const seqTokens: number[] = [];
  const gpuSeqs: number[][] = Array.from({ length: D }, () => []);
  const gpuTokensStep = new Float64Array(D);
  const stepKv = new Float64Array(D);
  const stepAct = new Float64Array(D);
  const attnNs = [new Float64Array(D), new Float64Array(D)];
  const denseNs = [new Float64Array(D), new Float64Array(D), new Float64Array(D)];
  const gateNs = new Float64Array(D);
  // Per-GPU lists of the experts that compute, as one buffer with offsets (CSR).
  let ordBuf = new Int32Array(0);
  const ordStart = new Int32Array(D + 1);
  const ordFill = new Int32Array(D);
  const kvPerToken = kvCacheBytesPerToken(m);
  /** Keys each request attends to besides its new tokens: the context in decode, none otherwise. */
  const ctx = cfg.phase === "decode" ? cfg.contextTokens : 0;
  const capacityFactor = cfg.gating.capacityFactor ?? m.capacityFactor;
  const gatingPolicy = cfg.gating.policy;
  /** What the running step has counted so far. */
  const cur = { misses: 0, hits: 0, dropped: 0, padded: 0, attnMax: 0, denseMax: 0, gateMax: 0, critCompute: 0 };

  /**
   * Sets up a step: data parallel for the dense parts (whole requests go to GPUs, or tensor-parallel
   * groups of T GPUs, round-robin), each GPU's tokens and sequences, and the step's memory (KV
   * cache for its requests, activations of the widest layer). Returns the tensor-parallel
   * all-reduce sizes (null without tensor parallelism).
   */
  function beginStep(tokens: Int32Array): Float64Array | null {
    const n = tokens.length;
    cur.misses = cur.hits = cur.dropped = cur.padded = 0;
    if (tokenGpuBuf.length < n) tokenGpuBuf = new Int32Array(Math.max(n, 2 * tokenGpuBuf.length));
    tokenGpu = tokenGpuBuf.length === n ? tokenGpuBuf : tokenGpuBuf.subarray(0, n);
    perGpuTokens.fill(0);
    dispatchTokens.fill(0);
    groupTokens.fill(0);
    gpuTokensStep.fill(0);
    seqRank.clear();
    seqTokens.length = 0;
    for (let g = 0; g < D; g++) gpuSeqs[g].length = 0;
    // perGpuTokens: the tokens whose dense work a GPU shares (its group's); tokenGpu: the GPU that
    // dispatches each token to the experts (1/T of its group's tokens).
    for (let i = 0; i < n; i++) {
      const s = trace.seq[tokens[i]];
      let r = seqRank.get(s);
      if (r === undefined) {
        r = seqRank.size;
        seqRank.set(s, r);
        seqTokens.push(0);
      }
      seqTokens[r]++;
      const k = r % DP;
      tokenGpu[i] = k * T + (groupTokens[k]++ % T);
      for (let x = 0; x < T; x++) perGpuTokens[k * T + x]++;
    }
    for (let r = 0; r < seqTokens.length; r++) for (let x = 0; x < T; x++) gpuSeqs[(r % DP) * T + x].push(seqTokens[r]);
    for (let i = 0; i < n; i++) dispatchTokens[tokenGpu[i]]++;
    for (let g = 0; g < D; g++) {
      // KV cache: decode keeps context + 1 tokens per request; prefill/encode its new tokens.
      const cached = cfg.phase === "decode" ? gpuSeqs[g].length * (ctx + 1) : perGpuTokens[g];
      stepKv[g] = cfg.phase === "encode" ? 0 : (cached * kvPerToken * nLayers) / T;
      // Hidden states and logits of the GPU's tokens, and one layer's attention probabilities
      // (heads x new tokens x keys per sequence, materialised as in fairseq).
      let scores = 0;
      for (const t of gpuSeqs[g]) scores += m.heads * t * (ctx + t);
      stepAct[g] = (perGpuTokens[g] * (4 * m.dModel + m.vocab / T) + scores / T) * bytesPerElem;
      alloc(g, "kv_cache", stepKv[g]);
      alloc(g, "activations", stepAct[g]);
    }
    // Per-step costs that do not change from layer to layer (they depend on the GPU's tokens and
    // sequences only): attention with / without cross-attention, the dense FFN or shared experts,
    // the gate. Computed at the first layer that needs them.
    for (const a of attnNs) a.fill(-1);
    for (const a of denseNs) a.fill(-1);
    gateNs.fill(-1);
    if (picksBuf.length < n * K) picksBuf = new Int32Array(n * K);
    // The activation bytes each tensor-parallel group reduces after attention or a dense FFN.
    return T > 1 ? Float64Array.from(groupTokens, (t) => t * m.dModel * bytesPerElem) : null;
  }

  /** Attention (+ the dense FFN of non-MoE layers) per GPU, in parallel: sets cur.attnMax / cur.denseMax. */
  function denseParts(l: number, moe: boolean): void {
    let attnMax = 0;
    let denseMax = 0;
    const cross = layers[l].crossAttention;
    const aNs = attnNs[cross ? 1 : 0];
    // 0: dense FFN of the model, 1: the dense equivalent of a MoE layer, 2: shared experts
    const dk = !moe ? (layers[l].moe ? 1 : 0) : (m.sharedExperts ?? 0) > 0 ? 2 : -1;
    const dNs = dk >= 0 ? denseNs[dk] : null;
    for (let g = 0; g < D; g++) {
      if (perGpuTokens[g] === 0) continue;
      let ta = aNs[g];
      if (ta < 0) ta = aNs[g] = cost.timeNs(genericOp(m, shard(attentionOnGpu(m, gpuSeqs[g], ctx, cross, cfg.contextTokens), T)));
      let td = 0;
      if (dNs !== null) {
        td = dNs[g];
        if (td < 0) {
          const c = dk === 2 ? sharedExpertCost(m, perGpuTokens[g]) : denseFfnCost(dk === 1 ? denseEqSpec : m, perGpuTokens[g]);
          td = dNs[g] = cost.timeNs(genericOp(m, shard(c, T)));
        }
      }
      gpuBusy[g] += ta + td;
      if (ta > attnMax) attnMax = ta;
      if (td > denseMax) denseMax = td;
    }
    cur.attnMax = attnMax;
    cur.denseMax = denseMax;
  }

  /**
   * Gating of MoE layer j for the step's tokens: the plan, the gate's time per GPU (cur.gateMax),
   * the inactive-expert count, and the dispatch buffers allocated. Returns the plan with the
   * virtual experts' GPUs (replicas included) and owners.
   */
  function gateLayer(j: number, tokens: Int32Array): { plan: GatingPlan; expertGpu: Int32Array; owner: Int32Array | null } {
    const n = tokens.length;
    const place = placements[j];
    const tl = traceLayerOf(trace, j);
    // This layer's picks for the step's tokens (a scratch buffer: the plan does not keep it).
    const picks = picksBuf.length === n * K ? picksBuf : picksBuf.subarray(0, n * K);
    const tp = trace.picks;
    const stride = trace.layers * K;
    for (let i = 0; i < n; i++) {
      const off = tokens[i] * stride + tl * K;
      for (let k = 0; k < K; k++) picks[i * K + k] = tp[off + k];
    }
    const r = place.replicas ? replicate(picks, place, D, tokenGpu, K) : null;
    const routed = r ? r.picks : picks;
    const expertGpu = r ? r.expertGpu : place.expertGpu;
    const nVirtual = r ? r.experts : E;
    const owner = r ? r.owner : null;
    const plan: GatingPlan = gatingPolicy.plan(
      { tokens: n, topK: K, experts: nVirtual, gpus: D, picks: routed, tokenGpu, expertGpu, tokenBytes },
      { capacityFactor, blockSize: cfg.gating.blockSize, reuse: lastPlan },
    );
    // Gate (router matmul, softmax, top-k) per GPU; static-capacity gates (GShard einsum) also
    // build the S x E x capacity dispatch mask and run the dispatch and combine einsums over it.
    let gateMax = 0;
    for (let g = 0; g < D; g++) {
      if (dispatchTokens[g] === 0) continue;
      let tg = gateNs[g];
      if (tg < 0) tg = gateNs[g] = cost.timeNs({ kind: "gating", tokens: dispatchTokens[g], dModel: m.dModel, experts: E, topK: K, dtype: m.dtype });
      if (plan.einsumCellsPerGpu && plan.einsumCellsPerGpu[g] > 0) {
        const cells = plan.einsumCellsPerGpu[g];
        tg += cost.timeNs({ kind: "generic", flops: 2 * 2 * cells * m.dModel, bytes: 2 * cells * 4 + 2 * dispatchTokens[g] * tokenBytes, dtype: m.dtype });
      }
      gpuBusy[g] += tg;
      if (tg > gateMax) gateMax = tg;
    }
    cur.gateMax = gateMax;
    cur.dropped += plan.dropped;
    cur.padded += plan.padded;
    // The experts with rows (sparse gates list them; others are scanned once), then per GPU the
    // experts that compute: rows > 0 and, with buffering, real tokens (only those have weights).
    let active = plan.activeExperts;
    if (active === undefined) {
      let c = 0;
      if (activeBuf.length < nVirtual) activeBuf = new Int32Array(nVirtual);
      for (let e = 0; e < nVirtual; e++) if (plan.expertRows[e] > 0) activeBuf[c++] = e;
      active = activeBuf.subarray(0, c);
    }
    const nActive = active.length;
    // Inactive experts: real experts with no token on any of their copies. An expert with
    // tokens has rows (kept <= rows), so only the listed experts can have tokens.
    if (stamp.length < E) stamp = new Int32Array(E);
    const st0 = ++stampNow;
    let touched = 0;
    const et = plan.expertTokens;
    ordStart.fill(0);
    for (let i = 0; i < nActive; i++) {
      const e = active[i];
      if (et[e] === 0) {
        if (caches === null) ordStart[expertGpu[e] + 1]++;
        continue;
      }
      ordStart[expertGpu[e] + 1]++;
      const o = owner ? owner[e] : e;
      if (stamp[o] !== st0) {
        stamp[o] = st0;
        touched++;
      }
    }
    inactiveSum[j] += E - touched;
    for (let g = 0; g < D; g++) ordStart[g + 1] += ordStart[g];
    if (ordBuf.length < ordStart[D]) ordBuf = new Int32Array(Math.max(ordStart[D], 2 * ordBuf.length));
    for (let g = 0; g < D; g++) ordFill[g] = ordStart[g];
    for (let i = 0; i < nActive; i++) {
      const e = active[i];
      if (caches === null || et[e] > 0) ordBuf[ordFill[expertGpu[e]]++] = e;
    }
    // With buffering the caches see each GPU's experts in id order; without, only the first launch
    // (the lowest id) is special, so the lists stay unsorted.
    if (caches !== null) for (let g = 0; g < D; g++) sortIds(ordBuf, ordStart[g], ordStart[g + 1]);
    for (let g = 0; g < D; g++) alloc(g, "all_to_all", plan.bufferBytesPerGpu[g]);
    return { plan, expertGpu, owner };
  }

  /**
   * Expert buffering for MoE layer j: each GPU's cache sees its experts with tokens; misses are
   * copied from host memory one after another (one copy stream per GPU), starting now. Returns the
   * time each missed (virtual) expert's weights arrive (filled in as copies finish) and the events
   * of the GPUs' copy streams.
   */
  function startCopies(j: number, stepIdx: number, owner: Int32Array | null): { ready: Map<number, number>; copyDone: SimEvent<unknown>[] } {
    const ready = new Map<number, number>();
    const copyDone: SimEvent<unknown>[] = [];
    for (let g = 0; g < D; g++) {
      const act = Array.from(ordBuf.subarray(ordStart[g], ordStart[g + 1])); // exactly the GPU's experts with tokens, ascending
      const cache = caches![g][j];
      const realIds = owner ? act.map((e) => (e < E ? e : owner[e])) : act.slice();
      const r = cache.accessBatch(stepIdx, realIds);
      const st = cacheStats![g * moeLayers.length + j];
      st.requests += act.length;
      st.misses += r.misses.length;
      st.hits += act.length - r.misses.length;
      st.bytes_moved += r.misses.length * eBytes;
      cur.misses += r.misses.length;
      cur.hits += act.length - r.misses.length;
      if (r.misses.length === 0) continue;
      const missSet = new Set(r.misses);
      const queue = act.filter((_, i) => missSet.has(realIds[i]));
      const done = sim.event("weights");
      copyDone.push(done);
      const next = (i: number): void => {
        if (i >= queue.length) {
          done.succeed();
          return;
        }
        cluster.hostToDevice(g, eBytes, () => {
          ready.set(queue[i], sim.now);
          next(i + 1);
        }, { pinned: cfg.buffering.pinned });
      };
      next(0);
    }
    return { ready, copyDone };
  }

  /**
   * Expert compute per GPU from `tArrived`: resident experts first, then missed ones as their
   * weights arrive. Counts each GPU's busy time and tokens; returns when the slowest GPU is done
   * and sets cur.critCompute to that GPU's compute time.
   */
  function expertCompute(plan: GatingPlan, ready: Map<number, number> | null, tArrived: number): number {
    let endMax = tArrived;
    let critCompute = 0;
    const rows = plan.expertRows;
    const et = plan.expertTokens;
    const perExpert = plan.perExpertLoop;
    for (let g = 0; g < D; g++) {
      const a = ordStart[g];
      const b = ordStart[g + 1];
      if (a === b) continue;
      if (ready !== null && ready.size > 0) sortByReady(ordBuf, a, b, ready);
      // The first expert launched: the head of the (sorted) list with buffering, else the lowest id.
      let first = ordBuf[a];
      if (ready === null) for (let i = a + 1; i < b; i++) if (ordBuf[i] < first) first = ordBuf[i];
      let t = tArrived;
      let busy = 0;
      let toks = 0;
      for (let i = a; i < b; i++) {
        const e = ordBuf[i];
        if (ready !== null) {
          const rdy = ready.get(e);
          if (rdy !== undefined && rdy > t) t = rdy;
        }
        let c = expertNs(rows[e]);
        // Gates other than per-expert loops (FastMoE) run a GPU's experts as one grouped kernel:
        // one launch, whatever the number of experts. (Integer ns: the sum is order-free.)
        if (!perExpert && e !== first) c = Math.max(0, c - launchNs);
        t += c;
        busy += c;
        toks += et[e];
      }
      gpuTokensStep[g] += toks;
      gpuBusy[g] += busy;
      if (t > endMax) {
        endMax = t;
        critCompute = busy;
      }
    }
    cur.critCompute = critCompute;
    return endMax;
  }

  /** The output head, once per step, and the step's record. */
  function endStep(stepIdx: number, tokens: Int32Array, start: number, phases: Record<PhaseName, number>): void {
    const n = tokens.length;
    for (let g = 0; g < D; g++) {
      free(g, "kv_cache", stepKv[g]);
      free(g, "activations", stepAct[g]);
    }
    let tot = 0;
    let mx = 0;
    for (let g = 0; g < D; g++) {
      tot += gpuTokensStep[g];
      if (gpuTokensStep[g] > mx) mx = gpuTokensStep[g];
    }
    steps.push({
      step: stepIdx,
      start_ns: start,
      end_ns: sim.now,
      tokens: n,
      latency_ns: sim.now - start,
      phases_ns: phases,
      gpu_tokens: Array.from(gpuTokensStep),
      max_gpu_share: tot > 0 ? mx / tot : 0,
      cache_misses: cur.misses,
      cache_hits: cur.hits,
      dropped: cur.dropped,
      padded: cur.padded,
    });
    for (const p of PHASES) phaseTotals[p] += phases[p];
    tokensDone += n;
    for (let i = 0; i < n; i++) {
      const s = trace.seq[tokens[i]];
      if (!requestStart.has(s)) requestStart.set(s, start);
      requestEnd.set(s, sim.now);
    }
  }

  function headNs(): number {
    let headMax = 0;
    for (let g = 0; g < D; g++) {
      const th = perGpuTokens[g] > 0 ? cost.timeNs(genericOp(m, shard(embeddingCost(m, perGpuTokens[g]), T))) : 0;
      gpuBusy[g] += th;
      if (th > headMax) headMax = th;
    }
    return headMax;
  }

  /** Combine: the transpose of the dispatch, in a buffer reused from layer to layer (a collective has read it when it completes). */
  function transposeInto(back: Float64Array, send: Float64Array): Float64Array {
    for (let s = 0; s < D; s++) for (let d = 0; d < D; d++) back[d * D + s] = send[s * D + d];
    return back;
  }

  function* stepBody(stepIdx: number, tokens: Int32Array): ProcessGenerator<void> {
    const start = sim.now;
    const phases = zeroPhases();
    const tpBytes = beginStep(tokens);
    for (let l = 0; l < nLayers; l++) {
      const moe = layers[l].moe && !denseEq;
      denseParts(l, moe);
      let attnMax = cur.attnMax;
      if (tpBytes !== null) {
        // Tensor parallel: each block ends with an all-reduce within the group; its time counts
        // to the block (attention, or the dense FFN).
        yield attnMax;
        let t0 = sim.now;
        yield tpCollective(tpBytes, "allReduce");
        phases.attention += attnMax + (sim.now - t0);
        attnMax = 0;
        if (!moe) {
          yield cur.denseMax;
          t0 = sim.now;
          yield tpCollective(tpBytes, "allReduce");
          phases.dense += cur.denseMax + (sim.now - t0);
          continue;
        }
      }
      if (!moe) {
        phases.attention += attnMax;
        phases.dense += cur.denseMax;
        yield attnMax + cur.denseMax;
        continue;
      }
      const j = moeIndexOf[l];
      const { plan, owner } = gateLayer(j, tokens);
      phases.attention += attnMax;
      phases.gating += cur.gateMax;
      yield attnMax + cur.gateMax;
      // Gating has decided: start weight copies for cache misses (one copy stream per GPU).
      const copies = caches !== null ? startCopies(j, stepIdx, owner) : null;
      const tDispatch = sim.now;
      if (plan.capacityAllReduce) {
        const ev = sim.event<void>("capacity_all_reduce");
        cluster.allReduce(group, 4, () => ev.succeed());
        yield ev;
      }
      if (plan.countsExchange) yield a2a(countsMatrix(plan.expertRows.length));
      yield a2a(plan.sendBytes);
      const tArrived = sim.now;
      phases.all_to_all += tArrived - tDispatch;
      if (copies !== null && copies.copyDone.length > 0) yield waitAll(copies.copyDone);
      const endMax = expertCompute(plan, copies?.ready ?? null, tArrived);
      // On the critical GPU: its compute, and the rest of the span is waiting for weights.
      const expertSpan = endMax - tArrived;
      phases.expert_compute += Math.min(expertSpan, cur.critCompute);
      phases.weight_transfer += Math.max(0, expertSpan - cur.critCompute);
      if (endMax > sim.now) yield endMax - sim.now;
      const tCombine = sim.now;
      yield a2a(transposeInto(backBuf, plan.sendBytes));
      // Tensor parallel: every rank of a group gets all of the group's tokens back.
      if (tpBytes !== null) yield tpCollective(tpBytes, "allGather");
      phases.all_to_all += sim.now - tCombine;
      for (let g = 0; g < D; g++) free(g, "all_to_all", plan.bufferBytesPerGpu[g]);
      lastPlan = plan; // done with it: the next layer's plan may reuse its arrays
    }
    const headMax = headNs();
    phases.dense += headMax;
    yield headMax;
    endStep(stepIdx, tokens, start, phases);
  }

  /** The all-to-all of per-expert counts (4 bytes per expert to every other GPU); never written again once made. */
  function countsMatrix(nVirtual: number): Float64Array {
    let counts = countsBySize.get(nVirtual);
    if (counts === undefined) {
      counts = new Float64Array(D * D);
      for (let s = 0; s < D; s++) for (let d = 0; d < D; d++) if (s !== d) counts[s * D + d] = 4 * nVirtual;
      countsBySize.set(nVirtual, counts);
    }
    return counts;
  }

  function* driver(): ProcessGenerator<void> {
    try {
      for (let g = 0; g < D; g++) {
        currentStep = -1;
        let weights = denseParamBytes;
        if (denseEq) weights += moeLayerCountAll * (denseFfnCost(denseEqSpec, 0).weightBytes - (m.sharedExperts ? sharedExpertCost(m, 0).weightBytes : 0));
        if (!caches) {
          let nE = 0;
          for (let j = 0; j < moeLayers.length; j++) nE += expertsOnGpu(j, g);
          weights += nE * eBytes;
          alloc(g, "weights", weights);
        } else {
          alloc(g, "weights", weights);
          alloc(g, "expert_cache", slots * moeLayers.length * eBytes);
        }
      }
      const maxSteps = cfg.maxSteps ?? Infinity;
      if (cfg.steps) {
        for (let s = 0; s < cfg.steps.length && s < maxSteps; s++) {
          currentStep = s;
          yield sim.process(runStep(s, cfg.steps[s]), "step");
          if (oom) return;
        }
      } else if (cfg.continuous) {
        const b = cfg.continuous.batcher();
        for (let s = 0; s < maxSteps; s++) {
          let toks = b.nextStep(sim.now);
          if (toks === null) break;
          while (toks.length === 0) {
            const next = b.nextArrivalNs();
            if (next === null) break;
            const wait = Math.max(0, next - sim.now);
            phaseTotals.idle += wait;
            yield wait;
            const t2 = b.nextStep(sim.now);
            if (t2 === null) break;
            toks = t2;
          }
          if (toks.length === 0) break;
          currentStep = s;
          yield sim.process(runStep(s, toks), "step");
          if (oom) return;
        }
        b.finish(sim.now);
        batcherStats = b.requestStats();
      }
    } catch (e) {
      if (e instanceof OomStop) {
        oom = { ...e.info, step: currentStep };
        return;
      }
      throw e;
    }
  }

  sim.process(driver(), "driver");
  sim.run();

  const memory = group.map((g) => {
    const pool = cluster.memory(g);
    const peak: Record<string, number> = {};
    for (const c of CATEGORIES) peak[c] = pool.peak(c);
    const m = {
      gpu: g,
      capacity_bytes: cfg.clusterSpec.node.gpu.hbmBytes,
      peak_bytes: pool.peak(),
      peak_by_category: peak,
      timeline: [] as MoeSimResult["memory"][number]["timeline"],
    };
    // Built on first use (most runs write no timeline): an enumerable getter, so it still
    // serialises like a plain field.
    let timeline: MoeSimResult["memory"][number]["timeline"] | null = null;
    Object.defineProperty(m, "timeline", {
      enumerable: true,
      get: () => (timeline ??= pool.timeline().map((r) => ({ time_ns: r.timeNs, category: r.category, bytes: r.bytes }))),
    });
    return m;
  });
  // Request latency: arrival to last token under continuous batching; else first step to last.
  const reqLat: number[] = [];
  if (batcherStats) {
    const st: RequestStats = batcherStats;
    for (let i = 0; i < st.endNs.length; i++) if (Number.isFinite(st.endNs[i])) reqLat.push(st.endNs[i] - st.arrivalNs[i]);
  } else {
    for (const [s, t0] of requestStart) reqLat.push(requestEnd.get(s)! - t0);
  }
  return {
    name: cfg.name,
    completedSteps: steps.length,
    totalSteps: cfg.steps ? Math.min(cfg.steps.length, cfg.maxSteps ?? Infinity) : null,
    tokens: tokensDone,
    simulatedNs: sim.now,
    oom,
    steps,
    phaseTotalsNs: phaseTotals,
    inactiveExperts: moeLayers.map((_, j) => ({ layer: j, mean_inactive: steps.length ? inactiveSum[j] / steps.length : 0, experts: E })),
    cache: cacheStats,
    memory,
    links: cluster.linkTraffic().map((l) => ({ link: l.link, kind: l.kind, bytes: l.bytes })),
    requestLatencyNs: reqLat,
    events: sim.eventCount,
    eventLog: sim.log ? sim.log.toJSONL() : null,
    gpuBusyNs: Array.from(gpuBusy),
    placement: placements,
  };
}

/**
 * Hot-expert replication: a pick of a replicated expert goes to the copy on the token's own GPU
 * when there is one, else alternates between the copies. Replicas become extra virtual experts.
 */
function replicate(
  picks: Int32Array,
  place: Placement,
  D: number,
  tokenGpu: Int32Array,
  K: number,
): { picks: Int32Array; expertGpu: Int32Array; experts: number; owner: Int32Array } {
  const E = place.expertGpu.length;
  const extra: number[] = [];
  const owner: number[] = [];
  const copies: number[][] = [];
  for (let e = 0; e < E; e++) {
    const ids = [e];
    for (const g of place.replicas?.[e] ?? []) {
      ids.push(E + extra.length);
      extra.push(g);
      owner.push(e);
    }
    copies.push(ids);
  }
  const expertGpu = new Int32Array(E + extra.length);
  expertGpu.set(place.expertGpu);
  for (let i = 0; i < extra.length; i++) expertGpu[E + i] = extra[i];
  const out = new Int32Array(picks.length);
  const rr = new Int32Array(E);
  for (let i = 0; i < picks.length; i++) {
    const e = picks[i];
    const ids = copies[e];
    if (ids.length === 1) {
      out[i] = e;
      continue;
    }
    const g = tokenGpu[Math.floor(i / K)];
    let pick = -1;
    for (const v of ids) if (expertGpu[v] === g) pick = v;
    if (pick < 0) pick = ids[rr[e]++ % ids.length];
    out[i] = pick;
  }
  const ownerArr = new Int32Array(E + owner.length);
  for (let e = 0; e < E; e++) ownerArr[e] = e;
  for (let i = 0; i < owner.length; i++) ownerArr[E + i] = owner[i];
  void D;
  return { picks: out, expertGpu, experts: E + extra.length, owner: ownerArr };
}

/** Sorts a[lo..hi) ascending (short runs: insertion sort). */
function sortIds(a: Int32Array, lo: number, hi: number): void {
  for (let i = lo + 1; i < hi; i++) {
    const v = a[i];
    let j = i - 1;
    while (j >= lo && a[j] > v) {
      a[j + 1] = a[j];
      j--;
    }
    a[j + 1] = v;
  }
}

/** Sorts a[lo..hi) by the time the expert's weights are ready (0 if resident), then by id. */
function sortByReady(a: Int32Array, lo: number, hi: number, ready: Map<number, number>): void {
  for (let i = lo + 1; i < hi; i++) {
    const v = a[i];
    const rv = ready.get(v) ?? 0;
    let j = i - 1;
    while (j >= lo) {
      const ru = ready.get(a[j]) ?? 0;
      if (ru < rv || (ru === rv && a[j] < v)) break;
      a[j + 1] = a[j];
      j--;
    }
    a[j + 1] = v;
  }
}

/** A rank's share of a tensor-parallel op: 1/T of its FLOPs, weights and activations. */
function shard(c: Cost, T: number): Cost {
  return T === 1 ? c : { flops: c.flops / T, weightBytes: c.weightBytes / T, activationBytes: c.activationBytes / T };
}
