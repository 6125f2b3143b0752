import { Simulation, type ProcessGenerator, type SimEvent } from "../sim/engine.js";
import { EventLog } from "../sim/log.js";
import type { RandomStream } from "../sim/rng.js";
import { Cluster } from "../hardware/cluster.js";
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
  const cluster = new Cluster(sim, cfg.clusterSpec, { cost: cfg.cost });
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
  const orders: number[][] = Array.from({ length: D }, () => []);
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

  function* stepBody(stepIdx: number, tokens: Int32Array): ProcessGenerator<void> {
    const start = sim.now;
    const phases = zeroPhases();
    const n = tokens.length;
    // Data parallel for the dense parts: whole requests go to GPUs (tensor-parallel groups of T
    // GPUs) round-robin. perGpuTokens: the tokens whose dense work a GPU shares (its group's);
    // tokenGpu: the GPU that dispatches each token to the experts (1/T of its group's tokens).
    const tokenGpu = new Int32Array(n);
    const perGpuTokens = new Int32Array(D);
    const seqRank = new Map<number, number>();
    const seqTokens: number[] = [];
    const groupTokens = new Float64Array(DP);
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
    const gpuSeqs: number[][] = Array.from({ length: D }, () => []);
    seqTokens.forEach((t, r) => {
      for (let x = 0; x < T; x++) gpuSeqs[(r % DP) * T + x].push(t);
    });
    const dispatchTokens = new Int32Array(D);
    for (let i = 0; i < n; i++) dispatchTokens[tokenGpu[i]]++;
    // The activation bytes each tensor-parallel group reduces after attention or a dense FFN.
    const tpBytes = T > 1 ? Float64Array.from(groupTokens, (t) => t * m.dModel * bytesPerElem) : null;
    const gpuTokensStep = new Float64Array(D);
    let misses = 0;
    let hits = 0;
    let dropped = 0;
    let padded = 0;
    // Per-step memory: KV cache for the requests of this step, activations of the widest layer.
    const ctx = cfg.phase === "decode" ? cfg.contextTokens : 0;
    const stepKv = new Float64Array(D);
    const stepAct = new Float64Array(D);
    const kvPerToken = kvCacheBytesPerToken(m);
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
    const attnNs = [new Float64Array(D).fill(-1), new Float64Array(D).fill(-1)];
    const denseNs = [new Float64Array(D).fill(-1), new Float64Array(D).fill(-1), new Float64Array(D).fill(-1)];
    const gateNs = new Float64Array(D).fill(-1);
    if (picksBuf.length < n * K) picksBuf = new Int32Array(n * K);
    for (let l = 0; l < nLayers; l++) {
      // Attention (+ dense FFN on non-MoE layers) per GPU, in parallel; the slowest sets the pace.
      let attnMax = 0;
      let denseMax = 0;
      const moe = layers[l].moe && !denseEq;
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
      if (tpBytes !== null) {
        // Tensor parallel: each block ends with an all-reduce within the group; its time counts
        // to the block (attention, or the dense FFN).
        yield attnMax;
        let t0 = sim.now;
        yield tpCollective(tpBytes, "allReduce");
        phases.attention += attnMax + (sim.now - t0);
        attnMax = 0;
        if (!moe) {
          yield denseMax;
          t0 = sim.now;
          yield tpCollective(tpBytes, "allReduce");
          phases.dense += denseMax + (sim.now - t0);
          continue;
        }
      }
      if (!moe) {
        phases.attention += attnMax;
        phases.dense += denseMax;
        yield attnMax + denseMax;
        continue;
      }
      const j = moeIndexOf[l];
      const place = placements[j];
      const tl = traceLayerOf(trace, j);
      // Gather this layer's picks for the step's tokens (a scratch buffer: the plan does not keep it).
      const picks = picksBuf.length === n * K ? picksBuf : picksBuf.subarray(0, n * K);
      for (let i = 0; i < n; i++) {
        const off = (tokens[i] * trace.layers + tl) * K;
        for (let k = 0; k < K; k++) picks[i * K + k] = trace.picks[off + k];
      }
      const { picks: routed, expertGpu, experts: nVirtual, owner } = place.replicas ? replicate(picks, place, D, tokenGpu, K) : { picks, expertGpu: place.expertGpu, experts: E, owner: null };
      const plan: GatingPlan = cfg.gating.policy.plan(
        { tokens: n, topK: K, experts: nVirtual, gpus: D, picks: routed, tokenGpu, expertGpu, tokenBytes },
        { capacityFactor: cfg.gating.capacityFactor ?? m.capacityFactor, blockSize: cfg.gating.blockSize, reuse: lastPlan },
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
      dropped += plan.dropped;
      padded += plan.padded;
      // The experts with rows, ascending (sparse gates list them; others are scanned once).
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
      for (let i = 0; i < nActive; i++) {
        const e = active[i];
        if (plan.expertTokens[e] === 0) continue;
        const r = owner ? owner[e] : e;
        if (stamp[r] !== st0) {
          stamp[r] = st0;
          touched++;
        }
      }
      inactiveSum[j] += E - touched;
      for (let g = 0; g < D; g++) alloc(g, "all_to_all", plan.bufferBytesPerGpu[g]);
      phases.attention += attnMax;
      phases.gating += gateMax;
      yield attnMax + gateMax;

      // Per-GPU lists of the experts that compute: rows > 0 and, with buffering, real tokens (only
      // those have weights). In id order with buffering (the caches see them in that order);
      // without, only the first launch (the lowest id) is special, so the lists stay unsorted.
      for (let g = 0; g < D; g++) orders[g].length = 0;
      for (let i = 0; i < nActive; i++) {
        const e = active[i];
        if (caches === null || plan.expertTokens[e] > 0) orders[expertGpu[e]].push(e);
      }
      if (caches !== null) for (let g = 0; g < D; g++) if (orders[g].length > 1) orders[g].sort(byId);
      // Gating has decided: start weight copies for cache misses (one copy stream per GPU).
      let ready: Map<number, number> | null = null; // virtual expert -> time its weights are on the GPU
      const copyDone: SimEvent<unknown>[] = [];
      if (caches) {
        const readyMap = (ready = new Map<number, number>());
        for (let g = 0; g < D; g++) {
          const act = orders[g]; // with buffering: exactly the GPU's experts with tokens, ascending
          const cache = caches[g][j];
          const realIds = owner ? act.map((e) => (e < E ? e : owner[e])) : act.slice();
          const r = cache.accessBatch(stepIdx, realIds);
          const st = cacheStats![g * moeLayers.length + j];
          st.requests += act.length;
          st.misses += r.misses.length;
          st.hits += act.length - r.misses.length;
          st.bytes_moved += r.misses.length * eBytes;
          misses += r.misses.length;
          hits += act.length - r.misses.length;
          if (r.misses.length > 0) {
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
                readyMap.set(queue[i], sim.now);
                next(i + 1);
              }, { pinned: cfg.buffering.pinned });
            };
            next(0);
          }
        }
      }
      const tDispatch = sim.now;
      if (plan.capacityAllReduce) {
        const ev = sim.event<void>("capacity_all_reduce");
        cluster.allReduce(group, 4, () => ev.succeed());
        yield ev;
      }
      if (plan.countsExchange) {
        let counts = countsBySize.get(nVirtual);
        if (counts === undefined) {
          counts = new Float64Array(D * D);
          for (let s = 0; s < D; s++) for (let d = 0; d < D; d++) if (s !== d) counts[s * D + d] = 4 * nVirtual;
          countsBySize.set(nVirtual, counts); // never written again: collectives read it later
        }
        yield a2a(counts);
      }
      yield a2a(plan.sendBytes);
      const tArrived = sim.now;
      phases.all_to_all += tArrived - tDispatch;
      if (copyDone.length > 0) yield waitAll(copyDone);

      // Expert compute per GPU: resident experts first, then missed ones as their weights arrive.
      let endMax = tArrived;
      let critCompute = 0;
      for (let g = 0; g < D; g++) {
        let t = tArrived;
        let busy = 0;
        const order = orders[g];
        if (ready !== null && ready.size > 0) {
          const rd = ready;
          order.sort((a, b) => (rd.get(a) ?? 0) - (rd.get(b) ?? 0) || a - b);
        }
        // The first expert launched: the head of the (sorted) list with buffering, else the lowest id.
        let first = order.length > 0 ? order[0] : -1;
        if (ready === null) for (let i = 1; i < order.length; i++) if (order[i] < first) first = order[i];
        for (let i = 0; i < order.length; i++) {
          const e = order[i];
          if (ready !== null) {
            const rdy = ready.get(e);
            if (rdy !== undefined && rdy > t) t = rdy;
          }
          let c = expertNs(plan.expertRows[e]);
          // Gates other than per-expert loops (FastMoE) run a GPU's experts as one grouped kernel:
          // one launch, whatever the number of experts. (Integer ns: the sum is order-free.)
          if (!plan.perExpertLoop && e !== first) c = Math.max(0, c - launchNs);
          t += c;
          busy += c;
          gpuTokensStep[g] += plan.expertTokens[e];
        }
        gpuBusy[g] += busy;
        if (t > endMax) {
          endMax = t;
          critCompute = busy;
        }
      }
      // On the critical GPU: its compute, and the rest of the span is waiting for weights.
      const expertSpan = endMax - tArrived;
      phases.expert_compute += Math.min(expertSpan, critCompute);
      phases.weight_transfer += Math.max(0, expertSpan - critCompute);
      if (endMax > sim.now) yield endMax - sim.now;
      // Combine: the transpose of the dispatch.
      // (A buffer reused from layer to layer: the collective has read it when it completes.)
      const back = backBuf;
      for (let s = 0; s < D; s++) for (let d = 0; d < D; d++) back[d * D + s] = plan.sendBytes[s * D + d];
      const tCombine = sim.now;
      yield a2a(back);
      // Tensor parallel: every rank of a group gets all of the group's tokens back.
      if (tpBytes !== null) yield tpCollective(tpBytes, "allGather");
      phases.all_to_all += sim.now - tCombine;
      for (let g = 0; g < D; g++) free(g, "all_to_all", plan.bufferBytesPerGpu[g]);
      lastPlan = plan; // done with it: the next layer's plan may reuse its arrays
    }
    // Output head once per step.
    let headMax = 0;
    for (let g = 0; g < D; g++) {
      const th = perGpuTokens[g] > 0 ? cost.timeNs(genericOp(m, shard(embeddingCost(m, perGpuTokens[g]), T))) : 0;
      gpuBusy[g] += th;
      if (th > headMax) headMax = th;
    }
    phases.dense += headMax;
    yield headMax;
    for (let g = 0; g < D; g++) {
      free(g, "kv_cache", stepKv[g]);
      free(g, "activations", stepAct[g]);
    }
    const latency = sim.now - start;
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
      latency_ns: latency,
      phases_ns: phases,
      gpu_tokens: Array.from(gpuTokensStep),
      max_gpu_share: tot > 0 ? mx / tot : 0,
      cache_misses: misses,
      cache_hits: hits,
      dropped,
      padded,
    });
    for (const p of PHASES) phaseTotals[p] += phases[p];
    tokensDone += n;
    for (let i = 0; i < n; i++) {
      const s = trace.seq[tokens[i]];
      if (!requestStart.has(s)) requestStart.set(s, start);
      requestEnd.set(s, sim.now);
    }
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
    return {
      gpu: g,
      capacity_bytes: cfg.clusterSpec.node.gpu.hbmBytes,
      peak_bytes: pool.peak(),
      peak_by_category: peak,
      timeline: pool.timeline().map((r) => ({ time_ns: r.timeNs, category: r.category, bytes: r.bytes })),
    };
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

/** A rank's share of a tensor-parallel op: 1/T of its FLOPs, weights and activations. */
function shard(c: Cost, T: number): Cost {
  return T === 1 ? c : { flops: c.flops / T, weightBytes: c.weightBytes / T, activationBytes: c.activationBytes / T };
}
