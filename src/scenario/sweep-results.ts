import type { RunSummary } from "../moe/results.js";
import type { PathValue } from "../util/paths.js";

/**
 * The results of a sweep: scenario overrides by key path and the run summary of each point. Both
 * src/sweep (which writes them) and src/report (which draws them) read these types.
 */

/** A parameter value of a sweep point (a YAML scalar, or a small object/array for whole subtrees). */
export type ParamValue = PathValue;

/** Overrides of one point: key path ("policies.gating.policy") -> value. */
export type Params = Record<string, ParamValue>;

export const POINT_FORMAT = "moesim-sweep-point/v1";
export const SWEEP_FORMAT = "moesim-sweep/v1";

/** The file written for one finished point: points/<key>.json. */
export interface PointResult {
  format: typeof POINT_FORMAT;
  sweep: string;
  /** Stable hash of the parameters (the file name). */
  key: string;
  /** Position of the point in the sweep's expansion (grid order); merge sorts by it, then by key. */
  index: number;
  /** Hash of the base scenario: a point file made from another base is stale and re-run. */
  base_hash: string;
  /** The simulator build that made it (src/sweep/build.ts): a point of another build is re-run. */
  build: string;
  params: Params;
  summary: Omit<RunSummary, "results_dir">;
}

/** A merged sweep (sweep.json): every point, sorted by index then key. */
export interface MergedSweep {
  format: typeof SWEEP_FORMAT;
  name: string;
  base_hash: string;
  /** The swept key paths, in the order they were declared. */
  param_keys: string[];
  points: Omit<PointResult, "format" | "sweep" | "base_hash" | "build">[];
}
