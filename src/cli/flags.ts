/**
 * The one parser of each kind of command-line value (integers, ranges, integer lists, name lists,
 * choices, fractions, output paths) and the trace-reading options shared by every command that
 * reads a trace. Each error is a UserError naming the flag, what it got and what is valid.
 */
import type { Command } from "commander";
import { UserError, listValues } from "../util/errors.js";
import {
  INCOMPLETE_POLICIES,
  parseMappingSpec,
  TRACE_FORMATS,
  type IncompletePolicy,
  type TraceFormat,
  type TraceReadOptions,
} from "../workload/readers/options.js";

export interface IntBounds {
  min: number;
  /** Inclusive upper bound, with why it is there (for the message). */
  max?: number;
  why?: string;
}

const INT = /^[+-]?\d+$/;

function bounds(b: IntBounds): string {
  return b.max === undefined ? `>= ${b.min}` : `from ${b.min} to ${b.max}${b.why ? ` (${b.why})` : ""}`;
}

/** A flag's value as a whole number within the bounds; otherwise a UserError naming the flag and what it got. */
export function intFlag(flag: string, v: string, b: IntBounds): number {
  const s = v.trim();
  const n = Number(s);
  if (!INT.test(s) || !Number.isSafeInteger(n) || n < b.min || (b.max !== undefined && n > b.max))
    throw new UserError(`${flag}: expected a whole number ${bounds(b)}, got '${v}'`);
  return n;
}

/** `intFlag` for an optional flag: undefined stays undefined. */
export function optionalIntFlag(flag: string, v: string | undefined, b: IntBounds): number | undefined {
  return v === undefined ? undefined : intFlag(flag, v, b);
}

/** "N" or "MIN..MAX" as [min, max] (min <= max), each within the bounds. */
export function rangeFlag(flag: string, v: string, b: IntBounds): [number, number] {
  const parts = v.split("..");
  if (parts.length > 2 || parts.some((p) => !INT.test(p.trim())))
    throw new UserError(`${flag}: expected N or MIN..MAX (whole numbers ${bounds(b)}), got '${v}'`);
  const lo = intFlag(flag, parts[0], b);
  const hi = parts.length === 2 ? intFlag(flag, parts[1], b) : lo;
  if (hi < lo) throw new UserError(`${flag}: '${v}': the first number is above the last; expected MIN..MAX`);
  return [lo, hi];
}

/**
 * A comma list of numbers and ranges ("1..8", "2,4", "3") as sorted distinct numbers, each within
 * the bounds. `maxCount` caps how many values a list may expand to.
 */
export function intListFlag(flag: string, v: string, b: IntBounds & { maxCount?: number }): number[] {
  const out = new Set<number>();
  const parts = v
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (parts.length === 0)
    throw new UserError(`${flag}: expected a number, a range like 1..8 or a comma list, got '${v}'`);
  for (const part of parts) {
    const [lo, hi] = rangeFlag(flag, part, b);
    if (b.maxCount !== undefined && out.size + (hi - lo + 1) > b.maxCount)
      throw new UserError(`${flag}: '${v}' gives more than ${b.maxCount} values; give fewer`);
    for (let s = lo; s <= hi; s++) out.add(s);
  }
  return [...out].sort((x, y) => x - y);
}

/** 'all' or a comma list of names from `valid`, as a list of distinct valid names in the order given. */
export function nameListFlag(flag: string, v: string, valid: readonly string[]): string[] {
  if (v.trim() === "all") return [...valid];
  const names = [
    ...new Set(
      v
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s !== ""),
    ),
  ];
  if (names.length === 0) throw new UserError(`${flag}: expected 'all' or a comma list of ${listValues(valid)}`);
  for (const n of names)
    if (!valid.includes(n)) throw new UserError(`${flag}: unknown name '${n}'; expected 'all' or ${listValues(valid)}`);
  return names;
}

/** One of `valid`. */
export function choiceFlag<T extends string>(flag: string, v: string, valid: readonly T[]): T {
  if (!(valid as readonly string[]).includes(v))
    throw new UserError(`${flag}: expected ${listValues(valid)}, got '${v}'`);
  return v as T;
}

/** A number strictly between `lo` and `hi`. */
export function fractionFlag(flag: string, v: string, lo = 0, hi = 1): number {
  const n = Number(v);
  if (v.trim() === "" || !(n > lo && n < hi))
    throw new UserError(`${flag}: expected a number between ${lo} and ${hi} (exclusive), got '${v}'`);
  return n;
}

/** Trace-reading flags as commander gives them. */
export interface TraceReadFlags {
  format?: string;
  map?: string;
  experts?: string;
  topK?: string;
  maxTokens?: string;
  incomplete?: string;
}

/**
 * Adds the trace-reading options (format, field mapping, experts, top-k, max tokens, incomplete tokens) to a command.
 */
export function traceReadFlags(c: Command): Command {
  return c
    .option("--format <f>", `input format: ${TRACE_FORMATS.join(", ")}`, "auto")
    .option(
      "--map <spec>",
      "field mapping for per-(token, layer) records, e.g. " +
        "seq=problem_id,token=token_idx,layer=layer,experts=experts,weights=gating_probs",
    )
    .option("--experts <n>", "experts per layer (ids at or above it are errors; inferred otherwise)")
    .option("--top-k <n>", "expected top-k (inferred from the first record otherwise)")
    .option("--max-tokens <n>", "read only the first N tokens")
    .option(
      "--incomplete <policy>",
      "tokens without a record for every layer: error (default), drop (left out and reported) or empty " +
        "(kept with no expert picks at the missing layers, reported)",
      "error",
    );
}

function mapFlag(v: string): TraceReadOptions["mapping"] {
  try {
    return parseMappingSpec(v);
  } catch (e) {
    if (e instanceof UserError) throw new UserError(`--map: ${e.message}`);
    throw e;
  }
}

/** The trace-reading flags as reader options. */
export function traceReadOptions(f: TraceReadFlags): TraceReadOptions {
  const pos = { min: 1 };
  return {
    format: choiceFlag<TraceFormat>("--format", f.format ?? "auto", TRACE_FORMATS),
    incomplete: choiceFlag<IncompletePolicy>("--incomplete", f.incomplete ?? "error", INCOMPLETE_POLICIES),
    mapping: f.map !== undefined ? mapFlag(f.map) : undefined,
    experts: optionalIntFlag("--experts", f.experts, { min: 1, max: 65536, why: "expert ids are 16-bit" }),
    topK: optionalIntFlag("--top-k", f.topK, pos),
    maxTokens: optionalIntFlag("--max-tokens", f.maxTokens, pos),
  };
}
