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

export type TraceFormat =
  "auto" | "binary" | "olmoe-jsonl" | "records-jsonl" | "csv" | "vllm-routed-experts" | "sglang-expert-distribution";
export const TRACE_FORMATS: readonly TraceFormat[] = [
  "auto",
  "binary",
  "olmoe-jsonl",
  "records-jsonl",
  "csv",
  "vllm-routed-experts",
  "sglang-expert-distribution",
];

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
  /**
   * Tokens without a record for every MoE layer (real per-(token, layer) dumps miss some):
   * "error" (default) refuses the trace, naming how many and the first few; "drop" leaves those
   * tokens out and reports them in `meta.incomplete`; "empty" keeps them, with no expert picks
   * (NO_EXPERT) at the layers they lack, and reports how many tokens and (token, layer) pairs.
   */
  incomplete?: IncompletePolicy;
}

export type IncompletePolicy = "error" | "drop" | "empty";
export const INCOMPLETE_POLICIES: readonly IncompletePolicy[] = ["error", "drop", "empty"];

/**
 * What a reader did with incomplete tokens under `incomplete: drop` or `empty` (kept in the
 * trace's meta, printed by `trace info` and in run summaries).
 */
export interface IncompleteReport {
  policy: IncompletePolicy;
  /** Tokens left out (drop; 0 under empty). */
  dropped_tokens: number;
  /** Records (or token lines) of those tokens that were read and not used. */
  dropped_records: number;
  /** Tokens kept with no expert picks at some layer (empty). */
  empty_tokens?: number;
  /** (token, layer) pairs filled with no expert picks (empty). */
  empty_layers?: number;
  /** The first few, e.g. "request 3 token 5: no layer 7 (line 12)". */
  first: string[];
}

/** The largest expert count under `incomplete: empty`: id 65535 is NO_EXPERT. */
export const MAX_EXPERTS_WITH_EMPTY = 65535;

/** How many incomplete tokens an error message or report names. */
export const INCOMPLETE_SHOWN = 5;

/**
 * Largest request id or token position a trace may hold: the i32 columns' maximum less one, so
 * that position + 1 (the next token) never overflows. Every reader checks the same range.
 */
export const MAX_POSITION = 2 ** 31 - 2;

/** Checks a header's or meta's expert size: a positive number of bytes, or absent. */
export function checkExpertBytes(v: unknown, key: string, where: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0 || v > 2 ** 53) {
    throw new UserError(
      `${key} must be a positive number of bytes (one expert's weights), got ${JSON.stringify(v)}`,
      where,
    );
  }
  return v;
}

/** What `incomplete: drop` or `empty` did, for the trace's meta: tokens left out, or kept with no experts. */
export function incompleteReport(
  policy: "drop" | "empty",
  n: { tokens: number; records: number; emptyLayers: number; first: string[] },
): IncompleteReport {
  return policy === "empty"
    ? {
        policy,
        dropped_tokens: 0,
        dropped_records: 0,
        empty_tokens: n.tokens,
        empty_layers: n.emptyLayers,
        first: n.first,
      }
    : { policy, dropped_tokens: n.tokens, dropped_records: n.records, first: n.first };
}

/**
 * The policy applied to `n.tokens` incomplete tokens of `n.total` read at once: under `error` the
 * error (at `where.token`, the first one's place), under `drop` the error when nothing would be left
 * (at `where.file`); else the report.
 */
export function applyIncomplete(
  policy: IncompletePolicy,
  n: { tokens: number; total: number; records: number; emptyLayers: number; first: string[] },
  where: { token: string; file: string },
): IncompleteReport {
  if (policy === "error") throw incompleteError(n.tokens, n.total, n.first, where.token);
  if (policy === "drop" && n.tokens === n.total)
    throw new UserError(
      `all ${n.total} tokens have no record for some MoE layer (${n.first.join("; ")}); nothing is left to read`,
      where.file,
    );
  return incompleteReport(policy, n);
}

/** The error for incomplete tokens under `incomplete: error`. */
export function incompleteError(count: number, total: number, first: string[], where: string): UserError {
  return new UserError(
    `${count} of ${total} tokens have no record for some MoE layer ` +
      `(${first.join("; ")}${count > first.length ? "; ..." : ""}); ` +
      "expected one record per (token, layer); pass --incomplete drop (trace.incomplete: drop " +
      "in a scenario) to leave them out, or --incomplete empty to keep them with no experts at the missing layers",
    where,
  );
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
