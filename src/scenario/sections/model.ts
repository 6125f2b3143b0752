/** The model section: the model preset with its overrides, type- and range-checked. */
import { getModelPreset, type ModelSpec } from "../../workload/model.js";
import { WEIGHT_FORMATS, type WeightFormat } from "../../workload/weights.js";
import { UserError } from "../../util/errors.js";
import { deepMerge } from "../../util/merge.js";
import type { LoadedScenario } from "../load.js";
import { at } from "./where.js";

/** Integer fields of a ModelSpec and their largest sane value; 0 allowed where marked. */
const MODEL_INT_FIELDS: Record<string, { max: number; zero?: boolean }> = {
  layers: { max: 4096 },
  moeEvery: { max: 4096 },
  firstMoeLayer: { max: 4095, zero: true },
  experts: { max: 65536 },
  topK: { max: 65536 },
  dModel: { max: 1 << 20 },
  dFf: { max: 1 << 22 },
  denseDFf: { max: 1 << 22 },
  sharedExperts: { max: 1024, zero: true },
  sharedDFf: { max: 1 << 22 },
  vocab: { max: 1 << 24 },
  heads: { max: 65536 },
  kvHeads: { max: 65536 },
  headDim: { max: 65536 },
  encoderLayers: { max: 4096 },
  decoderLayers: { max: 4096 },
};
const MODEL_ENUMS: Record<string, readonly string[]> = {
  dtype: ["fp32", "fp16", "bf16", "fp8"],
  activation: ["swiglu", "gelu", "relu"],
};
const MLA_FIELDS = ["qLoraRank", "kvLoraRank", "qkNopeHeadDim", "qkRopeHeadDim", "vHeadDim"];

function checkModelOverrides(loaded: LoadedScenario, base: ModelSpec, over: Record<string, unknown>): void {
  const fail = (k: string, what: string, path: (string | number)[] = ["model", "overrides", k]): never => {
    throw new UserError(`model.overrides.${k}: ${what}`, loaded.locate(path));
  };
  for (const [k, v] of Object.entries(over)) {
    if (
      !(k in base) &&
      !(k in MODEL_INT_FIELDS) &&
      !["capacityFactor", "tiedEmbeddings", "bias", "mla", "routingGroups", "weights"].includes(k)
    ) {
      fail(k, `not a model field; valid: ${Object.keys(base).join(", ")}`);
    }
    const int = MODEL_INT_FIELDS[k];
    if (int) {
      if (!(typeof v === "number" && Number.isInteger(v) && (int.zero ? v >= 0 : v > 0) && v <= int.max)) {
        fail(k, `expected an integer in ${int.zero ? 0 : 1}..${int.max}, got ${JSON.stringify(v) ?? String(v)}`);
      }
    } else if (k === "capacityFactor") {
      if (!(typeof v === "number" && Number.isFinite(v) && v > 0 && v <= 1e6))
        fail(k, `expected a positive number (at most 1e6), got ${JSON.stringify(v)}`);
    } else if (k in MODEL_ENUMS) {
      if (typeof v !== "string" || !MODEL_ENUMS[k].includes(v))
        fail(k, `expected one of ${MODEL_ENUMS[k].join(", ")}, got ${JSON.stringify(v)}`);
    } else if (k === "tiedEmbeddings" || k === "bias") {
      if (typeof v !== "boolean") fail(k, `expected true or false, got ${JSON.stringify(v)}`);
    } else if (k === "name") {
      if (typeof v !== "string" || v === "") fail(k, `expected a non-empty string, got ${JSON.stringify(v)}`);
    } else if (k === "mla") {
      if (v === null || typeof v !== "object" || Array.isArray(v)) fail(k, "expected a mapping of MLA dimensions");
      for (const [f, x] of Object.entries(v as Record<string, unknown>)) {
        if (!MLA_FIELDS.includes(f))
          fail(`${k}.${f}`, `not an MLA field; valid: ${MLA_FIELDS.join(", ")}`, ["model", "overrides", k, f]);
        if (!(typeof x === "number" && Number.isInteger(x) && x > 0 && x <= 65536))
          fail(`${k}.${f}`, `expected an integer in 1..65536, got ${JSON.stringify(x)}`, ["model", "overrides", k, f]);
      }
    } else if (k === "weights") {
      if (v === null || typeof v !== "object" || Array.isArray(v)) fail(k, "expected a mapping { linear, experts }");
      for (const [f, x] of Object.entries(v as Record<string, unknown>)) {
        const at = ["model", "overrides", k, f];
        if (f !== "linear" && f !== "experts") fail(`${k}.${f}`, "not a weights field; valid: linear, experts", at);
        if (typeof x !== "string" || !WEIGHT_FORMATS.includes(x as WeightFormat))
          fail(`${k}.${f}`, `expected one of ${WEIGHT_FORMATS.join(", ")}, got ${JSON.stringify(x)}`, at);
      }
    } else if (k === "published") {
      fail(k, "the published totals of a preset cannot be overridden");
    }
  }
}

/** Checks the merged model: top-k at most the experts, and the layer stacks consistent. */
function checkModel(loaded: LoadedScenario, m: ModelSpec): void {
  const where = loaded.locate(["model", "overrides"]);
  if (m.topK > m.experts)
    throw new UserError(`model: top-k ${m.topK} is more than the ${m.experts} experts per layer`, where);
  if (m.encoderLayers !== undefined || m.decoderLayers !== undefined) {
    if ((m.encoderLayers ?? 0) + (m.decoderLayers ?? 0) !== m.layers) {
      throw new UserError(
        `model: encoderLayers + decoderLayers (${m.encoderLayers ?? 0} + ${m.decoderLayers ?? 0}) ` +
          `must equal layers (${m.layers})`,
        where,
      );
    }
  }
}

/**
 * The model: the preset merged with the checked overrides, as a copy (the top-k is set from the
 * trace afterwards, and the preset object is shared by every run).
 */
export function resolveModel(loaded: LoadedScenario): ModelSpec {
  const sc = loaded.scenario;
  const base = at(loaded, ["model", "preset"], () => getModelPreset(sc.model.preset));
  if (sc.model.overrides) checkModelOverrides(loaded, base, sc.model.overrides);
  const model = { ...(deepMerge(base, sc.model.overrides) as ModelSpec) };
  if (sc.model.overrides) checkModel(loaded, model);
  return model;
}
