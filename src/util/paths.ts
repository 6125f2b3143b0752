import { UserError } from "./errors.js";
import { FORBIDDEN_KEYS, deepMerge } from "./merge.js";

/** A value set at a key path: a YAML scalar, or a small list or mapping for a whole subtree. */
export type PathValue = string | number | boolean | null | PathValue[] | { [k: string]: PathValue };

/** The first segment of a key path ("a.__proto__.b") that may not be a key, if any. */
export function forbiddenSegment(path: string): string | undefined {
  return path.split(".").find((s) => FORBIDDEN_KEYS.includes(s));
}

/** Throws a UserError when a key path has a segment that may not be a key. */
export function checkKeyPath(path: string): void {
  const bad = forbiddenSegment(path);
  if (bad !== undefined) {
    throw new UserError(
      `'${bad}' in key path ${path} is not a scenario key (__proto__, constructor and prototype are refused)`,
    );
  }
}

/**
 * Sets a key path ("workload.batching.batch_size", "a.list.0") in a copy-on-write clone, creating
 * missing mappings; an object value is deep-merged over what is there, anything else replaces it.
 */
export function setPath(obj: Record<string, unknown>, path: string, value: PathValue): Record<string, unknown> {
  checkKeyPath(path);
  const root = structuredClone(obj);
  const parts = path.split(".");
  let cur: Record<string, unknown> | unknown[] = root;
  for (let i = 0; i < parts.length - 1; i++) {
    const k = parts[i];
    const next = Array.isArray(cur) ? cur[Number(k)] : cur[k];
    if (next === null || typeof next !== "object") {
      if (next !== undefined) {
        const at = parts.slice(0, i + 1).join(".");
        throw new UserError(`${at} is ${JSON.stringify(next)}, not a mapping, so ${path} cannot be set`);
      }
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
