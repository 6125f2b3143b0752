/**
 * A run's state, in four parts: what stays fixed for the run (RunConstants), the scratch of the
 * running step (StepScratch) and of the running MoE layer (LayerScratch), and what the run has
 * counted so far (RunTallies). The step's phases are module-level functions of these objects, not
 * closures made per run, and each is a class whose constructor sets every field with one named
 * store: see docs/performance.md ("MoE step") for why both matter to V8.
 */
import { Simulation } from "../sim/engine.js";
import { Resource } from "../sim/resource.js";
import { EventLog } from "../sim/log.js";
import { Cluster } from "../hardware/cluster.js";
import type { CostModel } from "../hardware/cost.js";
import type { OomInfo } from "../hardware/memory.js";
import { DTYPE_BYTES } from "../hardware/devices.js";
import { exchangeRowBytes } from "../hardware/collectives/index.js";
import type { ProductSizes } from "../hardware/network/index.js";
import type { ModelSpec } from "../workload/model.js";
import type { RoutingTrace } from "../workload/trace.js";
import type { RequestStats } from "../workload/batching.js";
import type { GatingPlan, GatingPolicy } from "../policies/gating/index.js";
import type { ExpertCache } from "../policies/buffering/index.js";
import type { Placement } from "../policies/placement/index.js";
import { expertBytes, kvCacheBytesPerToken, replicatedWeightBytes, runsOutputHead, simulatedLayers } from "./costs.js";
import { buildAccessSequences, buildPlacements } from "./prepare.js";
import type { LayerCacheStats, MoeSimConfig, PhaseName, StepRecord } from "./types.js";
import { Window } from "./window.js";
import { gateHostOps, HostClock, type GateHostOps } from "./host.js";

type SimLayer = ReturnType<typeof simulatedLayers>[number];

/** The configuration, the engine and cluster, and what follows from them for the whole run. */
export class RunConstants {
  declare cfg: MoeSimConfig;
  declare sim: Simulation;
  declare cluster: Cluster;
  declare cost: CostModel;
  /** GPUs; data-parallel groups (D / T); tensor-parallel degree; experts; top-k. */
  declare D: number;
  declare DP: number;
  declare T: number;
  declare E: number;
  declare K: number;
  /** The GPUs of each tensor-parallel group, and all GPUs (the expert-parallel group). */
  declare tpGroups: number[][];
  declare group: number[];
  declare m: ModelSpec;
  declare trace: RoutingTrace;
  declare bytesPerElem: number;
  /** Bytes of one token row of the dispatch, and of the combine (cluster.dispatch_precision). */
  declare tokenBytes: number;
  declare combineTokenBytes: number;
  /** Bytes of one expert's weights. */
  declare eBytes: number;
  declare launchNs: number;
  declare layers: SimLayer[];
  declare nLayers: number;
  /** The simulated layers that are MoE layers (none for the dense baseline), and each layer's index among them (-1). */
  declare moeLayers: number[];
  declare moeIndexOf: Int32Array;
  declare denseEq: boolean;
  declare denseEqSpec: ModelSpec;
  /** Placement per MoE layer, from the trace's historical load (and co-activation). */
  declare placements: Placement[];
  declare slots: number;
  /** One cache per (GPU, MoE layer) with buffering, else null. */
  declare caches: ExpertCache[][] | null;
  declare denseParamBytes: number;
  declare moeLayerCountAll: number;
  declare flatExperts: boolean;
  declare kvPerToken: number;
  /** Keys each request attends to besides its new tokens: the context in decode, none otherwise. */
  declare ctx: number;
  /** The node's attention kernel is standard (scores materialised in HBM) rather than fused. */
  declare standardAttention: boolean;
  /** Whether each step ends in the output head (not an encoder-decoder model's encoder: costs.ts runsOutputHead). */
  declare outputHead: boolean;
  declare capacityFactor: number | undefined;
  declare gatingPolicy: GatingPolicy;
  /** Framework host overhead (host.ts): ns per op issued (0: none), the gate's host ops, local experts per GPU. */
  declare hostOpNs: number;
  declare gateHost: GateHostOps;
  declare localExperts: number;
  /** Each trace token's sequence as a dense key in [0, seqKeys): the trace's own ids where they are small. */
  declare seqKey: Int32Array;
  declare seqKeys: number;
  constructor(cfg: MoeSimConfig) {
    const sim = new Simulation({ log: cfg.eventLog ? new EventLog() : false });
    const recordTimeline = cfg.memoryTimeline !== false;
    const clusterOpts = { cost: cfg.cost, networkModel: cfg.networkModel, recordTimeline };
    const cluster = new Cluster(sim, cfg.clusterSpec, clusterOpts);
    const D = cfg.gpus;
    const T = cfg.tensorParallel ?? 1;
    if (!(Number.isInteger(T) && T >= 1 && D % T === 0)) {
      throw new Error(`tensor-parallel degree ${T} must divide the ${D} GPUs`);
    }
    const DP = D / T;
    const group = Array.from({ length: D }, (_, i) => i);
    const m = cfg.model;
    const layers = simulatedLayers(m, cfg.phase);
    const nLayers = layers.length;
    const moeLayers: number[] = [];
    const denseEq = cfg.denseEquivalent === true;
    if (!denseEq) for (let l = 0; l < nLayers; l++) if (layers[l].moe) moeLayers.push(l);
    const moeIndexOf = new Int32Array(nLayers).fill(-1);
    moeLayers.forEach((l, j) => (moeIndexOf[l] = j));
    const placements = buildPlacements(cfg, moeLayers.length, D);
    const caches = makeCaches(cfg, placements, group, moeLayers.length);
    const launchNs = cfg.clusterSpec.node.gpu.launchOverheadNs;
    this.cfg = cfg;
    this.sim = sim;
    this.cluster = cluster;
    this.cost = cluster.cost;
    this.D = D;
    this.DP = DP;
    this.T = T;
    this.E = m.experts;
    this.K = cfg.trace.topK;
    this.tpGroups = Array.from({ length: DP }, (_, k) => Array.from({ length: T }, (_, r) => k * T + r));
    this.group = group;
    this.m = m;
    this.trace = cfg.trace;
    this.bytesPerElem = DTYPE_BYTES[m.dtype];
    const rows = exchangeRowBytes(m.dModel, cfg.dispatchPrecision, DTYPE_BYTES[m.dtype]);
    this.tokenBytes = rows.dispatch;
    this.combineTokenBytes = rows.combine;
    this.eBytes = expertBytes(m);
    this.launchNs = launchNs;
    this.layers = layers;
    this.nLayers = nLayers;
    this.moeLayers = moeLayers;
    this.moeIndexOf = moeIndexOf;
    this.denseEq = denseEq;
    this.denseEqSpec = { ...m, denseDFf: m.topK * m.dFf + (m.sharedExperts ?? 0) * (m.sharedDFf ?? m.dFf) };
    this.placements = placements;
    this.slots = cfg.buffering.policy ? cfg.buffering.slots : 0;
    this.caches = caches;
    // Static memory: replicated dense weights (1/T of them per rank).
    this.denseParamBytes = replicatedWeightBytes(m) / T;
    this.moeLayerCountAll = layers.filter((x) => x.moe).length;
    // Without buffering no expert waits for weights, and expert times are whole ns (the cost
    // model's contract): with a whole launch overhead too, a GPU's compute time is a sum of whole
    // numbers that can be added in any order, so experts are computed in one pass over the active
    // list (expertComputeFlat) instead of per-GPU lists (unless the config asks for the lists).
    this.flatExperts = caches === null && Number.isInteger(launchNs) && cfg.expertLists !== true;
    this.kvPerToken = kvCacheBytesPerToken(m);
    this.ctx = cfg.phase === "decode" ? cfg.contextTokens : 0;
    this.outputHead = runsOutputHead(m, cfg.phase);
    this.standardAttention = cfg.clusterSpec.node.attentionKernel === "standard";
    this.capacityFactor = cfg.gating.capacityFactor ?? m.capacityFactor;
    this.gatingPolicy = cfg.gating.policy;
    this.hostOpNs = cfg.clusterSpec.node.hostOpNs ?? 0;
    this.gateHost = gateHostOps(cfg.gating.policy.name);
    // fairseq's MOELayer loops over the GPU's share of the experts (num_local_experts = E / world size)
    this.localExperts = Math.max(1, Math.ceil(m.experts / D));
    const keys = sequenceKeys(cfg.trace.seq);
    this.seqKey = keys.key;
    this.seqKeys = keys.count;
  }
}

/**
 * Dense keys of the trace's sequence ids, for per-sequence typed arrays instead of maps: the ids themselves where
 * they lie in [0, 2 x tokens + 1024) (synthetic traces and readers number sequences from 0), else ids renumbered in
 * order of first appearance.
 */
function sequenceKeys(seq: Int32Array): { key: Int32Array; count: number } {
  let lo = 0;
  let hi = -1;
  for (let i = 0; i < seq.length; i++) {
    if (seq[i] < lo) lo = seq[i];
    if (seq[i] > hi) hi = seq[i];
  }
  if (lo >= 0 && hi < 2 * seq.length + 1024) return { key: seq, count: hi + 1 };
  const ids = new Map<number, number>();
  const key = new Int32Array(seq.length);
  for (let i = 0; i < seq.length; i++) {
    let k = ids.get(seq[i]);
    if (k === undefined) ids.set(seq[i], (k = ids.size));
    key[i] = k;
  }
  return { key, count: ids.size };
}

/** Buffering: one cache per (GPU, MoE layer); Belady gets the future of its own request stream. */
function makeCaches(
  cfg: MoeSimConfig,
  placements: Placement[],
  group: number[],
  moeLayerCount: number,
): ExpertCache[][] | null {
  const pol = cfg.buffering.policy;
  if (!pol) return null;
  if (pol.needsFuture && cfg.steps === null) {
    throw new Error(`buffering policy ${pol.name} needs the future of the trace: use static batching`);
  }
  const futures = pol.needsFuture ? buildAccessSequences(cfg, placements, moeLayerCount, group.length) : null;
  const experts = cfg.model.experts;
  const slots = cfg.buffering.slots;
  return group.map((g) =>
    Array.from({ length: moeLayerCount }, (_, j) =>
      pol.create(slots, { experts, future: futures ? futures[g][j] : undefined }),
    ),
  );
}

/** The most tokens of any static step (0 under continuous batching: the step's buffers grow then). */
function maxStepTokens(c: RunConstants): number {
  let maxTokens = 0;
  for (const st of c.cfg.steps ?? []) if (st.length > maxTokens) maxTokens = st.length;
  return maxTokens;
}

/** The most experts of any MoE layer, hot-expert copies included. */
function maxVirtualExperts(c: RunConstants): number {
  let maxVirtual = c.E;
  for (const p of c.placements) {
    let extra = 0;
    for (const r of p.replicas ?? []) extra += r?.length ?? 0;
    if (c.E + extra > maxVirtual) maxVirtual = c.E + extra;
  }
  return maxVirtual;
}

/**
 * What the running step has counted so far. The fields start as NaN, a double: they hold doubles
 * (docs/performance.md). Every step sets them before reading them (beginStep, denseParts,
 * gateLayer, expertCompute).
 */
export class StepTally {
  declare misses: number;
  declare hits: number;
  declare dropped: number;
  declare padded: number;
  declare attnMax: number;
  declare denseMax: number;
  declare gateMax: number;
  declare critCompute: number;
  constructor() {
    this.misses = NaN;
    this.hits = NaN;
    this.dropped = NaN;
    this.padded = NaN;
    this.attnMax = NaN;
    this.denseMax = NaN;
    this.gateMax = NaN;
    this.critCompute = NaN;
  }
}

/**
 * The running step's scratch, reused from step to step (steps run one at a time): which GPU holds
 * each token and sequence, the step's memory, and its per-GPU costs that do not change from layer
 * to layer. Sized for the run's largest step (docs/performance.md).
 */
export class StepScratch {
  /** Backing store of tokenGpu, and the step's view of it (one entry per token): the GPU that dispatches each token. */
  declare tokenGpuBuf: Int32Array;
  declare tokenGpu: Int32Array;
  /** The tokens whose dense work each GPU shares (its tensor-parallel group's). */
  declare perGpuTokens: Int32Array;
  /** The tokens each GPU dispatches to the experts. */
  declare dispatchTokens: Int32Array;
  declare groupTokens: Int32Array;
  /**
   * Sequence key (RunConstants.seqKey) -> rank in the step, valid where seqStamp[key] === stampNow; new tokens per
   * rank; each GPU's sequences' new tokens (views of gpuSeqBuf, one segment per data-parallel group, in rank order).
   */
  declare seqStamp: Int32Array;
  declare seqRank: Int32Array;
  declare stampNow: number;
  declare seqTokens: Int32Array;
  declare gpuSeqBuf: Int32Array;
  declare gpuSeqs: Int32Array[];
  /** Tokens computed by each GPU's experts in this step. */
  declare gpuTokensStep: Float64Array;
  /** The step's KV cache and activation bytes per GPU. */
  declare stepKv: Float64Array;
  declare stepAct: Float64Array;
  /** Per-GPU costs memoised for the step (-1: not yet): attention without / with cross-attention. */
  declare attnNs: Float64Array[];
  /** The model's dense FFN, the dense equivalent of a MoE layer, the shared experts. */
  declare denseNs: Float64Array[];
  declare gateNs: Float64Array;
  /** The current layer's attention and dense FFN (or shared experts) time per GPU (denseParts). */
  declare attnGpu: Float64Array;
  declare denseGpu: Float64Array;
  /** When each GPU's compute stream is free for a MoE layer's experts (after its shared experts). */
  declare busyUntil: Float64Array;
  /** A layer's picks for the step's tokens. */
  declare picksBuf: Int32Array;
  declare cur: StepTally;
  /** The host thread's issue time since the last host-device sync (framework overhead, host.ts). */
  declare host: HostClock;
  constructor(c: RunConstants) {
    const D = c.D;
    const maxTokens = maxStepTokens(c);
    const tokenGpuBuf = new Int32Array(maxTokens);
    this.tokenGpuBuf = tokenGpuBuf;
    this.tokenGpu = tokenGpuBuf;
    this.perGpuTokens = new Int32Array(D);
    this.dispatchTokens = new Int32Array(D);
    this.groupTokens = new Int32Array(c.DP);
    this.seqStamp = new Int32Array(c.seqKeys);
    this.seqRank = new Int32Array(c.seqKeys);
    this.stampNow = 0;
    this.seqTokens = new Int32Array(maxTokens);
    this.gpuSeqBuf = new Int32Array(maxTokens);
    this.gpuSeqs = Array.from({ length: D }, () => new Int32Array(0));
    this.gpuTokensStep = new Float64Array(D);
    this.stepKv = new Float64Array(D);
    this.stepAct = new Float64Array(D);
    this.attnNs = [new Float64Array(D), new Float64Array(D)];
    this.denseNs = [new Float64Array(D), new Float64Array(D), new Float64Array(D)];
    this.gateNs = new Float64Array(D);
    this.attnGpu = new Float64Array(D);
    this.denseGpu = new Float64Array(D);
    this.busyUntil = new Float64Array(D);
    this.picksBuf = new Int32Array(maxTokens * c.K);
    this.cur = new StepTally();
    this.host = new HostClock(c.hostOpNs);
  }
}

/**
 * The running MoE layer's scratch, reused from layer to layer: the active experts and per-GPU
 * lists of them, the expert-compute sums, the combine's size matrix, memoised costs and the last
 * plan (whose arrays the next plan reuses). Sized for the run's largest layer.
 */
export class LayerScratch {
  declare activeBuf: Int32Array;
  /** Marks of the real experts touched in the layer (stamp[e] === stampNow). */
  declare stamp: Int32Array;
  declare stampNow: number;
  /** The counts all-to-all's sizes per number of (virtual) experts; never written once made. */
  declare countsBySize: Map<number, ProductSizes>;
  /** The combine's size matrix (the dispatch's transpose). */
  declare backBuf: Float64Array;
  declare lastPlan: GatingPlan | undefined;
  /** An expert's compute time by rows (-1: not yet). */
  declare expertNsMemo: Float64Array;
  /** Per-GPU lists of the experts that compute, as one buffer with offsets (CSR), and a fill cursor per GPU. */
  declare ordBuf: Int32Array;
  declare ordStart: Int32Array;
  declare ordFill: Int32Array;
  /** expertComputeFlat's per-GPU sums: compute time, first expert launched and its time, tokens. */
  declare gpuSum: Float64Array;
  declare gpuFirst: Int32Array;
  declare gpuFirstNs: Float64Array;
  declare gpuToks: Float64Array;
  /** The layer's active experts and the GPU of each (virtual) expert. */
  declare layerActive: Int32Array;
  declare layerExpertGpu: Int32Array;
  constructor(c: RunConstants) {
    const D = c.D;
    const maxTokens = maxStepTokens(c);
    const maxVirtual = maxVirtualExperts(c);
    this.activeBuf = new Int32Array(maxVirtual);
    this.stamp = new Int32Array(c.E);
    this.stampNow = 0;
    this.countsBySize = new Map<number, ProductSizes>();
    this.backBuf = new Float64Array(D * D);
    this.lastPlan = undefined;
    this.expertNsMemo = new Float64Array(Math.max(64, maxTokens * c.K + 1)).fill(-1);
    this.ordBuf = new Int32Array(maxVirtual);
    this.ordStart = new Int32Array(D + 1);
    this.ordFill = new Int32Array(D);
    this.gpuSum = new Float64Array(D);
    this.gpuFirst = new Int32Array(D);
    this.gpuFirstNs = new Float64Array(D);
    this.gpuToks = new Float64Array(D);
    this.layerActive = new Int32Array(0);
    this.layerExpertGpu = new Int32Array(0);
  }
}

/**
 * Time per phase, all zero to start (a class, not a literal: docs/performance.md, "MoE step").
 */
export class PhaseTimes implements Record<PhaseName, number> {
  declare attention: number;
  declare dense: number;
  declare gating: number;
  declare all_to_all: number;
  declare expert_compute: number;
  declare weight_transfer: number;
  declare host: number;
  declare idle: number;
  constructor() {
    this.attention = 0;
    this.dense = 0;
    this.gating = 0;
    this.all_to_all = 0;
    this.expert_compute = 0;
    this.weight_transfer = 0;
    this.host = 0;
    this.idle = 0;
  }
}

/** What the run has counted so far: the steps' records and the totals the result reports. */
export class RunTallies {
  declare steps: StepRecord[];
  declare phaseTotals: PhaseTimes;
  /** Per MoE layer: inactive experts summed over steps. */
  declare inactiveSum: Float64Array;
  declare cacheStats: LayerCacheStats[] | null;
  declare gpuBusy: Float64Array;
  /**
   * Per sequence key (RunConstants.seqKey): start of its first step (NaN: none yet) and end of its last (static
   * batching); the keys in order of their first step (requestOrder[0..requests)).
   */
  declare requestStart: Float64Array;
  declare requestEnd: Float64Array;
  declare requestOrder: Int32Array;
  declare requests: number;
  declare tokensDone: number;
  declare batcherStats: RequestStats | null;
  declare oom: (OomInfo & { step: number }) | null;
  declare currentStep: number;
  constructor(c: RunConstants) {
    const nMoe = c.moeLayers.length;
    this.steps = [];
    this.phaseTotals = new PhaseTimes();
    this.inactiveSum = new Float64Array(nMoe);
    this.cacheStats = c.caches
      ? c.group.flatMap((g) =>
          c.moeLayers.map((_, j) => ({ gpu: g, layer: j, requests: 0, hits: 0, misses: 0, bytes_moved: 0 })),
        )
      : null;
    this.gpuBusy = new Float64Array(c.D);
    this.requestStart = new Float64Array(c.seqKeys).fill(NaN);
    this.requestEnd = new Float64Array(c.seqKeys);
    this.requestOrder = new Int32Array(c.seqKeys);
    this.requests = 0;
    this.tokensDone = 0;
    this.batcherStats = null;
    this.oom = null;
    this.currentStep = -1;
  }
}

/**
 * Micro-batch overlap's streams (overlap.ts): when each GPU's compute stream is next free, and the
 * communication streams, one resource for them all (every collective spans all GPUs).
 */
export class OverlapState {
  declare microBatches: number;
  declare computeFree: Float64Array;
  declare comm: Resource;
  constructor(c: RunConstants) {
    if (c.T > 1 || c.caches !== null)
      throw new Error("micro-batch overlap needs tensor parallelism 1 and no buffering");
    this.microBatches = c.cfg.overlap === "three-batch" ? 3 : 2;
    this.computeFree = new Float64Array(c.D);
    this.comm = new Resource(c.sim, 1, "comm");
  }
}

/**
 * A run: its constants, the step's and the layer's scratch, its tallies, overlap's streams (or
 * null), and the window it records for the report.
 */
export class Run {
  declare c: RunConstants;
  declare s: StepScratch;
  declare x: LayerScratch;
  declare t: RunTallies;
  declare ov: OverlapState | null;
  declare w: Window;
  constructor(cfg: MoeSimConfig) {
    const c = new RunConstants(cfg);
    this.c = c;
    this.s = new StepScratch(c);
    this.x = new LayerScratch(c);
    this.t = new RunTallies(c);
    this.ov = cfg.overlap === undefined || cfg.overlap === "none" ? null : new OverlapState(c);
    // a step's collectives, about: per MoE layer its exchange phases and the combine, per micro-batch
    const perStep = c.moeLayers.length * 3 * (this.ov?.microBatches ?? 1) + (c.T > 1 ? 2 * c.nLayers : 0);
    this.w = new Window(c.D, c.cluster.net.linkCount, perStep);
  }
}
