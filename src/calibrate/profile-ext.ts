/**
 * What `moesim calibrate` adds to moesim-profile/v1 (all optional, so any reader of the base
 * format still works): `extraOps.combine` (the weighted scatter back to token order, x = bytes
 * read) and `extraOps.launch` (one compute pass with n empty dispatches, x = n: fixedNs is the
 * pass overhead, 1/ratePerS per extra dispatch), and `layer` (the shape used for validation).
 * Every op curve is the op's own time inside a pass: the pass overhead is subtracted.
 */
import type { CostProfile, CurveFit, ProfilePoint } from "../hardware/profile.js";
import type { LayerShape } from "./layer.js";

export interface ExtraCurve {
  unit: "bytes" | "dispatches";
  points: ProfilePoint[];
  fit: CurveFit;
}

export interface CalibratedProfile extends CostProfile {
  extraOps?: { combine?: ExtraCurve; launch?: ExtraCurve };
  /** Tile of the FFN kernel in tokens: expert_ffn is a staircase with this step. */
  ffnTileTokens?: number;
  layer?: LayerShape;
}
