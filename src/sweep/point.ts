import { parseScenario, type LoadedScenario } from "../scenario/load.js";
import { UserError } from "../util/errors.js";
import { deepMerge } from "../util/merge.js";
import type { SweepPoint, SweepSpec } from "./spec.js";
import type { ParamValue } from "./types.js";

/**
 * Sets a key path ("workload.batching.batch_size", "a.list.0") in a copy-on-write clone, creating
 * missing mappings; an object value is deep-merged over what is there, anything else replaces it.
 */
export function setPath(obj: Record<string, unknown>, path: string, value: ParamValue): Record<string, unknown> {
  const root = structuredClone(obj);
  const parts = path.split(".");
  let cur: Record<string, unknown> | unknown[] = root;
  for (let i = 0; i < parts.length - 1; i++) {
    const k = parts[i];
    const next = Array.isArray(cur) ? cur[Number(k)] : cur[k];
    if (next === null || typeof next !== "object") {
      if (next !== undefined) throw new UserError(`${parts.slice(0, i + 1).join(".")} is ${JSON.stringify(next)}, not a mapping, so ${path} cannot be set`);
      const fresh: Record<string, unknown> = {};
      if (Array.isArray(cur)) cur[Number(k)] = fresh;
      else cur[k] = fresh;
      cur = fresh;
    } else {
      cur = next as Record<string, unknown> | unknown[];
    }
  }
  const last = parts[parts.length - 1];
  if (Array.isArray(cur)) cur[Number(last)] = deepMerge(cur[Number(last)], value);
  else cur[last] = deepMerge(cur[last], value);
  return root;
}

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
  return message.startsWith(spec.baseFile) ? message.slice(spec.baseFile.length).replace(/^(:\d+:\d+)?: /, "") : message;
}

/** Describes a point in messages: "point 3 (policies.gating.policy=static, workload.batching.batch_size=64)". */
export function describePoint(point: SweepPoint): string {
  return `point ${point.index} (${Object.entries(point.params)
    .map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
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
      throw new UserError(`${describePoint(point)}: ${withoutBaseFile(spec, e.message)}`, spec.file);
    }
    throw e;
  }
}
