import { UserError } from "./errors.js";

/** Keys that name an object's prototype machinery: merged or set as paths they would write a prototype. */
export const FORBIDDEN_KEYS: readonly string[] = ["__proto__", "constructor", "prototype"];

/** A plain mapping (not null, not an array). */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/**
 * `over` deep-merged onto `base`: mappings merge key by key, anything else in `over` replaces
 * (as a copy); an undefined `over` keeps `base`. Neither input is modified.
 */
export function deepMerge(base: unknown, over: unknown): unknown {
  if (over === undefined) return base;
  if (isPlainObject(base) && isPlainObject(over)) {
    const out: Record<string, unknown> = { ...base };
    for (const [k, v] of Object.entries(over)) {
      if (FORBIDDEN_KEYS.includes(k))
        throw new UserError(`'${k}' is not a scenario key (__proto__, constructor and prototype are refused)`);
      out[k] = deepMerge(out[k], v);
    }
    return out;
  }
  return structuredClone(over);
}
