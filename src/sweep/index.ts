export { parseSweep, loadSweepFile, parseShard, shardPoints, type SweepSpec, type SweepPoint } from "./spec.js";
export { runSweep, readPoint, pointsDir, type SweepOptions, type SweepRun, type SweepManifest } from "./run.js";
export { mergeSweeps, writeMerged, sweepCsv, type MergeResult } from "./merge.js";
export { setPath, pointScenario, pointText, describePoint } from "./point.js";
export { progressFor, lineProgress, barProgress, quietProgress, type ProgressSink } from "./progress.js";
export { stableHash, canonicalJson } from "./hash.js";
export type { MergedSweep, PointResult, Params, ParamValue } from "./types.js";
