import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { RunSummary } from "../moe/results.js";
import type { CacheRow } from "../policies/compare.js";
import type { MergedSweep } from "../scenario/sweep-results.js";
import { UserError } from "../util/errors.js";
import { parseCsv } from "../util/csv.js";

/** One row of `moesim cache` results (cache.json): the rows compareCachePolicies writes. */
export type CacheEntry = CacheRow;

export interface MemoryChange {
  time_ns: number;
  gpu: string;
  category: string;
  bytes: number;
}

/** What a report is made from: one of the three kinds of results directory moesim writes. */
export type ReportInput =
  | {
      kind: "run";
      dir: string;
      name: string;
      summary: RunSummary;
      /** steps.csv rows (numbers), for the per-step latency breakdown. */
      steps: Record<string, number>[];
      /** memory.csv (absent when outputs.timelines is off). */
      memory: MemoryChange[] | null;
      links: { link: string; kind: string; bytes: number }[];
      /** load.csv rows (tokens per step per GPU), for the straggler chart. */
      load: { step: number; gpu: number; tokens: number }[];
      /** The run's window (src/moe/window.ts; null if absent): timeline.csv, link_samples.csv, dispatch.csv. */
      timeline: Record<string, string>[] | null;
      linkSamples: { link: string; start_ns: number; end_ns: number; bytes: number }[] | null;
      dispatch: { step: number; moe_layer: number; src_gpu: number; dst_gpu: number; bytes: number }[] | null;
      /** window.json: the window's bounds (null if absent). */
      window: { window_steps: number; window_gpus: number; sample_every: number; truncated: boolean } | null;
    }
  | { kind: "cache"; dir: string; name: string; entries: CacheEntry[] }
  | { kind: "sweep"; dir: string; name: string; sweep: MergedSweep };

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new UserError(`cannot read ${path}: ${(e as Error).message}`);
  }
}

function numericRows(rows: Record<string, string>[]): Record<string, number>[] {
  return rows.map((r) => {
    const o: Record<string, number> = {};
    for (const [k, v] of Object.entries(r)) o[k] = Number(v);
    return o;
  });
}

function optionalCsv(dir: string, name: string): Record<string, string>[] | null {
  const p = join(dir, name);
  return existsSync(p) ? parseCsv(readFileSync(p, "utf8")) : null;
}

function isCacheEntry(x: unknown): x is CacheEntry {
  const o = x as Record<string, unknown>;
  return !!o && typeof o.policy === "string" && typeof o.slots === "number" && typeof o.miss_rate === "number";
}

/**
 * Reads a results directory: a `moesim run` directory (summary.json), a `moesim cache` directory
 * (cache.json) or a merged sweep (sweep.json). Anything else is a UserError naming what was expected.
 */
export function loadReportInput(dirArg: string): ReportInput {
  const dir = resolve(dirArg);
  if (!existsSync(dir)) throw new UserError(`results directory ${dirArg} does not exist`);
  const sweepPath = join(dir, "sweep.json");
  if (existsSync(sweepPath)) {
    const sweep = readJson(sweepPath) as MergedSweep;
    if (sweep?.format !== "moesim-sweep/v1" || !Array.isArray(sweep.points)) {
      throw new UserError(`${sweepPath}: not a merged moesim sweep (expected format "moesim-sweep/v1")`);
    }
    return { kind: "sweep", dir, name: sweep.name, sweep };
  }
  const summaryPath = join(dir, "summary.json");
  if (existsSync(summaryPath)) {
    const summary = readJson(summaryPath) as RunSummary;
    if (summary?.format !== "moesim-results/v1") {
      throw new UserError(
        `${summaryPath}: not a moesim results summary (expected format "moesim-results/v1", ` +
          `got ${JSON.stringify(summary?.format)})`,
      );
    }
    const mem = optionalCsv(dir, "memory.csv");
    return {
      kind: "run",
      dir,
      name: summary.scenario,
      summary,
      steps: numericRows(optionalCsv(dir, "steps.csv") ?? []),
      memory: mem
        ? mem.map((r) => ({ time_ns: Number(r.time_ns), gpu: r.gpu, category: r.category, bytes: Number(r.bytes) }))
        : null,
      links: (optionalCsv(dir, "links.csv") ?? []).map((r) => ({ link: r.link, kind: r.kind, bytes: Number(r.bytes) })),
      load: numericRows(optionalCsv(dir, "load.csv") ?? []).map((r) => ({
        step: r.step,
        gpu: r.gpu,
        tokens: r.tokens,
      })),
      timeline: optionalCsv(dir, "timeline.csv"),
      linkSamples:
        optionalCsv(dir, "link_samples.csv")?.map((r) => ({
          link: r.link,
          start_ns: Number(r.start_ns),
          end_ns: Number(r.end_ns),
          bytes: Number(r.bytes),
        })) ?? null,
      dispatch:
        optionalCsv(dir, "dispatch.csv")?.map((r) => ({
          step: Number(r.step),
          moe_layer: Number(r.moe_layer),
          src_gpu: Number(r.src_gpu),
          dst_gpu: Number(r.dst_gpu),
          bytes: Number(r.bytes),
        })) ?? null,
      window: existsSync(join(dir, "window.json"))
        ? (readJson(join(dir, "window.json")) as NonNullable<Extract<ReportInput, { kind: "run" }>["window"]>)
        : null,
    };
  }
  const cachePath = join(dir, "cache.json");
  if (existsSync(cachePath)) {
    const raw = readJson(cachePath);
    // cache.json is an array of entries, or an object holding one under "results"/"entries".
    const arr = Array.isArray(raw)
      ? raw
      : ((raw as { results?: unknown; entries?: unknown })?.results ?? (raw as { entries?: unknown })?.entries);
    if (!Array.isArray(arr) || !arr.every(isCacheEntry)) {
      throw new UserError(
        `${cachePath}: expected an array of {policy, slots, requests, misses, miss_rate, bytes_moved}`,
      );
    }
    const name =
      (!Array.isArray(raw) && typeof (raw as { name?: unknown }).name === "string"
        ? (raw as { name: string }).name
        : null) ??
      dir.split(/[\\/]/).pop() ??
      "cache";
    return { kind: "cache", dir, name, entries: arr };
  }
  if (existsSync(join(dir, "points"))) {
    throw new UserError(
      `${dirArg} holds sweep points but no merged sweep.json yet; run: moesim merge ${dirArg} [other shard folders]`,
    );
  }
  throw new UserError(
    `${dirArg} is not a moesim results directory: expected summary.json (moesim run), ` +
      `cache.json (moesim cache) or sweep.json (moesim sweep/merge)`,
  );
}
