import type { CostProfile } from "../../src/hardware/profile.js";

/** A minimal cost profile around `ops`, for the cost-model tests. */
export function profile(ops: CostProfile["ops"]): CostProfile {
  return {
    format: "moesim-profile/v1",
    adapter: { vendor: "v", architecture: "a", device: "d", description: "test adapter", isFallbackAdapter: true },
    createdAt: "2025-01-01T00:00:00Z",
    sweep: {},
    ops,
  };
}
