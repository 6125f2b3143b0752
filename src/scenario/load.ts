import { readFileSync } from "node:fs";
import { LineCounter, parseDocument, isNode, isScalar, visit, type Document } from "yaml";
import type { z } from "zod";
import { UserError, listValues } from "../util/errors.js";
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
  nodes: `the simulator keeps per-GPU-pair link state: ${LIMITS.gpus} GPUs (128 nodes of 8) take about 0.8 GB, 256 nodes 2.5 GB`,
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
      return `expected ${forms ?? "another kind of value"}, got ${describeValue(raw === undefined ? undefined : valueAt(raw, issue.path as PropertyKey[]))}`;
    }
    case "too_big":
    case "too_small": {
      const big = issue.code === "too_big";
      const bound = big ? issue.maximum : issue.minimum;
      const op = big ? (issue.inclusive ? "<=" : "<") : issue.inclusive ? ">=" : ">";
      const last = issue.path[issue.path.length - 1];
      const why = typeof last === "string" ? LIMIT_REASONS[last] : undefined;
      return `too ${big ? "big" : "small"}: expected ${op}${bound}, got ${describeValue(valueAt(raw, issue.path as PropertyKey[]))}${why ? ` (${why})` : ""}`;
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
  if (typeof v === "number") return Number.isNaN(v) ? "NaN" : !Number.isFinite(v) ? (v > 0 ? "infinity" : "-infinity") : String(v);
  if (typeof v === "string") return `a string (${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)})`;
  if (typeof v === "object") return "a mapping";
  return `${typeof v} ${String(v)}`;
}

/** Nesting beyond this depth is refused before the YAML document is turned into values. */
const MAX_DEPTH = 64;
/** Indentation or open flow brackets beyond these are refused before parsing (the parser recurses). */
const MAX_INDENT = 512;
const MAX_FLOW_DEPTH = 256;

/**
 * A cheap scan before parsing: YAML nested thousands of levels deep (by indentation or by open
 * [ and { brackets) would make the recursive parser overflow its stack or take seconds.
 * Quoted strings and comments are skipped; a stray bracket in a plain value counts, which only
 * matters far beyond any real scenario's depth.
 */
function checkNesting(text: string, file: string): void {
  let depth = 0;
  let line = 1;
  let lineStart = 0;
  let atIndent = true;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) {
      line++;
      lineStart = i + 1;
      atIndent = true;
      continue;
    }
    if (atIndent) {
      if (c === 32) {
        if (i - lineStart >= MAX_INDENT) throw new UserError(`invalid YAML: indented more than ${MAX_INDENT} columns (nested too deeply)`, `${file}:${line}:1`);
        continue;
      }
      atIndent = false;
    }
    if (c === 35 /* # */ && (i === lineStart || text.charCodeAt(i - 1) === 32 || text.charCodeAt(i - 1) === 9)) {
      const nl = text.indexOf("\n", i);
      if (nl < 0) return;
      i = nl - 1;
    } else if (c === 34 /* " */ || c === 39 /* ' */) {
      // Skip a quoted scalar that starts a value (after space, [, {, :, or ,).
      const prev = i === 0 ? 32 : text.charCodeAt(i - 1);
      if (prev === 32 || prev === 91 || prev === 123 || prev === 58 || prev === 44 || prev === 10 || prev === 45) {
        let j = i + 1;
        for (; j < text.length; j++) {
          const d = text.charCodeAt(j);
          if (c === 34 && d === 92) j++;
          else if (d === c) {
            if (c === 39 && text.charCodeAt(j + 1) === 39) j++;
            else break;
          }
        }
        i = j;
      }
    } else if (c === 91 || c === 123) {
      if (++depth > MAX_FLOW_DEPTH) throw new UserError(`invalid YAML: more than ${MAX_FLOW_DEPTH} nested [ or { (nested too deeply)`, `${file}:${line}:${i - lineStart + 1}`);
    } else if ((c === 93 || c === 125) && depth > 0) {
      depth--;
    }
  }
}

/** Parses and validates scenario YAML text. Every problem is a UserError with file:line:col and the key path. */
export function parseScenario(text: string, file = "<inline>"): LoadedScenario {
  if (text.includes("\u0000")) throw new UserError("not a text file (contains NUL bytes)", file);
  checkNesting(text, file);
  const lc = new LineCounter();
  let doc: Document;
  try {
    doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  } catch (e) {
    if (e instanceof RangeError) throw new UserError(`invalid YAML: nested too deeply (${e.message})`, file);
    throw e;
  }
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const { line, col } = lc.linePos(e.pos[0]);
    const msg = /call stack/i.test(e.message) ? "nested too deeply" : e.message.split("\n")[0];
    throw new UserError(`invalid YAML: ${msg}`, `${file}:${line}:${col}`);
  }
  // Mapping keys must be plain scalars, and nesting shallow (a scenario is a few levels deep).
  let tooDeep: { node: unknown } | null = null;
  let complexKey: unknown = null;
  let protoKey: unknown = null;
  visit(doc, {
    Pair(_, pair) {
      if (pair.key !== null && !isScalar(pair.key)) {
        complexKey = pair.key;
        return visit.BREAK;
      }
      if (isScalar(pair.key) && pair.key.value === "__proto__") {
        protoKey = pair.key;
        return visit.BREAK;
      }
    },
    Collection(_, node, path) {
      if (path.length > MAX_DEPTH * 2) {
        tooDeep = { node };
        return visit.BREAK;
      }
    },
  });
  const posOf = (n: unknown): string => {
    if (isNode(n) && n.range) {
      const { line, col } = lc.linePos(n.range[0]);
      return `${file}:${line}:${col}`;
    }
    return file;
  };
  if (complexKey !== null) throw new UserError("invalid YAML: a mapping key must be a plain value, not a list or mapping", posOf(complexKey));
  if (protoKey !== null) throw new UserError("unknown key '__proto__'", posOf(protoKey));
  if (tooDeep !== null) throw new UserError(`invalid YAML: nested more than ${MAX_DEPTH} levels deep`, posOf((tooDeep as { node: unknown }).node));
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    const msg = e instanceof RangeError ? `nested too deeply (${e.message})` : (e as Error).message.split("\n")[0];
    throw new UserError(`invalid YAML: ${msg}`, file);
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new UserError("a scenario must be a YAML mapping with at least 'cluster' and 'model'", `${file}:1:1`);
  }
  const locate = locator(file, doc, lc);
  const parsed = scenarioSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    let path = issue.path as PropertyKey[];
    let what = describeIssue(issue, raw);
    if (issue.code === "unrecognized_keys") {
      path = [...path, issue.keys[0]];
    } else if (issue.code === "invalid_type") {
      const v = valueAt(raw, path);
      const expected = issue.expected === "int" ? "an integer" : issue.expected === "object" ? "a mapping" : issue.expected === "array" ? "a list" : `a ${issue.expected}`;
      what = v === undefined && !hasKey(raw, path) ? `missing required key (expected ${issue.expected})` : `expected ${expected}, got ${describeValue(v)}`;
    }
    throw new UserError(`${keyPath(path)}: ${what}`, locate(path as (string | number)[]));
  }
  return { scenario: parsed.data, file, locate };
}

function hasKey(raw: unknown, path: readonly PropertyKey[]): boolean {
  if (path.length === 0) return true;
  const parent = valueAt(raw, path.slice(0, -1));
  return parent !== null && typeof parent === "object" && Object.prototype.hasOwnProperty.call(parent, path[path.length - 1]);
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
