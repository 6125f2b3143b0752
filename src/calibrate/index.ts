/** Public API of src/calibrate (the only module that touches WebGPU). */
export { openGpu, findAdapter, describeAdapter, type GpuContext, type AdapterDescription } from "./gpu.js";
export { calibrate, sweepPlan, type CalibrateOptions } from "./calibrate.js";
export {
  validate,
  calibrateAndValidate,
  LayerBench,
  VALIDATION_TOKENS_FULL,
  VALIDATION_TOKENS_QUICK,
  type ValidationResult,
  type ValidationPoint,
} from "./validate.js";
export { predictLayerNs, type LayerPrediction } from "./predict.js";
export { VALIDATION_LAYER, MoeLayer, type LayerShape } from "./layer.js";
export { routingSample, logitsForPicks, expertCounts, type RoutingSample } from "./routing.js";
export type { CalibratedProfile, ExtraCurve } from "./profile-ext.js";
export { loadProfile } from "./load.js";
export type { FitStatistic } from "./timing.js";
export { transferValidate, transferPlan, TRANSFER_LAYER, type TransferResult } from "./transfer.js";
export { modelSweep, type ModelValidation } from "./model-sweep.js";
