/**
 * The layer-time predictor: the time of one MoE layer on the calibrated adapter, composed from the
 * profile's per-op curves (evaluateFit) — pass overhead + gating(tokens) + dispatch shuffle(bytes)
 * + each active expert's FFN at its own token count + empty dispatches of inactive experts +
 * combine(bytes). The lead will later route this through the full simulation.
 */
import { evaluateFit, type CostProfile } from "../hardware/profile.js";
import { UserError } from "../util/errors.js";
import { ffnFlops } from "./kernels/ffn.js";
import type { LayerShape } from "./layer.js";
import type { CalibratedProfile } from "./profile-ext.js";

export interface LayerPrediction {
  totalNs: number;
  parts: {
    passNs: number;
    gatingNs: number;
    dispatchNs: number;
    ffnNs: number;
    idleExpertsNs: number;
    combineNs: number;
  };
}

/** Dispatches of one expert's FFN (up + down). */
const FFN_DISPATCHES = 2;

/**
 * `ffnNs` (optional) gives one expert's FFN time from its token count (a shape model, for a layer
 * shape the profile's expert_ffn curve was not measured at); by default the curve is read.
 */
export function predictLayerNs(
  profile: CostProfile,
  shape: LayerShape,
  counts: readonly number[],
  ffnNs?: (tokens: number) => number,
): LayerPrediction {
  const p = profile as CalibratedProfile;
  const need = (op: "expert_ffn" | "gating" | "shuffle") => {
    const c = p.ops[op];
    if (!c) throw new UserError(`the profile has no "${op}" curve; run 'moesim calibrate' to measure one`, "profile");
    return c.fit;
  };
  const tokens = counts.reduce((a, b) => a + b, 0) / shape.topK;
  const rowBytes = shape.dModel * (shape.dtype === "f16" ? 2 : 4);
  const slotBytes = tokens * shape.topK * rowBytes;
  const launch = p.extraOps?.launch?.fit;
  const passNs = launch ? evaluateFit(launch, 0) : 0;
  const perDispatchNs = launch ? evaluateFit(launch, 1) - passNs : 0;
  const gatingNs = evaluateFit(need("gating"), tokens);
  const dispatchNs = evaluateFit(need("shuffle"), slotBytes);
  const combineNs = evaluateFit(p.extraOps?.combine?.fit ?? need("shuffle"), slotBytes);
  let idle = 0;
  const one =
    ffnNs ?? ((c: number) => evaluateFit(need("expert_ffn"), ffnFlops(c, shape.dModel, shape.dFf, shape.act)));
  let ffnTotal = 0;
  for (const c of counts) {
    if (c > 0) ffnTotal += one(c);
    else idle++;
  }
  const idleExpertsNs = idle * FFN_DISPATCHES * perDispatchNs;
  const parts = { passNs, gatingNs, dispatchNs, ffnNs: ffnTotal, idleExpertsNs, combineNs };
  return { totalNs: Object.values(parts).reduce((a, b) => a + b, 0), parts };
}
