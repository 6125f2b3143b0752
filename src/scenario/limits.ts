/**
 * Limits on counts, far above any real use, so that a typo such as `sequences: 1e9` ends in a
 * clear error instead of exhausting memory.
 */
export const LIMITS = {
  /**
   * Nodes and GPUs in all: the simulator keeps per-GPU-pair link state, so memory grows with the
   * square of the GPUs. Measured peak memory of 2 decode steps (dgx-h100, OLMoE): 16 nodes 130 MB,
   * 64 nodes 270 MB, 128 nodes (1024 GPUs) 0.8 GB, 256 nodes 2.5 GB for 160 s; 4096 did not fit.
   */
  nodes: 128,
  gpus: 1024,
  topics: 1024,
  sequences: 1_000_000,
  tokensPerSequence: 1_000_000,
  /** Synthetic tokens in all (sequences x tokens per sequence). */
  syntheticTokens: 10_000_000,
  /** Synthetic expert picks in all (tokens x MoE layers x top-k), 2 bytes each. */
  syntheticPicks: 100_000_000,
  batch: 1_000_000,
  contextTokens: 100_000_000,
  steps: 1_000_000_000,
  slots: 65536,
  /**
   * Poisson arrivals: below one request in ~17 minutes the arrival times leave the simulated clock's range for real
   * traces.
   */
  minRatePerS: 1e-3,
  maxRatePerS: 1e9,
} as const;
