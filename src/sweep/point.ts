import { parseScenario, ScenarioError, type LoadedScenario } from "../scenario/load.js";
import { UserError } from "../util/errors.js";
import { setPath } from "../util/paths.js";
import type { SweepPoint, SweepSpec } from "./spec.js";
import type { ParamValue } from "../scenario/sweep-results.js";

/** The scenario data of a point: the base with every override applied, outputs trimmed to what a sweep keeps. */
export function pointScenario(spec: SweepSpec, point: SweepPoint): Record<string, unknown> {
  let s = spec.base;
  for (const [k, v] of Object.entries(point.params)) s = setPath(s, k, v);
  return s;
}

/**
 * A point's error without the base scenario's file name (and line:column in the point's generated
 * text, which would mean nothing to the user): the sweep file and the point are named instead.
 */
export function withoutBaseFile(spec: SweepSpec, message: string): string {
  return message.startsWith(spec.baseFile)
    ? message.slice(spec.baseFile.length).replace(/^(:\d+:\d+)?: /, "")
    : message;
}

/** A parameter value as text for tables and messages: scalars as they are, lists and mappings as JSON; absent is "". */
export function paramText(v: ParamValue | undefined): string {
  if (v === undefined) return "";
  return v !== null && typeof v === "object" ? JSON.stringify(v) : String(v);
}

/** Describes a point in messages: "point 3 (policies.gating.policy=static, workload.batching.batch_size=64)". */
export function describePoint(point: SweepPoint): string {
  return `point ${point.index} (${Object.entries(point.params)
    .map(([k, v]) => `${k}=${paramText(v)}`)
    .join(", ")})`;
}

/**
 * Validates a point's scenario through the same parser as a scenario file (on its JSON text), so a
 * bad override reads like a bad scenario: the key path, what was expected and the valid values.
 */
export function pointText(spec: SweepSpec, point: SweepPoint): { text: string; file: string; loaded: LoadedScenario } {
  const text = JSON.stringify(pointScenario(spec, point), null, 2) + "\n";
  try {
    // The file name only places relative paths (trace files) beside the base scenario.
    const loaded = parseScenario(text, spec.baseFile);
    return { text, file: spec.baseFile, loaded };
  } catch (e) {
    if (e instanceof UserError) {
      const where = e instanceof ScenarioError ? spec.locateOverride(point, e.path) : spec.file;
      throw new UserError(`${describePoint(point)}: ${withoutBaseFile(spec, e.message)}`, where);
    }
    throw e;
  }
}
