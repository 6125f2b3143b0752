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
  /** Keep each GPU's memory timeline (result.memory[].timeline; default true); peaks are kept either way. */
  memoryTimeline?: boolean;
  /**
   * Tensor-parallel degree of the dense parts (attention, dense FFN, head): groups of this many
   * consecutive GPUs share each request's dense work, each rank holding 1/T of those weights, with
   * an all-reduce after attention and after each dense FFN, and an all-gather after each MoE
   * layer's combine; experts stay expert-parallel over all GPUs, each rank dispatching 1/T of its
   * group's tokens. 1 (the default) is pure data parallelism.
   */
  tensorParallel?: number;
  /**
   * Compute experts from per-GPU lists, as with buffering, even without it (tests check the
   * one-pass path taken otherwise, expertComputeFlat, against this one).
   */
  expertLists?: boolean;
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
  return new PhaseTimes();
}

/**
 * Time per phase, all zero to start (a class, not a literal: a literal's boilerplate would keep
 * the map its fields had before they first held fractions, and the next run's objects would
 * deoptimise the code that adds to them).
 */
class PhaseTimes implements Record<PhaseName, number> {
  declare attention: number;
  declare dense: number;
  declare gating: number;
  declare all_to_all: number;
  declare expert_compute: number;
  declare weight_transfer: number;
  declare idle: number;
  constructor() {
    this.attention = 0;
    this.dense = 0;
    this.gating = 0;
    this.all_to_all = 0;
    this.expert_compute = 0;
    this.weight_transfer = 0;
    this.idle = 0;
  }
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
 */export function simulateMoe(cfg: MoeSimConfig): MoeSimResult {
  const S = makeRun(cfg);
  S.sim.process(driver(S), "driver");
  S.sim.run();
  return results(S);
}

/** The run's result, once the simulation has ended. */
function results(S: Run): MoeSimResult {
  const { cfg, sim, cluster, steps } = S;
  const memory = S.group.map((g) => {
    const pool = cluster.memory(g);
    const peak: Record<string, number> = {};
    for (const c of CATEGORIES) peak[c] = pool.peak(c);
    const rec = {
      gpu: g,
      capacity_bytes: cfg.clusterSpec.node.gpu.hbmBytes,
      peak_bytes: pool.peak(),
      peak_by_category: peak,
      timeline: [] as MoeSimResult["memory"][number]["timeline"],
    };
    // Built on first use (most runs write no timeline): an enumerable getter, so it still
    // serialises like a plain field.
    let timeline: MoeSimResult["memory"][number]["timeline"] | null = null;
    Object.defineProperty(rec, "timeline", {
      enumerable: true,
      get: () => (timeline ??= pool.timeline().map((r) => ({ time_ns: r.timeNs, category: r.category, bytes: r.bytes }))),
    });
    return rec;
  });
  // Request latency: arrival to last token under continuous batching; else first step to last.
  const reqLat: number[] = [];
  if (S.batcherStats) {
    const st: RequestStats = S.batcherStats;
    for (let i = 0; i < st.endNs.length; i++) if (Number.isFinite(st.endNs[i])) reqLat.push(st.endNs[i] - st.arrivalNs[i]);
  } else {
    for (const [s, t0] of S.requestStart) reqLat.push(S.requestEnd.get(s)! - t0);
  }
  return {
    name: cfg.name,
    completedSteps: steps.length,
    totalSteps: cfg.steps ? Math.min(cfg.steps.length, cfg.maxSteps ?? Infinity) : null,
    tokens: S.tokensDone,
    simulatedNs: sim.now,
    oom: S.oom,
    steps,
    phaseTotalsNs: S.phaseTotals,
    inactiveExperts: S.moeLayers.map((_, j) => ({ layer: j, mean_inactive: steps.length ? S.inactiveSum[j] / steps.length : 0, experts: S.E })),
    cache: S.cacheStats,
    memory,
    links: cluster.linkTraffic().map((l) => ({ link: l.link, kind: l.kind, bytes: l.bytes })),
    requestLatencyNs: reqLat,
    events: sim.eventCount,
    eventLog: sim.log ? sim.log.toJSONL() : null,
    gpuBusyNs: Array.from(S.gpuBusy),
    placement: S.placements,
  };
}

/**
 * A run's state: the configuration, the engine and cluster, the step's scratch and what has been
 * counted so far. The step's helpers below are module-level functions of it, not closures made
 * per run: optimised code inlines its calls, and a closure made by another run would be another
 * call target (V8 then deoptimises the shared code at every call until it gives up inlining,
 * which made every sweep point after the first, and every second run in one process, slow).
 */
function runFields(cfg: MoeSimConfig) {
  const sim = new Simulation({ log: cfg.eventLog ? new EventLog() : false });
  const cluster = new Cluster(sim, cfg.clusterSpec, { cost: cfg.cost, networkModel: cfg.networkModel, recordTimeline: cfg.memoryTimeline !== false });
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
  // Scratch is sized here for the run's largest step rather than grown at its first use: optimised
  // code compiled during an earlier run in this process has never seen those growth branches taken
  // (they ran before V8 kept type feedback) and would deoptimise on them.
  let maxTokens = 0;
  for (const st of cfg.steps ?? []) if (st.length > maxTokens) maxTokens = st.length;
  let maxVirtual = E;
  for (const p of placements) {
    let extra = 0;
    for (const r of p.replicas ?? []) extra += r?.length ?? 0;
    if (E + extra > maxVirtual) maxVirtual = E + extra;
  }
  let picksBuf = new Int32Array(maxTokens * K);
  let activeBuf = new Int32Array(maxVirtual);
  let stamp = new Int32Array(E);
  let stampNow = 0;
  const countsBySize = new Map<number, Float64Array>();
  const backBuf = new Float64Array(D * D);
  let lastPlan: GatingPlan | undefined;
  let expertNsMemo = new Float64Array(Math.max(64, maxTokens * K + 1)).fill(-1);
  // Per-step scratch, reused from step to step (a step's state lives here while it runs; steps
  // run one at a time).
  let tokenGpuBuf = new Int32Array(maxTokens);
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
  let ordBuf = new Int32Array(maxVirtual);
  // expertComputeFlat's per-GPU sums, and the layer's active experts and their GPUs
  const gpuSum = new Float64Array(D);
  const gpuFirst = new Int32Array(D);
  const gpuFirstNs = new Float64Array(D);
  const gpuToks = new Float64Array(D);
  let layerActive: Int32Array = new Int32Array(0);
  let layerExpertGpu: Int32Array = new Int32Array(0);
  // Without buffering no expert waits for weights, and expert times are whole ns (the cost
  // model's contract): with a whole launch overhead too, a GPU's compute time is a sum of whole
  // numbers that can be added in any order, so experts are computed in one pass over the active
  // list (expertComputeFlat) instead of per-GPU lists (unless the config asks for the lists).
  const flatExperts = caches === null && Number.isInteger(launchNs) && cfg.expertLists !== true;
  const ordStart = new Int32Array(D + 1);
  const ordFill = new Int32Array(D);
  const kvPerToken = kvCacheBytesPerToken(m);
  /** Keys each request attends to besides its new tokens: the context in decode, none otherwise. */
  const ctx = cfg.phase === "decode" ? cfg.contextTokens : 0;
  const capacityFactor = cfg.gating.capacityFactor ?? m.capacityFactor;
  const gatingPolicy = cfg.gating.policy;
  /** What the running step has counted so far. */
  const cur = new StepTally();

  return { cfg, D, DP, E, K, T, activeBuf, attnNs, backBuf, batcherStats: batcherStats as RequestStats | null, bytesPerElem, cacheStats, caches, capacityFactor, cluster, cost, countsBySize, ctx, cur, currentStep, gpuSum, gpuFirst, gpuFirstNs, gpuToks, layerActive, layerExpertGpu, flatExperts, denseEq, denseEqSpec, denseNs, denseParamBytes, dispatchTokens, eBytes, expertNsMemo, gateNs, gatingPolicy, gpuBusy, gpuSeqs, gpuTokensStep, group, groupTokens, inactiveSum, kvPerToken, lastPlan: lastPlan as GatingPlan | undefined, launchNs, layers, m, moeIndexOf, moeLayerCountAll, moeLayers, nLayers, oom: oom as (OomInfo & { step: number }) | null, ordBuf, ordFill, ordStart, perGpuTokens, phaseTotals, picksBuf, placements, requestEnd, requestStart, seqRank, seqTokens, sim, slots, stamp, stampNow, stepAct, stepKv, steps, tokenBytes, tokenGpu, tokenGpuBuf, tokensDone, tpGroups, trace };
}

function makeRun(cfg: MoeSimConfig): RunState {
  const S = new RunState(runFields(cfg));
  // First-time work done now rather than inside the first layer (see the scratch in runFields):
  // the MoE all-to-all's routes, and the per-expert counts matrix dynamic gates exchange.
  if (S.moeLayers.length > 0) {
    S.cluster.prepareAllToAll(S.group);
    countsMatrix(S, S.E);
    // A plan of no tokens to start from: sparse gates write the first layer's plan into its
    // arrays (GatingOptions.reuse) as they do every later layer's.
    S.lastPlan = S.gatingPolicy.plan(
      { tokens: 0, topK: S.K, experts: S.E, gpus: S.D, picks: new Int32Array(0), tokenGpu: new Int32Array(0), expertGpu: S.placements[0].expertGpu, tokenBytes: S.tokenBytes },
      { capacityFactor: S.capacityFactor, blockSize: S.cfg.gating.blockSize },
    );
  }
  return S;
}

/**
 * A run's state is an instance of a class, its fields set by one named store each in the
 * constructor, and not an object literal: a second run's literal would store new values into
 * fields V8 had seen set only once (through a boilerplate whose map the first run had
 * generalised), marking them mutable (or their types wider) and deoptimising every step helper
 * that reads them at the start of the second run (~100 ms of re-optimisation per process: each
 * sweep worker's second point, bench/e2e's measured run). Object.assign would not do either: its
 * keyed stores turn an object with this many properties into a slow dictionary.
 */
class RunState {
  declare cfg: F["cfg"];
  declare D: F["D"];
  declare DP: F["DP"];
  declare E: F["E"];
  declare K: F["K"];
  declare T: F["T"];
  declare activeBuf: F["activeBuf"];
  declare attnNs: F["attnNs"];
  declare backBuf: F["backBuf"];
  declare batcherStats: F["batcherStats"];
  declare bytesPerElem: F["bytesPerElem"];
  declare cacheStats: F["cacheStats"];
  declare caches: F["caches"];
  declare capacityFactor: F["capacityFactor"];
  declare cluster: F["cluster"];
  declare cost: F["cost"];
  declare countsBySize: F["countsBySize"];
  declare ctx: F["ctx"];
  declare cur: F["cur"];
  declare currentStep: F["currentStep"];
  declare gpuSum: F["gpuSum"];
  declare gpuFirst: F["gpuFirst"];
  declare gpuFirstNs: F["gpuFirstNs"];
  declare gpuToks: F["gpuToks"];
  declare layerActive: F["layerActive"];
  declare layerExpertGpu: F["layerExpertGpu"];
  declare flatExperts: F["flatExperts"];
  declare denseEq: F["denseEq"];
  declare denseEqSpec: F["denseEqSpec"];
  declare denseNs: F["denseNs"];
  declare denseParamBytes: F["denseParamBytes"];
  declare dispatchTokens: F["dispatchTokens"];
  declare eBytes: F["eBytes"];
  declare expertNsMemo: F["expertNsMemo"];
  declare gateNs: F["gateNs"];
  declare gatingPolicy: F["gatingPolicy"];
  declare gpuBusy: F["gpuBusy"];
  declare gpuSeqs: F["gpuSeqs"];
  declare gpuTokensStep: F["gpuTokensStep"];
  declare group: F["group"];
  declare groupTokens: F["groupTokens"];
  declare inactiveSum: F["inactiveSum"];
  declare kvPerToken: F["kvPerToken"];
  declare lastPlan: F["lastPlan"];
  declare launchNs: F["launchNs"];
  declare layers: F["layers"];
  declare m: F["m"];
  declare moeIndexOf: F["moeIndexOf"];
  declare moeLayerCountAll: F["moeLayerCountAll"];
  declare moeLayers: F["moeLayers"];
  declare nLayers: F["nLayers"];
  declare oom: F["oom"];
  declare ordBuf: F["ordBuf"];
  declare ordFill: F["ordFill"];
  declare ordStart: F["ordStart"];
  declare perGpuTokens: F["perGpuTokens"];
  declare phaseTotals: F["phaseTotals"];
  declare picksBuf: F["picksBuf"];
  declare placements: F["placements"];
  declare requestEnd: F["requestEnd"];
  declare requestStart: F["requestStart"];
  declare seqRank: F["seqRank"];
  declare seqTokens: F["seqTokens"];
  declare sim: F["sim"];
  declare slots: F["slots"];
  declare stamp: F["stamp"];
  declare stampNow: F["stampNow"];
  declare stepAct: F["stepAct"];
  declare stepKv: F["stepKv"];
  declare steps: F["steps"];
  declare tokenBytes: F["tokenBytes"];
  declare tokenGpu: F["tokenGpu"];
  declare tokenGpuBuf: F["tokenGpuBuf"];
  declare tokensDone: F["tokensDone"];
  declare tpGroups: F["tpGroups"];
  declare trace: F["trace"];
  constructor(f: F) {
    this.cfg = f.cfg;
    this.D = f.D;
    this.DP = f.DP;
    this.E = f.E;
    this.K = f.K;
    this.T = f.T;
    this.activeBuf = f.activeBuf;
    this.attnNs = f.attnNs;
    this.backBuf = f.backBuf;
    this.batcherStats = f.batcherStats;
    this.bytesPerElem = f.bytesPerElem;
    this.cacheStats = f.cacheStats;
    this.caches = f.caches;
    this.capacityFactor = f.capacityFactor;
    this.cluster = f.cluster;
    this.cost = f.cost;
    this.countsBySize = f.countsBySize;
    this.ctx = f.ctx;
    this.cur = f.cur;
    this.currentStep = f.currentStep;
    this.gpuSum = f.gpuSum;
    this.gpuFirst = f.gpuFirst;
    this.gpuFirstNs = f.gpuFirstNs;
    this.gpuToks = f.gpuToks;
    this.layerActive = f.layerActive;
    this.layerExpertGpu = f.layerExpertGpu;
    this.flatExperts = f.flatExperts;
    this.denseEq = f.denseEq;
    this.denseEqSpec = f.denseEqSpec;
    this.denseNs = f.denseNs;
    this.denseParamBytes = f.denseParamBytes;
    this.dispatchTokens = f.dispatchTokens;
    this.eBytes = f.eBytes;
    this.expertNsMemo = f.expertNsMemo;
    this.gateNs = f.gateNs;
    this.gatingPolicy = f.gatingPolicy;
    this.gpuBusy = f.gpuBusy;
    this.gpuSeqs = f.gpuSeqs;
    this.gpuTokensStep = f.gpuTokensStep;
    this.group = f.group;
    this.groupTokens = f.groupTokens;
    this.inactiveSum = f.inactiveSum;
    this.kvPerToken = f.kvPerToken;
    this.lastPlan = f.lastPlan;
    this.launchNs = f.launchNs;
    this.layers = f.layers;
    this.m = f.m;
    this.moeIndexOf = f.moeIndexOf;
    this.moeLayerCountAll = f.moeLayerCountAll;
    this.moeLayers = f.moeLayers;
    this.nLayers = f.nLayers;
    this.oom = f.oom;
    this.ordBuf = f.ordBuf;
    this.ordFill = f.ordFill;
    this.ordStart = f.ordStart;
    this.perGpuTokens = f.perGpuTokens;
    this.phaseTotals = f.phaseTotals;
    this.picksBuf = f.picksBuf;
    this.placements = f.placements;
    this.requestEnd = f.requestEnd;
    this.requestStart = f.requestStart;
    this.seqRank = f.seqRank;
    this.seqTokens = f.seqTokens;
    this.sim = f.sim;
    this.slots = f.slots;
    this.stamp = f.stamp;
    this.stampNow = f.stampNow;
    this.stepAct = f.stepAct;
    this.stepKv = f.stepKv;
    this.steps = f.steps;
    this.tokenBytes = f.tokenBytes;
    this.tokenGpu = f.tokenGpu;
    this.tokenGpuBuf = f.tokenGpuBuf;
    this.tokensDone = f.tokensDone;
    this.tpGroups = f.tpGroups;
    this.trace = f.trace;
  }
}

/** The fields of RunState, as runFields computes them. */
type F = ReturnType<typeof runFields>;

/**
 * What the running step has counted so far (a class for the same reason as RunState). The fields
 * start as NaN, a double: they hold doubles, and a first value that is a small integer would have
 * V8 change their representation during the first run, and deoptimise the helpers that read them
 * at the start of the next. Every step sets them before reading them (beginStep, denseParts,
 * gateLayer, expertCompute).
 */
class StepTally {
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

type Run = RunState;

function alloc(S: Run, g: number, cat: MemoryCategory, bytes: number): void {
  if (bytes <= 0) return;
  const r = S.cluster.memory(g).allocate(cat, bytes);
  if (!r.ok) throw new OomStop(r.oom);
}

function free(S: Run, g: number, cat: MemoryCategory, bytes: number): void {
  if (bytes > 0) S.cluster.memory(g).free(cat, bytes);
}

function expertsOnGpu(S: Run, j: number, g: number): number {
  const p = S.placements[j];
  let n = 0;
  for (let e = 0; e < p.expertGpu.length; e++) if (p.expertGpu[e] === g) n++;
  return n;
}

function expertNs(S: Run, rows: number): number {
  if (rows >= S.expertNsMemo.length) {
    const bigger = new Float64Array(Math.max(rows + 1, 2 * S.expertNsMemo.length, 64)).fill(-1);
    bigger.set(S.expertNsMemo);
    S.expertNsMemo = bigger;
  }
  let t = S.expertNsMemo[rows];
  if (t < 0) t = S.expertNsMemo[rows] = S.cost.timeNs({ kind: "expert_ffn", tokens: rows, dModel: S.m.dModel, dFf: S.m.dFf, activation: S.m.activation, dtype: S.m.dtype });
  return t;
}

function waitAll(S: Run, evs: SimEvent<unknown>[]): SimEvent<unknown[]> {
  return S.sim.allOf(evs);
}

/** All-reduce (or all-gather) of `bytesPerGroup[k]` within every tensor-parallel group at once. */
function tpCollective(S: Run, bytesPerGroup: Float64Array, kind: "allReduce" | "allGather"): SimEvent<unknown[]> {
  const evs: SimEvent<unknown>[] = [];
  for (let k = 0; k < S.DP; k++) {
    if (bytesPerGroup[k] <= 0) continue;
    const ev = S.sim.event<unknown>(`tp_${kind}`);
    if (kind === "allReduce") S.cluster.allReduce(S.tpGroups[k], bytesPerGroup[k], () => ev.succeed());
    else S.cluster.allGather(S.tpGroups[k], bytesPerGroup[k] / S.T, () => ev.succeed());
    evs.push(ev);
  }
  return S.sim.allOf(evs);
}

function a2a(S: Run, sizes: Float64Array): SimEvent<void> {
  const ev = S.sim.event<void>("all_to_all");
  S.cluster.allToAll(S.group, sizes, () => ev.succeed(), { hierarchical: S.cfg.hierarchicalAllToAll === true });
  return ev;
}

/** One step; an allocation that does not fit ends the run with the OOM recorded at this step. */
function* runStep(S: Run, stepIdx: number, tokens: Int32Array): ProcessGenerator<void> {
  try {
    yield* stepBody(S, stepIdx, tokens);
  } catch (e) {
    if (!(e instanceof OomStop)) throw e;
    S.oom = { ...e.info, step: stepIdx };
  }
}


/**
 * Sets up a step: data parallel for the dense parts (whole requests go to GPUs, or tensor-parallel
 * groups of T GPUs, round-robin), each GPU's tokens and sequences, and the step's memory (KV
 * cache for its requests, activations of the widest layer). Returns the tensor-parallel
 * all-reduce sizes (null without tensor parallelism).
 */
function beginStep(S: Run, tokens: Int32Array): Float64Array | null {
  const n = tokens.length;
  S.cur.misses = S.cur.hits = S.cur.dropped = S.cur.padded = 0;
  if (S.tokenGpuBuf.length < n) S.tokenGpuBuf = new Int32Array(Math.max(n, 2 * S.tokenGpuBuf.length));
  S.tokenGpu = S.tokenGpuBuf.length === n ? S.tokenGpuBuf : S.tokenGpuBuf.subarray(0, n);
  S.perGpuTokens.fill(0);
  S.dispatchTokens.fill(0);
  S.groupTokens.fill(0);
  S.gpuTokensStep.fill(0);
  S.seqRank.clear();
  S.seqTokens.length = 0;
  for (let g = 0; g < S.D; g++) S.gpuSeqs[g].length = 0;
  // perGpuTokens: the tokens whose dense work a GPU shares (its group's); tokenGpu: the GPU that
  // dispatches each token to the experts (1/T of its group's tokens).
  for (let i = 0; i < n; i++) {
    const s = S.trace.seq[tokens[i]];
    let r = S.seqRank.get(s);
    if (r === undefined) {
      r = S.seqRank.size;
      S.seqRank.set(s, r);
      S.seqTokens.push(0);
    }
    S.seqTokens[r]++;
    const k = r % S.DP;
    S.tokenGpu[i] = k * S.T + (S.groupTokens[k]++ % S.T);
    for (let x = 0; x < S.T; x++) S.perGpuTokens[k * S.T + x]++;
  }
  for (let r = 0; r < S.seqTokens.length; r++) for (let x = 0; x < S.T; x++) S.gpuSeqs[(r % S.DP) * S.T + x].push(S.seqTokens[r]);
  for (let i = 0; i < n; i++) S.dispatchTokens[S.tokenGpu[i]]++;
  for (let g = 0; g < S.D; g++) {
    // KV cache: decode keeps context + 1 tokens per request; prefill/encode its new tokens.
    const cached = S.cfg.phase === "decode" ? S.gpuSeqs[g].length * (S.ctx + 1) : S.perGpuTokens[g];
    S.stepKv[g] = S.cfg.phase === "encode" ? 0 : (cached * S.kvPerToken * S.nLayers) / S.T;
    // Hidden states and logits of the GPU's tokens, and one layer's attention probabilities
    // (heads x new tokens x keys per sequence, materialised as in fairseq).
    let scores = 0;
    for (const t of S.gpuSeqs[g]) scores += S.m.heads * t * (S.ctx + t);
    S.stepAct[g] = (S.perGpuTokens[g] * (4 * S.m.dModel + S.m.vocab / S.T) + scores / S.T) * S.bytesPerElem;
    alloc(S, g, "kv_cache", S.stepKv[g]);
    alloc(S, g, "activations", S.stepAct[g]);
  }
  // Per-step costs that do not change from layer to layer (they depend on the GPU's tokens and
  // sequences only): attention with / without cross-attention, the dense FFN or shared experts,
  // the gate. Computed at the first layer that needs them.
  for (const a of S.attnNs) a.fill(-1);
  for (const a of S.denseNs) a.fill(-1);
  S.gateNs.fill(-1);
  if (S.picksBuf.length < n * S.K) S.picksBuf = new Int32Array(n * S.K);
  // The activation bytes each tensor-parallel group reduces after attention or a dense FFN.
  return S.T > 1 ? Float64Array.from(S.groupTokens, (t) => t * S.m.dModel * S.bytesPerElem) : null;
}


/** Attention (+ the dense FFN of non-MoE layers) per GPU, in parallel: sets cur.attnMax / cur.denseMax. */
function denseParts(S: Run, l: number, moe: boolean): void {
  let attnMax = 0;
  let denseMax = 0;
  const cross = S.layers[l].crossAttention;
  const aNs = S.attnNs[cross ? 1 : 0];
  // 0: dense FFN of the model, 1: the dense equivalent of a MoE layer, 2: shared experts
  const dk = !moe ? (S.layers[l].moe ? 1 : 0) : (S.m.sharedExperts ?? 0) > 0 ? 2 : -1;
  const dNs = dk >= 0 ? S.denseNs[dk] : null;
  for (let g = 0; g < S.D; g++) {
    if (S.perGpuTokens[g] === 0) continue;
    let ta = aNs[g];
    if (ta < 0) ta = aNs[g] = S.cost.timeNs(genericOp(S.m, shard(attentionOnGpu(S.m, S.gpuSeqs[g], S.ctx, cross, S.cfg.contextTokens), S.T)));
    let td = 0;
    if (dNs !== null) {
      td = dNs[g];
      if (td < 0) {
        const c = dk === 2 ? sharedExpertCost(S.m, S.perGpuTokens[g]) : denseFfnCost(dk === 1 ? S.denseEqSpec : S.m, S.perGpuTokens[g]);
        td = dNs[g] = S.cost.timeNs(genericOp(S.m, shard(c, S.T)));
      }
    }
    S.gpuBusy[g] += ta + td;
    if (ta > attnMax) attnMax = ta;
    if (td > denseMax) denseMax = td;
  }
  S.cur.attnMax = attnMax;
  S.cur.denseMax = denseMax;
}


/**
 * Gating of MoE layer j for the step's tokens: the plan, the gate's time per GPU (cur.gateMax),
 * the inactive-expert count, and the dispatch buffers allocated. Returns the plan and the owner
 * (real expert) of each virtual expert when hot experts are replicated.
 */
function gateLayer(S: Run, j: number, tokens: Int32Array): { plan: GatingPlan; owner: Int32Array | null } {
  const n = tokens.length;
  const place = S.placements[j];
  const tl = traceLayerOf(S.trace, j);
  // This layer's picks for the step's tokens (a scratch buffer: the plan does not keep it).
  const K = S.K;
  const picks = S.picksBuf.length === n * K ? S.picksBuf : S.picksBuf.subarray(0, n * K);
  const tp = S.trace.picks;
  const stride = S.trace.layers * K;
  const base = tl * K;
  for (let i = 0, q = 0; i < n; i++) {
    const off = tokens[i] * stride + base;
    for (let k = 0; k < K; k++) picks[q++] = tp[off + k];
  }
  const r = place.replicas ? replicate(picks, place, S.D, S.tokenGpu, S.K) : null;
  const routed = r ? r.picks : picks;
  const expertGpu = r ? r.expertGpu : place.expertGpu;
  const nVirtual = r ? r.experts : S.E;
  const owner = r ? r.owner : null;
  const plan: GatingPlan = S.gatingPolicy.plan(
    { tokens: n, topK: S.K, experts: nVirtual, gpus: S.D, picks: routed, tokenGpu: S.tokenGpu, expertGpu, tokenBytes: S.tokenBytes },
    { capacityFactor: S.capacityFactor, blockSize: S.cfg.gating.blockSize, reuse: S.lastPlan },
  );
  // Gate (router matmul, softmax, top-k) per GPU; static-capacity gates (GShard einsum) also
  // build the S x E x capacity dispatch mask and run the dispatch and combine einsums over it.
  let gateMax = 0;
  for (let g = 0; g < S.D; g++) {
    if (S.dispatchTokens[g] === 0) continue;
    let tg = S.gateNs[g];
    if (tg < 0) tg = S.gateNs[g] = S.cost.timeNs({ kind: "gating", tokens: S.dispatchTokens[g], dModel: S.m.dModel, experts: S.E, topK: S.K, dtype: S.m.dtype });
    if (plan.einsumCellsPerGpu && plan.einsumCellsPerGpu[g] > 0) {
      const cells = plan.einsumCellsPerGpu[g];
      tg += S.cost.timeNs({ kind: "generic", flops: 2 * 2 * cells * S.m.dModel, bytes: 2 * cells * 4 + 2 * S.dispatchTokens[g] * S.tokenBytes, dtype: S.m.dtype });
    }
    S.gpuBusy[g] += tg;
    if (tg > gateMax) gateMax = tg;
  }
  S.cur.gateMax = gateMax;
  S.cur.dropped += plan.dropped;
  S.cur.padded += plan.padded;
  // The experts with rows (sparse gates list them; others are scanned once); expertCompute works
  // from them, or from per-GPU lists of them (expertLists).
  let active = plan.activeExperts;
  if (active === undefined) {
    let c = 0;
    if (S.activeBuf.length < nVirtual) S.activeBuf = new Int32Array(nVirtual);
    for (let e = 0; e < nVirtual; e++) if (plan.expertRows[e] > 0) S.activeBuf[c++] = e;
    active = S.activeBuf.subarray(0, c);
  }
  const nActive = active.length;
  // Inactive experts: real experts with no token on any of their copies. An expert with
  // tokens has rows (kept <= rows), so only the listed experts can have tokens.
  if (S.stamp.length < S.E) S.stamp = new Int32Array(S.E);
  const st0 = ++S.stampNow;
  let touched = 0;
  const et = plan.expertTokens;
  const stamp = S.stamp;
  for (let i = 0; i < nActive; i++) {
    const e = active[i];
    if (et[e] === 0) continue;
    const o = owner ? owner[e] : e;
    if (stamp[o] !== st0) {
      stamp[o] = st0;
      touched++;
    }
  }
  S.inactiveSum[j] += S.E - touched;
  S.layerActive = active;
  S.layerExpertGpu = expertGpu;
  if (!S.flatExperts) expertLists(S, active, et, expertGpu);
  for (let g = 0; g < S.D; g++) alloc(S, g, "all_to_all", plan.bufferBytesPerGpu[g]);
  return { plan, owner };
}


/**
 * Per GPU, the experts that compute (CSR in ordStart/ordBuf): those with rows, and with buffering
 * only those with real tokens (only those have weights). With buffering the caches see each GPU's
 * experts in id order; without, only the first launch (the lowest id) is special, so the lists
 * stay unsorted.
 */
function expertLists(S: Run, active: Int32Array, et: Int32Array, expertGpu: Int32Array): void {
  const ordStart = S.ordStart;
  const noCache = S.caches === null;
  ordStart.fill(0);
  for (let i = 0; i < active.length; i++) {
    const e = active[i];
    if (noCache || et[e] > 0) ordStart[expertGpu[e] + 1]++;
  }
  for (let g = 0; g < S.D; g++) ordStart[g + 1] += ordStart[g];
  if (S.ordBuf.length < ordStart[S.D]) S.ordBuf = new Int32Array(Math.max(ordStart[S.D], 2 * S.ordBuf.length));
  const ordBuf = S.ordBuf;
  const ordFill = S.ordFill;
  for (let g = 0; g < S.D; g++) ordFill[g] = ordStart[g];
  for (let i = 0; i < active.length; i++) {
    const e = active[i];
    if (noCache || et[e] > 0) ordBuf[ordFill[expertGpu[e]]++] = e;
  }
  if (!noCache) for (let g = 0; g < S.D; g++) sortIds(ordBuf, ordStart[g], ordStart[g + 1]);
}

/**
 * Expert buffering for MoE layer j: each GPU's cache sees its experts with tokens; misses are
 * copied from host memory one after another (one copy stream per GPU), starting now. Returns the
 * time each missed (virtual) expert's weights arrive (filled in as copies finish) and the events
 * of the GPUs' copy streams.
 */
function startCopies(S: Run, j: number, stepIdx: number, owner: Int32Array | null): { ready: Map<number, number>; copyDone: SimEvent<unknown>[] } {
  const ready = new Map<number, number>();
  const copyDone: SimEvent<unknown>[] = [];
  for (let g = 0; g < S.D; g++) {
    const act = Array.from(S.ordBuf.subarray(S.ordStart[g], S.ordStart[g + 1])); // exactly the GPU's experts with tokens, ascending
    const cache = S.caches![g][j];
    const realIds = owner ? act.map((e) => (e < S.E ? e : owner[e])) : act.slice();
    const r = cache.accessBatch(stepIdx, realIds);
    const st = S.cacheStats![g * S.moeLayers.length + j];
    st.requests += act.length;
    st.misses += r.misses.length;
    st.hits += act.length - r.misses.length;
    st.bytes_moved += r.misses.length * S.eBytes;
    S.cur.misses += r.misses.length;
    S.cur.hits += act.length - r.misses.length;
    if (r.misses.length === 0) continue;
    const missSet = new Set(r.misses);
    const queue = act.filter((_, i) => missSet.has(realIds[i]));
    const done = S.sim.event("weights");
    copyDone.push(done);
    const next = (i: number): void => {
      if (i >= queue.length) {
        done.succeed();
        return;
      }
      S.cluster.hostToDevice(g, S.eBytes, () => {
        ready.set(queue[i], S.sim.now);
        next(i + 1);
      }, { pinned: S.cfg.buffering.pinned });
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
function expertCompute(S: Run, plan: GatingPlan, ready: Map<number, number> | null, tArrived: number): number {
  if (S.flatExperts) return expertComputeFlat(S, plan, tArrived);
  let endMax = tArrived;
  S.cur.critCompute = 0;
  const rows = plan.expertRows;
  const et = plan.expertTokens;
  const perExpert = plan.perExpertLoop;
  for (let g = 0; g < S.D; g++) {
    const a = S.ordStart[g];
    const b = S.ordStart[g + 1];
    if (a === b) continue;
    if (ready !== null && ready.size > 0) sortByReady(S.ordBuf, a, b, ready);
    // The first expert launched: the head of the (sorted) list with buffering, else the lowest id.
    let first = S.ordBuf[a];
    if (ready === null) for (let i = a + 1; i < b; i++) if (S.ordBuf[i] < first) first = S.ordBuf[i];
    let t = tArrived;
    let busy = 0;
    let toks = 0;
    for (let i = a; i < b; i++) {
      const e = S.ordBuf[i];
      if (ready !== null) {
        const rdy = ready.get(e);
        if (rdy !== undefined && rdy > t) t = rdy;
      }
      let c = expertNs(S, rows[e]);
      // Gates other than per-expert loops (FastMoE) run a GPU's experts as one grouped kernel:
      // one launch, whatever the number of experts. (Integer ns: the sum is order-free.)
      if (!perExpert && e !== first) c = Math.max(0, c - S.launchNs);
      t += c;
      busy += c;
      toks += et[e];
    }
    endMax = bookGpu(S, g, toks, busy, t, endMax);
  }
  return endMax;
}

/**
 * Counts GPU g's expert tokens and busy time for a layer whose experts end at t on it; returns the
 * layer's latest end so far (endMax, or t if later, whose busy time becomes cur.critCompute).
 */
function bookGpu(S: Run, g: number, toks: number, busy: number, t: number, endMax: number): number {
  S.gpuTokensStep[g] += toks;
  S.gpuBusy[g] += busy;
  if (!(t > endMax)) return endMax;
  S.cur.critCompute = busy;
  return t;
}


/**
 * expertCompute without buffering (no expert waits for weights), in one pass over the layer's
 * active experts instead of per-GPU lists: a GPU's time is the sum of its experts' times, each
 * less the launch overhead but for the first launched (the lowest id), and all of them whole ns,
 * so summing per GPU in active order gives what expertCompute's per-GPU loop gives.
 */
function expertComputeFlat(S: Run, plan: GatingPlan, tArrived: number): number {
  const rows = plan.expertRows;
  const et = plan.expertTokens;
  const perExpert = plan.perExpertLoop;
  const L = S.launchNs;
  const active = S.layerActive;
  const eg = S.layerExpertGpu;
  const sum = S.gpuSum;
  const first = S.gpuFirst;
  const firstNs = S.gpuFirstNs;
  const toks = S.gpuToks;
  sum.fill(0);
  first.fill(-1);
  toks.fill(0);
  for (let i = 0; i < active.length; i++) {
    const e = active[i];
    const g = eg[e];
    const c = expertNs(S, rows[e]);
    sum[g] += perExpert ? c : Math.max(0, c - L);
    if (first[g] < 0 || e < first[g]) {
      first[g] = e;
      firstNs[g] = c;
    }
    toks[g] += et[e];
  }
  let endMax = tArrived;
  S.cur.critCompute = 0;
  for (let g = 0; g < S.D; g++) {
    if (first[g] < 0) continue;
    const busy = perExpert ? sum[g] : sum[g] - Math.max(0, firstNs[g] - L) + firstNs[g];
    endMax = bookGpu(S, g, toks[g], busy, tArrived + busy, endMax);
  }
  return endMax;
}

/** The output head, once per step, and the step's record. */
function endStep(S: Run, stepIdx: number, tokens: Int32Array, start: number, phases: Record<PhaseName, number>): void {
  const n = tokens.length;
  for (let g = 0; g < S.D; g++) {
    free(S, g, "kv_cache", S.stepKv[g]);
    free(S, g, "activations", S.stepAct[g]);
  }
  let tot = 0;
  let mx = 0;
  for (let g = 0; g < S.D; g++) {
    tot += S.gpuTokensStep[g];
    if (S.gpuTokensStep[g] > mx) mx = S.gpuTokensStep[g];
  }
  S.steps.push({
    step: stepIdx,
    start_ns: start,
    end_ns: S.sim.now,
    tokens: n,
    latency_ns: S.sim.now - start,
    phases_ns: phases,
    gpu_tokens: Array.from(S.gpuTokensStep),
    max_gpu_share: tot > 0 ? mx / tot : 0,
    cache_misses: S.cur.misses,
    cache_hits: S.cur.hits,
    dropped: S.cur.dropped,
    padded: S.cur.padded,
  });
  for (const p of PHASES) S.phaseTotals[p] += phases[p];
  S.tokensDone += n;
  for (let i = 0; i < n; i++) {
    const s = S.trace.seq[tokens[i]];
    if (!S.requestStart.has(s)) S.requestStart.set(s, start);
    S.requestEnd.set(s, S.sim.now);
  }
}


function headNs(S: Run): number {
  let headMax = 0;
  for (let g = 0; g < S.D; g++) {
    const th = S.perGpuTokens[g] > 0 ? S.cost.timeNs(genericOp(S.m, shard(embeddingCost(S.m, S.perGpuTokens[g]), S.T))) : 0;
    S.gpuBusy[g] += th;
    if (th > headMax) headMax = th;
  }
  return headMax;
}


/** Combine: the transpose of the dispatch, in a buffer reused from layer to layer (a collective has read it when it completes). */
function transposeInto(S: Run, back: Float64Array, send: Float64Array): Float64Array {
  for (let s = 0; s < S.D; s++) for (let d = 0; d < S.D; d++) back[d * S.D + s] = send[s * S.D + d];
  return back;
}


function* stepBody(S: Run, stepIdx: number, tokens: Int32Array): ProcessGenerator<void> {
  const start = S.sim.now;
  const phases = zeroPhases();
  const tpBytes = beginStep(S, tokens);
  for (let l = 0; l < S.nLayers; l++) {
    const moe = S.layers[l].moe && !S.denseEq;
    denseParts(S, l, moe);
    let attnMax = S.cur.attnMax;
    if (tpBytes !== null) {
      // Tensor parallel: each block ends with an all-reduce within the group; its time counts
      // to the block (attention, or the dense FFN).
      yield attnMax;
      let t0 = S.sim.now;
      yield tpCollective(S, tpBytes, "allReduce");
      phases.attention += attnMax + (S.sim.now - t0);
      attnMax = 0;
      if (!moe) {
        yield S.cur.denseMax;
        t0 = S.sim.now;
        yield tpCollective(S, tpBytes, "allReduce");
        phases.dense += S.cur.denseMax + (S.sim.now - t0);
        continue;
      }
    }
    if (!moe) {
      phases.attention += attnMax;
      phases.dense += S.cur.denseMax;
      yield attnMax + S.cur.denseMax;
      continue;
    }
    const j = S.moeIndexOf[l];
    const { plan, owner } = gateLayer(S, j, tokens);
    phases.attention += attnMax;
    phases.gating += S.cur.gateMax;
    yield attnMax + S.cur.gateMax;
    // Gating has decided: start weight copies for cache misses (one copy stream per GPU).
    const copies = S.caches !== null ? startCopies(S, j, stepIdx, owner) : null;
    const tDispatch = S.sim.now;
    if (plan.capacityAllReduce) {
      const ev = S.sim.event<void>("capacity_all_reduce");
      S.cluster.allReduce(S.group, 4, () => ev.succeed());
      yield ev;
    }
    if (plan.countsExchange) yield a2a(S, countsMatrix(S, plan.expertRows.length));
    yield a2a(S, plan.sendBytes);
    const tArrived = S.sim.now;
    phases.all_to_all += tArrived - tDispatch;
    if (copies !== null && copies.copyDone.length > 0) yield waitAll(S, copies.copyDone);
    const endMax = expertCompute(S, plan, copies?.ready ?? null, tArrived);
    // On the critical GPU: its compute, and the rest of the span is waiting for weights.
    const expertSpan = endMax - tArrived;
    phases.expert_compute += Math.min(expertSpan, S.cur.critCompute);
    phases.weight_transfer += Math.max(0, expertSpan - S.cur.critCompute);
    if (endMax > S.sim.now) yield endMax - S.sim.now;
    const tCombine = S.sim.now;
    yield a2a(S, transposeInto(S, S.backBuf, plan.sendBytes));
    // Tensor parallel: every rank of a group gets all of the group's tokens back.
    if (tpBytes !== null) yield tpCollective(S, tpBytes, "allGather");
    phases.all_to_all += S.sim.now - tCombine;
    for (let g = 0; g < S.D; g++) free(S, g, "all_to_all", plan.bufferBytesPerGpu[g]);
    S.lastPlan = plan; // done with it: the next layer's plan may reuse its arrays
  }
  const headMax = headNs(S);
  phases.dense += headMax;
  yield headMax;
  endStep(S, stepIdx, tokens, start, phases);
}


/** The all-to-all of per-expert counts (4 bytes per expert to every other GPU); never written again once made. */
function countsMatrix(S: Run, nVirtual: number): Float64Array {
  let counts = S.countsBySize.get(nVirtual);
  if (counts === undefined) {
    counts = new Float64Array(S.D * S.D);
    for (let s = 0; s < S.D; s++) for (let d = 0; d < S.D; d++) if (s !== d) counts[s * S.D + d] = 4 * nVirtual;
    S.countsBySize.set(nVirtual, counts);
  }
  return counts;
}


function* driver(S: Run): ProcessGenerator<void> {
  try {
    for (let g = 0; g < S.D; g++) {
      S.currentStep = -1;
      let weights = S.denseParamBytes;
      if (S.denseEq) weights += S.moeLayerCountAll * (denseFfnCost(S.denseEqSpec, 0).weightBytes - (S.m.sharedExperts ? sharedExpertCost(S.m, 0).weightBytes : 0));
      if (!S.caches) {
        let nE = 0;
        for (let j = 0; j < S.moeLayers.length; j++) nE += expertsOnGpu(S, j, g);
        weights += nE * S.eBytes;
        alloc(S, g, "weights", weights);
      } else {
        alloc(S, g, "weights", weights);
        alloc(S, g, "expert_cache", S.slots * S.moeLayers.length * S.eBytes);
      }
    }
    const maxSteps = S.cfg.maxSteps ?? Infinity;
    if (S.cfg.steps) {
      for (let s = 0; s < S.cfg.steps.length && s < maxSteps; s++) {
        S.currentStep = s;
        yield S.sim.process(runStep(S, s, S.cfg.steps[s]), "step");
        if (S.oom) return;
      }
    } else if (S.cfg.continuous) {
      const b = S.cfg.continuous.batcher();
      for (let s = 0; s < maxSteps; s++) {
        let toks = b.nextStep(S.sim.now);
        if (toks === null) break;
        while (toks.length === 0) {
          const next = b.nextArrivalNs();
          if (next === null) break;
          const wait = Math.max(0, next - S.sim.now);
          S.phaseTotals.idle += wait;
          yield wait;
          const t2 = b.nextStep(S.sim.now);
          if (t2 === null) break;
          toks = t2;
        }
        if (toks.length === 0) break;
        S.currentStep = s;
        yield S.sim.process(runStep(S, s, toks), "step");
        if (S.oom) return;
      }
      b.finish(S.sim.now);
      S.batcherStats = b.requestStats();
    }
  } catch (e) {
    if (e instanceof OomStop) {
      S.oom = { ...e.info, step: S.currentStep };
      return;
    }
    throw e;
  }
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
