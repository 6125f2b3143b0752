export { parseSweep, loadSweepFile, parseShard, shardPoints, type SweepSpec, type SweepPoint } from "./spec.js";
export { runSweep, readPoint, pointsDir, type SweepOptions, type SweepRun, type SweepManifest } from "./run.js";
export { mergeSweeps, writeMerged, sweepCsv, pointRows, type MergeResult, type PointRow } from "./merge.js";
export { pointScenario, pointText, describePoint, paramText } from "./point.js";
export { setPath } from "../util/paths.js";
export { progressFor, lineProgress, barProgress, quietProgress, type ProgressSink } from "./progress.js";
export { stableHash, canonicalJson } from "./hash.js";
export { simulatorBuild } from "./build.js";
export type { MergedSweep, PointResult, Params, ParamValue } from "../scenario/sweep-results.js";
