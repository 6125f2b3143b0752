/** Expert placement: which GPU holds which expert of one MoE layer. */
export interface PlacementInput {
  experts: number;
  gpus: number;
  /** Experts each GPU can hold; default ceil(experts / gpus). Replicas come on top. */
  slotsPerGpu?: number;
  /** Historical load: token-expert assignments per expert (shared between runs: read it, never write it). */
  load: Float64Array;
  /** Historical activations: active[b * experts + e] is 1 when expert e got tokens in batch b. */
  activations?: { batches: number; active: Uint8Array };
  /** Give the n most loaded experts one extra copy each, on the least loaded other GPU. */
  replicateHot?: number;
  /** Weight of the Pearson correlation in anti-correlation placement (default 0.5, the paper's). */
  correlationWeight?: number;
  /** EPLB: extra expert copies beyond one per expert; experts + redundant must divide by gpus (default: the least). */
  redundantExperts?: number;
  /** Nodes the GPUs are split into, in order (default 1): EPLB keeps an expert group within one node. */
  nodes?: number;
  /** Expert groups of group-limited routing (default 1; DeepSeek-V3: 8), consecutive expert ids per group. */
  groups?: number;
}

export interface Placement {
  /** Primary GPU of each expert. */
  expertGpu: Int32Array;
  /** Extra GPUs holding a copy of the expert (tokens split evenly over all copies). */
  replicas?: Int32Array[];
}

export interface PlacementPolicy {
  name: string;
  description: string;
  /**
   * Places without reading the trace's load or activations (unless replicateHot asks for the load): such a policy
   * runs under load-level routing (workload.routing: load), whose trace holds no picks.
   */
  tokenFree?: boolean;
  place(input: PlacementInput): Placement;
}
