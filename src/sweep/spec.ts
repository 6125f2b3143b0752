import { readFileSync } from "node:fs";
import { basename, dirname, extname, resolve } from "node:path";
import { isNode, type Document, type LineCounter } from "yaml";
import { z } from "zod";
import { UserError } from "../util/errors.js";
import { parseYamlText } from "../util/yaml.js";
import { stableHash } from "./hash.js";
import { checkKeyPath, setPath } from "../util/paths.js";
import type { ParamValue, Params } from "../scenario/sweep-results.js";

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
}

function locator(file: string, doc: Document, lc: LineCounter) {
  return (path: readonly PropertyKey[]): string => {
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

/** Every override key path (set, grid, points) may be a key: none names an object's prototype. */
function checkKeyPaths(s: z.infer<typeof sweepSchema>, locate: (path: readonly PropertyKey[]) => string): void {
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
        if (e instanceof UserError) throw new UserError(`${section}.${k}: ${e.message}`, locate(at));
        throw e;
      }
    }
  }
}

/** Cartesian product in declaration order: the last axis varies fastest. */
function product(grid: Record<string, ParamValue[]>): Params[] {
  let out: Params[] = [{}];
  for (const [k, values] of Object.entries(grid)) out = out.flatMap((p) => values.map((v) => ({ ...p, [k]: v })));
  return out;
}

/** Parses a sweep file's text; every problem is a UserError with file:line:col and the key path. */
export function parseSweep(text: string, file = "<inline>"): SweepSpec {
  const { doc, lineCounter, value: raw } = parseYamlText(text, file);
  const locate = locator(file, doc, lineCounter);
  if (raw === null || typeof raw !== "object" || Array.isArray(raw))
    throw new UserError("a sweep must be a YAML mapping with 'base' and 'grid' or 'points'", `${file}:1:1`);
  const parsed = sweepSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    let path: PropertyKey[] = issue.path;
    let what = issue.message.replace(/^Invalid input: /, "");
    if (issue.code === "unrecognized_keys") {
      path = [...path, issue.keys[0]];
      what = `unknown key '${issue.keys[0]}' (valid: name, description, base, set, grid, points, out)`;
    } else if (path.length === 1 && path[0] === "base" && (raw as Record<string, unknown>).base === undefined) {
      what = "missing required key (a scenario file path, or an inline scenario mapping)";
    } else if (path[0] === "base") {
      what = "expected a scenario file path, or an inline scenario mapping";
    } else if (issue.code === "invalid_type" && issue.input === undefined) {
      what = `missing required key (expected ${issue.expected})`;
    } else if (issue.code === "invalid_key") {
      what = `'${String(path[path.length - 1])}' is not a key path like policies.gating.policy`;
    }
    throw new UserError(`${path.map(String).join(".") || "(top level)"}: ${what}`, locate(path));
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
