import { readFileSync } from "node:fs";
import { LineCounter, parseDocument, isNode, type Document } from "yaml";
import type { z } from "zod";
import { UserError, listValues } from "../util/errors.js";
import { scenarioSchema, type Scenario } from "./schema.js";

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

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case "unrecognized_keys":
      return `unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `'${k}'`).join(", ")}`;
    case "invalid_value":
      return `expected one of ${listValues(issue.values.map((v) => JSON.stringify(v)))}`;
    case "invalid_union": {
      const disc = (issue as { note?: string }).note;
      return disc ? `${issue.message} (${disc})` : issue.message;
    }
    default:
      return issue.message.replace(/^Invalid input: /, "");
  }
}

/** Parses and validates scenario YAML text. Every problem is a UserError with file:line:col and the key path. */
export function parseScenario(text: string, file = "<inline>"): LoadedScenario {
  if (text.includes("\u0000")) throw new UserError("not a text file (contains NUL bytes)", file);
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const { line, col } = lc.linePos(e.pos[0]);
    throw new UserError(`invalid YAML: ${e.message.split("\n")[0]}`, `${file}:${line}:${col}`);
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new UserError(`invalid YAML: ${(e as Error).message.split("\n")[0]}`, file);
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new UserError("a scenario must be a YAML mapping with at least 'cluster' and 'model'", `${file}:1:1`);
  }
  const locate = locator(file, doc, lc);
  const parsed = scenarioSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    let path = issue.path as PropertyKey[];
    let what = describeIssue(issue);
    if (issue.code === "unrecognized_keys") {
      path = [...path, issue.keys[0]];
    } else if (issue.code === "invalid_type" && issue.input === undefined) {
      what = `missing required key (expected ${issue.expected})`;
    }
    throw new UserError(`${keyPath(path)}: ${what}`, locate(path as (string | number)[]));
  }
  return { scenario: parsed.data, file, locate };
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
