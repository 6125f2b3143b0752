/**
 * Limits on counts, far above any real use, so that a typo such as `sequences: 1e9` ends in a
 * clear error instead of exhausting memory.
 */
export const LIMITS = {
  nodes: 4096,
  gpus: 65536,
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
} as const;
