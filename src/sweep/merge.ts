import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { toCsv } from "../util/csv.js";
import { UserError } from "../util/errors.js";
import { writeFileAtomic } from "../util/fs.js";
import { SPEC_FORMAT, pointsDir, readPoint, type SweepManifest } from "./run.js";
import { SWEEP_FORMAT, type MergedSweep, type Params, type PointResult } from "../scenario/sweep-results.js";

export interface MergeResult {
  sweep: MergedSweep;
  /** Points the manifest expects that no folder holds. */
  missing: number;
  files: Map<string, string>;
}

function readManifest(dir: string): SweepManifest | null {
  const p = join(dir, "sweep-spec.json");
  if (!existsSync(p)) return null;
  try {
    const m = JSON.parse(readFileSync(p, "utf8")) as SweepManifest;
    return m.format === SPEC_FORMAT ? m : null;
  } catch {
    return null;
  }
}

const cell = (v: unknown): string | number | boolean | null =>
  v === null || typeof v !== "object" ? (v as string | number | boolean | null) : JSON.stringify(v);

/** One finished point as `sweep --json` and `merge --json` list it. */
export interface PointRow {
  index: number;
  key: string;
  params: Params;
  tokens_per_s: number;
  oom: boolean;
  step_ms_p50: number;
}

/** The points of a merged sweep as rows (the `points` of `sweep --json` and `merge --json`). */
export function pointRows(s: MergedSweep): PointRow[] {
  return s.points.map((p) => ({
    index: p.index,
    key: p.key,
    params: p.params,
    tokens_per_s: p.summary.tokens_per_s,
    oom: p.summary.oom,
    step_ms_p50: p.summary.step_latency_ms.p50,
  }));
}

/** The merged table: one row per point, parameters first, then the headline metrics. */
export function sweepCsv(s: MergedSweep): string {
  const header = [
    ...s.param_keys,
    "tokens_per_s",
    "oom",
    "step_ms_mean",
    "step_ms_p50",
    "step_ms_p99",
    "peak_bytes_max",
    "peak_activation_bytes",
    "max_gpu_share_mean",
    "cache_miss_rate",
    "steps",
    "tokens",
    "key",
  ];
  const rows = s.points.map((p) => [
    ...s.param_keys.map((k) => cell(p.params[k] ?? null)),
    p.summary.tokens_per_s,
    p.summary.oom,
    p.summary.step_latency_ms.mean,
    p.summary.step_latency_ms.p50,
    p.summary.step_latency_ms.p99,
    p.summary.memory.peak_bytes_max,
    p.summary.memory.peak_activation_bytes,
    p.summary.load.max_gpu_share_mean,
    p.summary.cache ? p.summary.cache.miss_rate : null,
    p.summary.steps,
    p.summary.tokens,
    p.key,
  ]);
  return toCsv(header, rows);
}

/**
 * Joins the points of one or more sweep folders (shards, or a resumed run) into one merged sweep,
 * sorted by point index then key, so the output is byte-identical whatever the number of workers
 * or shards. Folders of different sweeps or base scenarios are refused; a point found twice must
 * be identical in both places.
 */
export function mergeSweeps(dirs: string[]): MergeResult {
  if (dirs.length === 0) throw new UserError("merge: give at least one sweep folder");
  let manifest: SweepManifest | null = null;
  const byKey = new Map<string, { p: PointResult; text: string; dir: string }>();
  for (const d of dirs) {
    const dir = resolve(d);
    const pdir = pointsDir(dir);
    if (!existsSync(pdir))
      throw new UserError(`${d} is not a sweep folder (no points/ inside); give the --out folder of moesim sweep`);
    const m = readManifest(dir);
    if (m) {
      if (manifest && (manifest.name !== m.name || manifest.base_hash !== m.base_hash)) {
        throw new UserError(
          `${d} holds sweep '${m.name}' (base ${m.base_hash}), not '${manifest.name}' ` +
            `(base ${manifest.base_hash}); merge folders of one sweep only`,
        );
      }
      manifest = m;
    }
    for (const f of readdirSync(pdir).sort()) {
      if (!f.endsWith(".json") || f.startsWith(".")) continue;
      const path = join(pdir, f);
      const p = readPoint(path);
      if (!p) throw new UserError(`${path} is not a sweep point result`);
      // stale: made from an older base scenario, re-run by moesim sweep
      if (manifest && p.base_hash !== manifest.base_hash) continue;
      const text = JSON.stringify(p);
      const seen = byKey.get(p.key);
      if (seen && seen.text !== text)
        throw new UserError(
          `point ${p.key} differs between ${seen.dir} and ${d}; were they run from different versions?`,
        );
      byKey.set(p.key, { p, text, dir: d });
    }
  }
  const points = [...byKey.values()]
    .map((x) => x.p)
    .sort((a, b) => a.index - b.index || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const first = points[0];
  const names = new Set(points.map((p) => p.sweep));
  if (names.size > 1)
    throw new UserError(`merge: the folders hold points of several sweeps (${[...names].sort().join(", ")})`);
  const paramKeys = manifest?.param_keys ?? (first ? Object.keys(first.params) : []);
  const sweep: MergedSweep = {
    format: SWEEP_FORMAT,
    name: manifest?.name ?? first?.sweep ?? "sweep",
    base_hash: manifest?.base_hash ?? first?.base_hash ?? "",
    param_keys: paramKeys,
    points: points.map((p) => ({ key: p.key, index: p.index, params: p.params, summary: p.summary })),
  };
  const files = new Map<string, string>();
  files.set("sweep.json", JSON.stringify(sweep, null, 2) + "\n");
  files.set("sweep.csv", sweepCsv(sweep));
  return { sweep, missing: manifest ? Math.max(0, manifest.points - points.length) : 0, files };
}

/** Writes sweep.json and sweep.csv into `out` (each file atomically). */
export function writeMerged(out: string, files: Map<string, string>): string {
  const dir = resolve(out);
  for (const [name, text] of files) writeFileAtomic(join(dir, name), text);
  return dir;
}
