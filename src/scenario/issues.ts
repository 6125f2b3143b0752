import { isNode, type Document, type LineCounter } from "yaml";
import type { z } from "zod";
import { listValues } from "../util/errors.js";
import { LIMITS } from "./limits.js";

/**
 * How a YAML input's validation problem reads: the key path, file:line:col, what was expected and
 * the valid values. Shared by the scenario loader and the sweep loader, so both speak alike.
 */

/** A function giving "file:line:col" of a key path in a parsed YAML document (the nearest enclosing node's). */
export type Locate = (path: readonly PropertyKey[]) => string;

export function locator(file: string, doc: Document, lc: LineCounter): Locate {
  return (path: readonly PropertyKey[]): string => {
    // Walk up the path until a node with a source range is found.
    for (let n = path.length; n >= 0; n--) {
      const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n) as unknown[], true);
      if (isNode(node) && node.range) {
        const { line, col } = lc.linePos(node.range[0]);
        return `${file}:${line}:${col}`;
      }
    }
    return file;
  };
}

/** A key path as messages show it: "cluster.nodes", "policies.gating.capacity[0]", "(top level)". */
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

/** The raw (parsed YAML) value at a key path; undefined when absent. */
export function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let v = raw;
  for (const p of path) {
    if (v === null || typeof v !== "object" || !Object.prototype.hasOwnProperty.call(v, p)) return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

/** Whether the raw value has the key at the end of `path` (present, even if null). */
export function hasKey(raw: unknown, path: readonly PropertyKey[]): boolean {
  if (path.length === 0) return true;
  const parent = valueAt(raw, path.slice(0, -1));
  return (
    parent !== null && typeof parent === "object" && Object.prototype.hasOwnProperty.call(parent, path[path.length - 1])
  );
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

interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  element?: z.ZodType;
  valueType?: z.ZodType;
  options?: z.ZodType[];
  getter?: () => z.ZodType;
  left?: z.ZodType;
  right?: z.ZodType;
}
const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

/** The object schemas a (wrapped) schema may be for a raw value: unwraps optional, default, pipe, lazy, unions. */
function objectsOf(schema: z.ZodType, raw: unknown, depth = 0): Record<string, z.ZodType>[] {
  if (depth > 32) return [];
  const d = defOf(schema);
  switch (d.type) {
    case "object":
      return [d.shape ?? {}];
    case "optional":
    case "nullable":
    case "default":
    case "prefault":
    case "readonly":
    case "catch":
    case "nonoptional":
      return objectsOf(d.innerType!, raw, depth + 1);
    case "pipe":
      return objectsOf(d.in!, raw, depth + 1);
    case "lazy":
      return objectsOf(d.getter!(), raw, depth + 1);
    case "intersection":
      return [...objectsOf(d.left!, raw, depth + 1), ...objectsOf(d.right!, raw, depth + 1)];
    case "union": {
      const shapes = (d.options ?? []).flatMap((o) => objectsOf(o, raw, depth + 1));
      // A discriminated union: the options whose literal keys match the raw value.
      const matching = shapes.filter((sh) =>
        Object.entries(sh).every(([k, v]) => {
          const vd = defOf(v) as Def & { values?: unknown[] };
          if (vd.type !== "literal" || raw === null || typeof raw !== "object") return true;
          return vd.values?.includes((raw as Record<string, unknown>)[k]) ?? true;
        }),
      );
      return matching.length > 0 ? matching : shapes;
    }
    default:
      return [];
  }
}

/** The schema a key path leads to inside `schema` (through objects, lists and records), or undefined. */
function schemaAt(schema: z.ZodType, raw: unknown, path: readonly PropertyKey[]): z.ZodType | undefined {
  let s: z.ZodType | undefined = schema;
  for (let i = 0; i < path.length && s; i++) {
    const here = valueAt(raw, path.slice(0, i));
    const p = path[i];
    const shapes = objectsOf(s, here);
    const inShape = shapes.find((sh) => typeof p === "string" && Object.prototype.hasOwnProperty.call(sh, p));
    if (inShape) {
      s = inShape[p as string];
      continue;
    }
    let inner: z.ZodType | undefined = s;
    for (let depth = 0; inner && depth < 32; depth++) {
      const d = defOf(inner);
      if (d.type === "array" || d.type === "record") {
        inner = d.type === "array" ? d.element : d.valueType;
        break;
      }
      inner = d.innerType ?? d.in ?? (d.getter ? d.getter() : undefined);
    }
    s = inner;
  }
  return s;
}

/** The keys a mapping at `path` may hold, per the schema and the raw value there (for "unknown key" messages). */
export function validKeysAt(schema: z.ZodType, raw: unknown, path: readonly PropertyKey[]): string[] {
  const at = schemaAt(schema, raw, path);
  if (!at) return [];
  const keys = new Set<string>();
  for (const sh of objectsOf(at, valueAt(raw, path))) for (const k of Object.keys(sh)) keys.add(k);
  return [...keys];
}

/**
 * What a zod issue means for the user, and where: the key path (for an unknown key, the key itself)
 * and a description saying what was expected, what was given and the valid keys or values.
 */
export function describeIssue(
  issue: z.core.$ZodIssue,
  raw: unknown,
  schema?: z.ZodType,
): { path: PropertyKey[]; what: string } {
  const path: PropertyKey[] = [...issue.path];
  switch (issue.code) {
    case "unrecognized_keys": {
      const valid = schema ? validKeysAt(schema, raw, path) : [];
      const what =
        `unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `'${k}'`).join(", ")}` +
        (valid.length > 0 ? ` (valid: ${valid.join(", ")})` : "");
      return { path: [...path, issue.keys[0]], what };
    }
    case "invalid_type": {
      const v = valueAt(raw, path);
      const expected =
        issue.expected === "int"
          ? "an integer"
          : issue.expected === "object" || issue.expected === "record"
            ? "a mapping"
            : issue.expected === "array"
              ? "a list"
              : `a ${issue.expected}`;
      const what =
        v === undefined && !hasKey(raw, path)
          ? `missing required key (expected ${issue.expected === "record" ? "a mapping" : issue.expected})`
          : `expected ${expected}, got ${describeValue(v)}`;
      return { path, what };
    }
    case "invalid_value":
      return { path, what: `expected one of ${listValues(issue.values.map((v) => JSON.stringify(v)))}` };
    case "invalid_union": {
      const disc = (issue as { note?: string }).note;
      if (disc) return { path, what: `${issue.message} (${disc})` };
      const last = path[path.length - 1];
      const forms = typeof last === "string" ? UNION_FORMS[last] : undefined;
      return {
        path,
        what: `expected ${forms ?? "another kind of value"}, got ${describeValue(valueAt(raw, path))}`,
      };
    }
    case "too_big":
    case "too_small": {
      const big = issue.code === "too_big";
      const bound = big ? issue.maximum : issue.minimum;
      const op = big ? (issue.inclusive ? "<=" : "<") : issue.inclusive ? ">=" : ">";
      const last = path[path.length - 1];
      const why = typeof last === "string" ? LIMIT_REASONS[last] : undefined;
      return {
        path,
        what:
          `too ${big ? "big" : "small"}: expected ${op}${bound}, ` +
          `got ${describeValue(valueAt(raw, path))}${why ? ` (${why})` : ""}`,
      };
    }
    default:
      return { path, what: issue.message.replace(/^Invalid input: /, "") };
  }
}
