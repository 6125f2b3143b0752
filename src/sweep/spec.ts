import { readFileSync } from "node:fs";
import { basename, dirname, extname, resolve } from "node:path";
import { z } from "zod";
import { UserError } from "../util/errors.js";
import { parseYamlText } from "../util/yaml.js";
import { stableHash } from "./hash.js";
import { checkKeyPath, setPath } from "../util/paths.js";
import type { ParamValue, Params } from "../scenario/sweep-results.js";
import {
  describeIssue,
  describeValue,
  keyPath as showPath,
  locator,
  valueAt,
  type Locate,
} from "../scenario/issues.js";

/**
 * A sweep file:
 *   name: gating-x-batch            # optional (default: the file's name)
 *   base: ../quickstart.yaml        # a scenario file (relative to this file) or an inline scenario mapping
 *   grid:                           # cartesian product of key path -> values
 *     policies.gating.policy: [static, tutel, dynamic]
 *     workload.batching.batch_size: [8, 16, 32]
 *   set:                            # optional: overrides applied to every point (not swept)
 *     workload.max_steps: 8
 *   points:                         # and/or explicit override sets (each crossed with the grid)
 *     - { policies.placement.policy: greedy }
 *   out: results/sweeps/gating-x-batch   # optional (default results/sweeps/NAME), relative to the working directory
 */
const keyPath = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*(\.([A-Za-z_][A-Za-z0-9_]*|\d+))*$/, "a key path like policies.gating.policy");
const value: z.ZodType<ParamValue> = z.lazy(() =>
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(value), z.record(z.string(), value)]),
);

const sweepSchema = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z0-9._-]+$/, "letters, digits, '.', '_' and '-' only")
      .optional(),
    description: z.string().optional(),
    base: z.union([z.string().min(1), z.record(z.string(), z.unknown())]),
    set: z.record(keyPath, value).optional(),
    grid: z.record(keyPath, z.array(value).min(1, "a grid axis needs at least one value")).optional(),
    points: z.array(z.record(keyPath, value)).min(1).optional(),
    out: z.string().optional(),
  })
  .strict()
  .refine((s) => s.grid !== undefined || s.points !== undefined, {
    message: "a sweep needs 'grid' (key path -> values) or 'points' (a list of override sets)",
    path: ["grid"],
  });

export interface SweepPoint {
  index: number;
  key: string;
  params: Params;
}

export interface SweepSpec {
  name: string;
  /** The sweep file ("<inline>" when given as text). */
  file: string;
  /** The base scenario as plain data (before validation). */
  base: Record<string, unknown>;
  /**
   * Where relative paths in the base scenario are resolved from: the base file (or the sweep file for an inline base).
   */
  baseFile: string;
  baseHash: string;
  paramKeys: string[];
  points: SweepPoint[];
  out: string;
  /**
   * Where the override behind key path `path` of a point's scenario is set in the sweep file
   * ("file:line:col" of its grid value, points entry or set entry; the file when none is), for
   * placing an error in the point's scenario at the override that caused it.
   */
  locateOverride: (point: SweepPoint, path: readonly PropertyKey[]) => string;
}

/** Every override key path (set, grid, points) may be a key: none names an object's prototype. */
function checkKeyPaths(s: z.infer<typeof sweepSchema>, locate: Locate): void {
  const sections: [string, Record<string, unknown>][] = [
    ["set", s.set ?? {}],
    ["grid", s.grid ?? {}],
    ...(s.points ?? []).map((p, i): [string, Record<string, unknown>] => [`points.${i}`, p]),
  ];
  for (const [section, overrides] of sections) {
    for (const k of Object.keys(overrides)) {
      try {
        checkKeyPath(k);
      } catch (e) {
        const at = [...section.split(".").map((x) => (/^\d+$/.test(x) ? Number(x) : x)), k];
        if (e instanceof UserError) throw new UserError(`${showPath(at)}: ${e.message}`, locate(at));
        throw e;
      }
    }
  }
}

/** Whether a YAML value is or holds a NaN or an infinity (which no scenario key takes). */
function hasNonFinite(v: unknown, depth = 0): boolean {
  if (typeof v === "number") return !Number.isFinite(v);
  if (v === null || typeof v !== "object" || depth > 64) return false;
  return Object.values(v).some((x) => hasNonFinite(x, depth + 1));
}

/** What a sweep file's first validation problem means, and its key path (see describeIssue). */
function sweepIssue(
  issue: z.core.$ZodIssue,
  raw: Record<string, unknown>,
): { path: readonly PropertyKey[]; what: string } {
  const path = issue.path;
  if (path.length === 1 && path[0] === "base" && raw.base === undefined)
    return { path, what: "missing required key (a scenario file path, or an inline scenario mapping)" };
  if (path[0] === "base" && issue.code !== "unrecognized_keys")
    return { path, what: "expected a scenario file path, or an inline scenario mapping" };
  if (issue.code === "too_small" && path[0] === "grid") return { path, what: issue.message };
  if (issue.code === "invalid_key")
    return { path, what: `'${String(path[path.length - 1])}' is not a key path like policies.gating.policy` };
  if (issue.code === "invalid_union" && ["set", "grid", "points"].includes(String(path[0]))) {
    const v = valueAt(raw, path);
    const finite = hasNonFinite(v) ? " (numbers must be finite)" : "";
    return {
      path,
      what: `expected a string, number, boolean, null, list or mapping${finite}, got ${describeValue(v)}`,
    };
  }
  return describeIssue(issue, raw, sweepSchema);
}

/** Cartesian product in declaration order: the last axis varies fastest. */
function product(grid: Record<string, ParamValue[]>): Params[] {
  let out: Params[] = [{}];
  for (const [k, values] of Object.entries(grid)) out = out.flatMap((p) => values.map((v) => ({ ...p, [k]: v })));
  return out;
}

/** SweepSpec.locateOverride for a parsed sweep file (gridSize: the points of the grid's product). */
function overrideLocator(
  s: z.infer<typeof sweepSchema>,
  gridSize: number,
  locate: Locate,
  file: string,
): SweepSpec["locateOverride"] {
  return (point, path) => {
    // The longest override key path that is a prefix of `path` (or lies inside it): with `a.b`
    // and `a.b.c` both set, an error at a.b.c.d is the latter's.
    const at = path.map(String);
    const covers = (k: string): boolean => {
      const kp = k.split(".");
      const n = Math.min(kp.length, at.length);
      return n > 0 && kp.slice(0, n).every((seg, i) => seg === at[i]);
    };
    const keys = [...Object.keys(point.params), ...Object.keys(s.set ?? {})];
    const key = keys.filter(covers).sort((x, y) => y.length - x.length)[0];
    if (key === undefined) return file;
    if (!Object.hasOwn(point.params, key)) return locate(["set", key]);
    const list = Math.floor(point.index / gridSize);
    if (s.grid && Object.hasOwn(s.grid, key)) {
      // The point's grid set in mixed radix, the last axis fastest: the value's index on this key's axis.
      let g = point.index % gridSize;
      const axes = Object.entries(s.grid);
      for (let a = axes.length - 1; a >= 0; a--) {
        if (axes[a][0] === key) return locate(["grid", key, g % axes[a][1].length]);
        g = Math.floor(g / axes[a][1].length);
      }
    }
    if (s.points?.[list] && Object.hasOwn(s.points[list], key)) return locate(["points", list, key]);
    return file;
  };
}

/** Parses a sweep file's text; every problem is a UserError with file:line:col and the key path. */
export function parseSweep(text: string, file = "<inline>"): SweepSpec {
  const { doc, lineCounter, value: raw } = parseYamlText(text, file);
  const locate = locator(file, doc, lineCounter);
  if (raw === null || typeof raw !== "object" || Array.isArray(raw))
    throw new UserError("a sweep must be a YAML mapping with 'base' and 'grid' or 'points'", `${file}:1:1`);
  const parsed = sweepSchema.safeParse(raw);
  if (!parsed.success) {
    const { path, what } = sweepIssue(parsed.error.issues[0], raw as Record<string, unknown>);
    throw new UserError(`${showPath(path)}: ${what}`, locate(path));
  }
  const s = parsed.data;
  checkKeyPaths(s, locate);
  const sweepDir = file === "<inline>" ? process.cwd() : dirname(resolve(file));
  let base: Record<string, unknown>;
  let baseFile: string;
  if (typeof s.base === "string") {
    baseFile = resolve(sweepDir, s.base);
    let baseText: string;
    try {
      baseText = readFileSync(baseFile, "utf8");
    } catch (e) {
      throw new UserError(
        `base: cannot read scenario ${s.base} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
        locate(["base"]),
      );
    }
    let b: unknown;
    try {
      b = parseYamlText(baseText, baseFile).value;
    } catch (e) {
      if (e instanceof UserError) throw new UserError(`base: ${e.message}`, locate(["base"]));
      throw e;
    }
    if (b === null || typeof b !== "object" || Array.isArray(b))
      throw new UserError(`base: ${baseFile} is not a scenario mapping`, locate(["base"]));
    base = b as Record<string, unknown>;
  } else {
    base = s.base;
    baseFile = file === "<inline>" ? resolve(sweepDir, "<inline>") : resolve(file);
  }
  // Constant overrides become part of the base: they change every point, so they change its hash.
  for (const [k, v] of Object.entries(s.set ?? {})) {
    try {
      base = setPath(base, k, v);
    } catch (e) {
      if (e instanceof UserError) throw new UserError(`set.${k}: ${e.message}`, locate(["set", k]));
      throw e;
    }
  }
  const gridSets = s.grid ? product(s.grid) : [{}];
  const listSets = s.points ?? [{}];
  const paramKeys: string[] = [];
  for (const set of [...listSets, ...(s.grid ? [s.grid] : [])])
    for (const k of Object.keys(set)) if (!paramKeys.includes(k)) paramKeys.push(k);
  const points: SweepPoint[] = [];
  const seen = new Map<string, number>();
  for (const l of listSets) {
    for (const g of gridSets) {
      const params: Params = {};
      // Parameters in one fixed order (as declared), so equal points hash and print alike.
      for (const k of paramKeys) if (k in l || k in g) params[k] = k in g ? g[k] : l[k];
      const key = stableHash(params);
      const dup = seen.get(key);
      if (dup !== undefined)
        throw new UserError(
          `points: point ${points.length} repeats point ${dup} (${JSON.stringify(params)}); every point must differ`,
          locate(["points"]),
        );
      seen.set(key, points.length);
      points.push({ index: points.length, key, params });
    }
  }
  const name =
    s.name ?? (file === "<inline>" ? "sweep" : basename(file, extname(file)).replace(/[^A-Za-z0-9._-]/g, "_"));
  return {
    name,
    file,
    base,
    baseFile,
    baseHash: stableHash(base),
    paramKeys,
    points,
    out: s.out ?? `results/sweeps/${name}`,
    locateOverride: overrideLocator(s, gridSets.length, locate, file),
  };
}

export function loadSweepFile(path: string): SweepSpec {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new UserError(
      `cannot read sweep file ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  return parseSweep(text, path);
}

/** Parses "--shard i/n" (0 <= i < n; Slurm's SLURM_ARRAY_TASK_ID and Kubernetes' JOB_COMPLETION_INDEX count from 0). */
export function parseShard(s: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(s.trim());
  if (!m) throw new UserError(`--shard: expected i/n such as 0/4, got '${s}'`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || index >= count) throw new UserError(`--shard: expected 0 <= i < n, got ${index}/${count}`);
  return { index, count };
}

/** The points of shard i of n: every n-th point starting at i, so slices are disjoint and balanced. */
export function shardPoints(points: SweepPoint[], shard: { index: number; count: number } | null): SweepPoint[] {
  return shard ? points.filter((p) => p.index % shard.count === shard.index) : points;
}
