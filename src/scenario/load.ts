import { readFileSync } from "node:fs";
import { UserError } from "../util/errors.js";
import { parseYamlText } from "../util/yaml.js";
import { describeIssue, keyPath, locator } from "./issues.js";
import { scenarioSchema, type Scenario } from "./schema.js";

export { describeValue, keyPath } from "./issues.js";

/**
 * A scenario's validation error: a UserError that also carries the key path it is about, so that a
 * sweep can place a bad override at its line in the sweep file.
 */
export class ScenarioError extends UserError {
  constructor(
    message: string,
    where: string,
    readonly path: readonly PropertyKey[],
  ) {
    super(message, where);
  }
}

export interface LoadedScenario {
  scenario: Scenario;
  /** Path of the YAML file ("<inline>" for text). */
  file: string;
  /** Where each key path is in the file, for later (resolve-time) errors. */
  locate: (path: readonly (string | number)[]) => string;
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
    const { path, what } = describeIssue(parsed.error.issues[0], raw, scenarioSchema);
    throw new ScenarioError(`${keyPath(path)}: ${what}`, locate(path), path);
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
