import { readFileSync } from "node:fs";
import { isNode, type Document, type LineCounter } from "yaml";
import type { z } from "zod";
import { UserError, listValues } from "../util/errors.js";
import { parseYamlText } from "../util/yaml.js";
import { LIMITS, scenarioSchema, type Scenario } from "./schema.js";

export interface LoadedScenario {
  scenario: Scenario;
  /** Path of the YAML file ("<inline>" for text). */
  file: string;
  /** Where each key path is in the file, for later (resolve-time) errors. */
  locate: (path: readonly (string | number)[]) => string;
}

function locator(file: string, doc: Document, lc: LineCounter) {
  return (path: readonly (string | number)[]): string => {
    // Walk up the path until a node with a source range is found.
    for (let n = path.length; n >= 0; n--) {
      const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
      if (isNode(node) && node.range) {
        const { line, col } = lc.linePos(node.range[0]);
        return `${file}:${line}:${col}`;
      }
    }
    return file;
  };
}

export function keyPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return "(top level)";
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join("");
}

/** Why a limit is what it is, for messages. */
const LIMIT_REASONS: Record<string, string> = {
  nodes:
    `the simulator keeps per-GPU-pair link state: ${LIMITS.gpus} GPUs (128 nodes of 8) take ` +
    `about 0.8 GB, 256 nodes 2.5 GB`,
  gpus: "the simulator keeps per-GPU-pair link state: memory grows with the square of the GPUs",
  rate_per_s: "arrival times must stay within the simulated clock's range (whole ns below 2^53, about 104 days)",
};

/** What the union-typed keys accept, for messages. */
const UNION_FORMS: Record<string, string> = {
  tokens_per_sequence: "a positive integer or a list [min, max] of two",
  seed: "an integer or a string",
};

function describeIssue(issue: z.core.$ZodIssue, raw?: unknown): string {
  switch (issue.code) {
    case "unrecognized_keys":
      return `unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `'${k}'`).join(", ")}`;
    case "invalid_value":
      return `expected one of ${listValues(issue.values.map((v) => JSON.stringify(v)))}`;
    case "invalid_union": {
      const disc = (issue as { note?: string }).note;
      if (disc) return `${issue.message} (${disc})`;
      const last = issue.path[issue.path.length - 1];
      const forms = typeof last === "string" ? UNION_FORMS[last] : undefined;
      return (
        `expected ${forms ?? "another kind of value"}, ` +
        `got ${describeValue(raw === undefined ? undefined : valueAt(raw, issue.path))}`
      );
    }
    case "too_big":
    case "too_small": {
      const big = issue.code === "too_big";
      const bound = big ? issue.maximum : issue.minimum;
      const op = big ? (issue.inclusive ? "<=" : "<") : issue.inclusive ? ">=" : ">";
      const last = issue.path[issue.path.length - 1];
      const why = typeof last === "string" ? LIMIT_REASONS[last] : undefined;
      return (
        `too ${big ? "big" : "small"}: expected ${op}${bound}, ` +
        `got ${describeValue(valueAt(raw, issue.path))}${why ? ` (${why})` : ""}`
      );
    }
    default:
      return issue.message.replace(/^Invalid input: /, "");
  }
}

/** The raw (parsed YAML) value at a key path; undefined when absent. */
function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let v = raw;
  for (const p of path) {
    if (v === null || typeof v !== "object" || !Object.prototype.hasOwnProperty.call(v, p)) return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

/** A short description of a YAML value for messages: "a string ('abc')", "NaN", "a list", ... */
export function describeValue(v: unknown): string {
  if (v === undefined) return "nothing";
  if (v === null) return "null (an empty value)";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "number")
    return Number.isNaN(v) ? "NaN" : !Number.isFinite(v) ? (v > 0 ? "infinity" : "-infinity") : String(v);
  if (typeof v === "string") return `a string (${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)})`;
  if (typeof v === "object") return "a mapping";
  if (typeof v === "boolean" || typeof v === "bigint") return `${typeof v} ${v}`;
  return typeof v;
}

/** Parses and validates scenario YAML text. Every problem is a UserError with file:line:col and the key path. */
export function parseScenario(text: string, file = "<inline>"): LoadedScenario {
  const { doc, lineCounter: lc, value: raw } = parseYamlText(text, file);
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new UserError("a scenario must be a YAML mapping with at least 'cluster' and 'model'", `${file}:1:1`);
  }
  const locate = locator(file, doc, lc);
  const parsed = scenarioSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    let path = issue.path;
    let what = describeIssue(issue, raw);
    if (issue.code === "unrecognized_keys") {
      path = [...path, issue.keys[0]];
    } else if (issue.code === "invalid_type") {
      const v = valueAt(raw, path);
      const expected =
        issue.expected === "int"
          ? "an integer"
          : issue.expected === "object"
            ? "a mapping"
            : issue.expected === "array"
              ? "a list"
              : `a ${issue.expected}`;
      what =
        v === undefined && !hasKey(raw, path)
          ? `missing required key (expected ${issue.expected})`
          : `expected ${expected}, got ${describeValue(v)}`;
    }
    throw new UserError(`${keyPath(path)}: ${what}`, locate(path as (string | number)[]));
  }
  return { scenario: parsed.data, file, locate };
}

function hasKey(raw: unknown, path: readonly PropertyKey[]): boolean {
  if (path.length === 0) return true;
  const parent = valueAt(raw, path.slice(0, -1));
  return (
    parent !== null && typeof parent === "object" && Object.prototype.hasOwnProperty.call(parent, path[path.length - 1])
  );
}

export function loadScenarioFile(path: string): LoadedScenario {
  let text: string;
  try {
    const buf = readFileSync(path);
    text = new TextDecoder("utf-8", { fatal: true }).decode(buf);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === "ENOENT") throw new UserError(`no such scenario file`, path);
    if (err.code === "EISDIR") throw new UserError(`is a directory, expected a scenario YAML file`, path);
    if (err instanceof TypeError) throw new UserError(`not valid UTF-8 text`, path);
    throw new UserError(`cannot read: ${err.message}`, path);
  }
  return parseScenario(text, path);
}
