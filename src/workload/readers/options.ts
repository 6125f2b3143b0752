import { UserError } from "../../util/errors.js";

/** Field names of per-(token, layer) records, e.g. problem_id/token_idx/layer/experts/gating_probs. */
export interface FieldMapping {
  /** Request (sequence) id field. */
  seq: string;
  /** Token position field (within its request). */
  token: string;
  /** MoE layer field. */
  layer: string;
  /** Expert ids (an array, or one id for top-1; in CSV a list like "3 7" or columns experts_0..). */
  experts: string;
  /** Router weights, same shape as experts (optional). */
  weights?: string;
}

export const DEFAULT_MAPPING: FieldMapping = {
  seq: "seq",
  token: "token",
  layer: "layer",
  experts: "experts",
  weights: "weights",
};

/** The mapping of the common per-(token, layer) layout {"problem_id","layer","token_idx","experts","gating_probs"}. */
export const PROBLEM_ID_MAPPING: FieldMapping = {
  seq: "problem_id",
  token: "token_idx",
  layer: "layer",
  experts: "experts",
  weights: "gating_probs",
};

export type TraceFormat = "auto" | "binary" | "olmoe-jsonl" | "records-jsonl" | "csv";
export const TRACE_FORMATS: readonly TraceFormat[] = ["auto", "binary", "olmoe-jsonl", "records-jsonl", "csv"];

export interface TraceReadOptions {
  /** Default "auto": by magic bytes, then by the first line's shape, then by extension. */
  format?: TraceFormat;
  /** Field mapping for per-(token, layer) JSONL and CSV (missing keys take the defaults). */
  mapping?: Partial<FieldMapping>;
  /** Experts per layer; ids at or above it are errors. Inferred (max id + 1) when neither given nor in a header. */
  experts?: number;
  /** Expected top-k; inferred from the first record otherwise. */
  topK?: number;
  /** Expected MoE layers; inferred otherwise. */
  layers?: number;
  /** Keep only the first N tokens (in the trace's token order). */
  maxTokens?: number;
  /** Model name recorded in the trace's meta. */
  model?: string;
}

/** Parses "seq=problem_id,token=token_idx,..." into a mapping. */
export function parseMappingSpec(spec: string): Partial<FieldMapping> {
  const out: Partial<FieldMapping> = {};
  const keys = ["seq", "token", "layer", "experts", "weights"] as const;
  for (const part of spec.split(",")) {
    const p = part.trim();
    if (p === "") continue;
    const eq = p.indexOf("=");
    const k = (eq < 0 ? "" : p.slice(0, eq).trim()) as (typeof keys)[number];
    if (!keys.includes(k)) {
      throw new UserError(`bad field mapping entry '${p}'; expected KEY=FIELD with KEY one of ${keys.join(", ")}`);
    }
    out[k] = p.slice(eq + 1).trim();
  }
  return out;
}
