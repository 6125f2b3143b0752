/**
 * The MoE simulation's configuration and result types, on their own so that what builds a
 * configuration (src/scenario) and what reads a result (results.ts, src/report through it) depend
 * on these types only, not on the simulation.
 */
import type { ClusterSpec } from "../hardware/devices.js";
import type { NetworkModel } from "../hardware/cluster.js";
import type { ExchangePrecision } from "../hardware/collectives/index.js";
import type { CostModel } from "../hardware/cost.js";
import type { MemoryCategory, OomInfo } from "../hardware/memory.js";
import type { ModelSpec } from "../workload/model.js";
import type { RoutingTrace } from "../workload/trace.js";
import type { ContinuousBatcher } from "../workload/batching.js";
import type { GatingPolicy } from "../policies/gating/index.js";
import type { BufferingPolicy } from "../policies/buffering/index.js";
import type { Placement, PlacementPolicy } from "../policies/placement/index.js";
import type { SimPhase } from "./costs.js";

export type Phase = SimPhase;

export const PHASES = [
  "attention",
  "dense",
  "gating",
  "all_to_all",
  "expert_compute",
  "weight_transfer",
  "host",
  "idle",
] as const;
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
  placement: { policy: PlacementPolicy; replicateHot: number } & PlacementExtras;
  eventLog?: boolean;
  /**
   * The dense baseline: every MoE layer becomes a dense FFN of width top-k x the expert's (plus
   * shared experts), so FLOPs per token stay the same; no gating, no all-to-all, no experts.
   */
  denseEquivalent?: boolean;
  /** Two-stage all-to-all across nodes (see Cluster.allToAll). */
  hierarchicalAllToAll?: boolean;
  /**
   * The dispatch/combine algorithm by its registered name (Cluster.allToAll's `algorithm`); overrides
   * hierarchicalAllToAll.
   */
  dispatchAlgorithm?: string;
  /** Precision of the dispatch's and the combine's token rows (default: the model's dtype, no scales). */
  dispatchPrecision?: ExchangePrecision;
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
  /**
   * Micro-batch overlap (overlap.ts): "two-batch" splits each step's tokens into two micro-batches
   * whose compute and all-to-alls interleave (SGLang's two-batch overlap); "three-batch" is the
   * deeper pipeline with three. "none" (the default) runs the step as one batch.
   */
  overlap?: OverlapMode;
}

export type OverlapMode = "none" | "two-batch" | "three-batch";

/** One busy interval of a GPU's compute or communication stream (recorded in the window only: window.ts). */
export interface TimelineInterval {
  step: number;
  gpu: number;
  stream: "compute" | "comm";
  micro_batch: number;
  layer: number;
  what: string;
  start_ns: number;
  end_ns: number;
}

/** Bytes a link carried in [start_ns, end_ns) (sampled at the ends of collectives, in the window only). */
export interface LinkSample {
  link: string;
  start_ns: number;
  end_ns: number;
  bytes: number;
}

/**
 * What every run records for the report (window.ts): a bounded window of the run (its first steps,
 * the streams of its first GPUs, link samples at most every few collectives), and one dispatch matrix.
 */
export interface WindowRecord {
  /** Steps recorded (the first ones). */
  window_steps: number;
  /** GPUs whose streams are recorded (the first ones). */
  window_gpus: number;
  /** Link samples are taken at the end of every this many collectives. */
  sample_every: number;
  /** Whether the window filled up before its last step ended (intervals or samples past that were not kept). */
  truncated: boolean;
  timeline: TimelineInterval[];
  link_samples: LinkSample[];
  /**
   * Source GPU x destination GPU bytes of the dispatch at MoE layer `layer` of step `step` (the first
   * micro-batch's with overlap).
   */
  dispatch: { step: number; layer: number; gpus: number; bytes: number[] } | null;
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
  /** The window of the run that the report's timeline, link heatmap and dispatch matrix show. */
  window: WindowRecord;
  /** Periodic rebalancing (policies.placement.rebalance_every), when the scenario asks for it. */
  rebalance?: RebalanceResult;
}

/**
 * EPLB's settings beyond the policy: redundant copies, the cluster's nodes and the model's expert groups, and
 * rebalancing.
 */
export interface PlacementExtras {
  redundantExperts?: number;
  nodes?: number;
  groups?: number;
  /** Recompute the placement every this many steps from the last `window` steps' load (0 or absent: never). */
  rebalanceEvery?: number;
  window?: number;
}

/** What rebalancing did: per MoE layer, mean max/mean GPU load per step with the starting placement and as run. */
export interface RebalanceResult {
  rebalances: number;
  /** Copies sent over the links (from another GPU), and their bytes. */
  moved_copies: number;
  moved_bytes: number;
  /** Copies a GPU gained of an expert only it held (copied within its HBM: no link, but memory like a moved one). */
  local_copies: number;
  time_ns: number;
  balancedness: { layer: number; before: number; after: number }[];
}
