import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { UserError } from "../util/errors.js";
import {
  checkOutputDir,
  markerFormat,
  markerText,
  outputError,
  removeStaleSiblings,
  RESULTS_MARKER,
  swapIntoPlace,
  tempSibling,
} from "../util/output.js";
import { round, summarize } from "./metrics.js";
import { PHASES, type MoeSimResult } from "./simulate.js";
import { extrapolationNotes, type CostExtrapolation } from "../hardware/cost.js";
import type { WindowRecord } from "./types.js";

export const RESULTS_FORMAT = "moesim-results/v1";

/** The summary written as summary.json and printed by `moesim run --json`. Units are in the names. */
export interface RunSummary {
  format: typeof RESULTS_FORMAT;
  scenario: string;
  seed: number | string;
  cluster: { preset: string; nodes: number; gpus: number; gpu: string; cost_model: string; network_model: string };
  model: string;
  trace: { source: string; tokens: number; layers: number; experts: number; top_k: number };
  policies: { gating: string; buffering: string; slots: number | null; placement: string };
  phase: string;
  steps: number;
  tokens: number;
  simulated_s: number;
  tokens_per_s: number;
  oom: boolean;
  oom_detail: Record<string, unknown> | null;
  step_latency_ms: ReturnType<typeof summarize>;
  request_latency_ms: ReturnType<typeof summarize>;
  phase_breakdown_ms: Record<string, number>;
  phase_share: Record<string, number>;
  memory: {
    capacity_bytes: number;
    peak_bytes_max: number;
    peak_activation_bytes: number;
    peak_by_category_bytes: Record<string, number>;
  };
  load: { max_gpu_share_mean: number; max_gpu_share_worst: number; gpu_tokens: number[] };
  gating: { dropped_tokens: number; padded_rows: number };
  cache: { requests: number; hits: number; misses: number; miss_rate: number; bytes_moved: number } | null;
  inactive_experts_mean: number;
  links_bytes: Record<string, number>;
  /** Periodic EPLB rebalancing, when the scenario asks for it (policies.placement.rebalance_every). */
  rebalance?: MoeSimResult["rebalance"];
  dense_baseline: { step_latency_ms: number; tokens_per_s: number; moe_slowdown: number } | null;
  events: number;
  /** Static batching: the batch size asked and the one used (the trace may hold fewer sequences); null otherwise. */
  batch_size: { requested: number; used: number } | null;
  /** Ops the calibrated cost model predicted outside the shapes its profile measured, and how far (else []). */
  extrapolated: CostExtrapolation[];
  /** What moesim changed or skipped about the input, one sentence each (also printed by `moesim run`). */
  notes: string[];
  results_dir: string;
}

export interface SummaryContext {
  seed: number | string;
  preset: string;
  nodes: number;
  costModel: string;
  /** "flow" or "analytic" (default "flow"). */
  networkModel?: string;
  gpuName: string;
  policies: RunSummary["policies"];
  phase: string;
  traceSource: string;
  traceShape: { tokens: number; layers: number; experts: number; top_k: number };
  model: string;
  resultsDir: string;
  /** The cost model's extrapolations (CostModel.extrapolations) over this run and its dense baseline. */
  costExtrapolations?: CostExtrapolation[];
}

const ms = (ns: number): number => round(ns / 1e6);

export function summarizeRun(r: MoeSimResult, ctx: SummaryContext, dense: MoeSimResult | null): RunSummary {
  const stepLat = r.steps.map((s) => s.latency_ns / 1e6);
  const phaseMs: Record<string, number> = {};
  let total = 0;
  for (const p of PHASES) total += r.phaseTotalsNs[p];
  const share: Record<string, number> = {};
  for (const p of PHASES) {
    phaseMs[p] = ms(r.phaseTotalsNs[p]);
    share[p] = total > 0 ? round(r.phaseTotalsNs[p] / total, 4) : 0;
  }
  const peakCat: Record<string, number> = {};
  let peakMax = 0;
  let peakAct = 0;
  for (const m of r.memory) {
    peakMax = Math.max(peakMax, m.peak_bytes);
    peakAct = Math.max(peakAct, (m.peak_by_category.activations ?? 0) + (m.peak_by_category.all_to_all ?? 0));
    for (const [k, v] of Object.entries(m.peak_by_category)) peakCat[k] = Math.max(peakCat[k] ?? 0, v);
  }
  const gpuTokens = new Array<number>(r.memory.length).fill(0);
  let shareSum = 0;
  let shareMax = 0;
  let dropped = 0;
  let padded = 0;
  for (const s of r.steps) {
    s.gpu_tokens.forEach((t, g) => (gpuTokens[g] += t));
    shareSum += s.max_gpu_share;
    shareMax = Math.max(shareMax, s.max_gpu_share);
    dropped += s.dropped;
    padded += s.padded;
  }
  let cache: RunSummary["cache"] = null;
  if (r.cache) {
    const c = { requests: 0, hits: 0, misses: 0, miss_rate: 0, bytes_moved: 0 };
    for (const x of r.cache) {
      c.requests += x.requests;
      c.hits += x.hits;
      c.misses += x.misses;
      c.bytes_moved += x.bytes_moved;
    }
    c.miss_rate = c.requests > 0 ? round(c.misses / c.requests) : 0;
    cache = c;
  }
  const links: Record<string, number> = {};
  for (const l of r.links) links[l.kind] = (links[l.kind] ?? 0) + l.bytes;
  const inactive = r.inactiveExperts.length
    ? r.inactiveExperts.reduce((a, b) => a + b.mean_inactive, 0) / r.inactiveExperts.length
    : 0;
  const tps = r.simulatedNs > 0 ? r.tokens / (r.simulatedNs / 1e9) : 0;
  let denseOut: RunSummary["dense_baseline"] = null;
  if (dense && dense.steps.length > 0) {
    const dLat = dense.steps.reduce((a, s) => a + s.latency_ns, 0) / dense.steps.length;
    const mLat = r.steps.length ? r.steps.reduce((a, s) => a + s.latency_ns, 0) / r.steps.length : 0;
    denseOut = {
      step_latency_ms: ms(dLat),
      tokens_per_s: round(dense.tokens / (dense.simulatedNs / 1e9)),
      moe_slowdown: dLat > 0 ? round(mLat / dLat, 4) : 0,
    };
  }
  return {
    format: RESULTS_FORMAT,
    scenario: r.name,
    seed: ctx.seed,
    cluster: {
      preset: ctx.preset,
      nodes: ctx.nodes,
      gpus: r.memory.length,
      gpu: ctx.gpuName,
      cost_model: ctx.costModel,
      network_model: ctx.networkModel ?? "flow",
    },
    model: ctx.model,
    trace: { source: ctx.traceSource, ...ctx.traceShape },
    policies: ctx.policies,
    phase: ctx.phase,
    steps: r.completedSteps,
    tokens: r.tokens,
    simulated_s: round(r.simulatedNs / 1e9),
    tokens_per_s: round(tps),
    oom: r.oom !== null,
    oom_detail: r.oom ? { ...r.oom } : null,
    step_latency_ms: roundAll(summarize(stepLat)),
    request_latency_ms: roundAll(summarize(r.requestLatencyNs.map((x) => x / 1e6))),
    phase_breakdown_ms: phaseMs,
    phase_share: share,
    memory: {
      capacity_bytes: r.memory[0]?.capacity_bytes ?? 0,
      peak_bytes_max: peakMax,
      peak_activation_bytes: peakAct,
      peak_by_category_bytes: peakCat,
    },
    load: {
      max_gpu_share_mean: r.steps.length ? round(shareSum / r.steps.length, 4) : 0,
      max_gpu_share_worst: round(shareMax, 4),
      gpu_tokens: gpuTokens,
    },
    gating: { dropped_tokens: dropped, padded_rows: padded },
    cache,
    inactive_experts_mean: round(inactive, 4),
    links_bytes: links,
    ...(r.rebalance ? { rebalance: r.rebalance } : {}),
    dense_baseline: denseOut,
    events: r.events,
    batch_size: null,
    extrapolated: ctx.costExtrapolations ?? [],
    notes: extrapolationNotes(ctx.costExtrapolations ?? []),
    results_dir: ctx.resultsDir,
  };
}

function roundAll<T extends Record<string, number>>(o: T): T {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(o)) out[k] = round(v);
  return out as T;
}

function csv(header: string[], rows: (string | number)[][]): string {
  let s = header.join(",") + "\n";
  for (const r of rows) s += r.join(",") + "\n";
  return s;
}

/** The files of a results directory, by name. */
export function resultFiles(
  r: MoeSimResult,
  summary: RunSummary,
  scenarioJson: unknown,
  timelines: boolean,
): Map<string, string> {
  const files = new Map<string, string>();
  files.set("summary.json", JSON.stringify(summary, null, 2) + "\n");
  files.set("scenario.json", JSON.stringify(scenarioJson, null, 2) + "\n");
  files.set(
    "steps.csv",
    csv(
      [
        "step",
        "start_ns",
        "end_ns",
        "tokens",
        "latency_ns",
        ...PHASES.map((p) => `${p}_ns`),
        "max_gpu_share",
        "cache_hits",
        "cache_misses",
        "dropped_tokens",
        "padded_rows",
      ],
      r.steps.map((s) => [
        s.step,
        s.start_ns,
        s.end_ns,
        s.tokens,
        s.latency_ns,
        ...PHASES.map((p) => s.phases_ns[p]),
        round(s.max_gpu_share, 6),
        s.cache_hits,
        s.cache_misses,
        s.dropped,
        s.padded,
      ]),
    ),
  );
  const loadRows: (string | number)[][] = [];
  for (const s of r.steps) s.gpu_tokens.forEach((t, g) => loadRows.push([s.step, g, t]));
  files.set("load.csv", csv(["step", "gpu", "tokens"], loadRows));
  files.set(
    "inactive.csv",
    csv(
      ["layer", "experts", "mean_inactive"],
      r.inactiveExperts.map((x) => [x.layer, x.experts, round(x.mean_inactive)]),
    ),
  );
  files.set(
    "links.csv",
    csv(
      ["link", "kind", "bytes"],
      r.links.map((l) => [l.link, l.kind, l.bytes]),
    ),
  );
  files.set(
    "memory_peak.csv",
    csv(
      [
        "gpu",
        "capacity_bytes",
        "peak_bytes",
        ...Object.keys(r.memory[0]?.peak_by_category ?? {}).map((c) => `${c}_peak_bytes`),
      ],
      r.memory.map((m) => [m.gpu, m.capacity_bytes, m.peak_bytes, ...Object.values(m.peak_by_category)]),
    ),
  );
  if (r.cache) {
    files.set(
      "cache.csv",
      csv(
        ["gpu", "layer", "requests", "hits", "misses", "bytes_moved"],
        r.cache.map((c) => [c.gpu, c.layer, c.requests, c.hits, c.misses, c.bytes_moved]),
      ),
    );
  }
  files.set(
    "requests.csv",
    csv(
      ["request_latency_ns"],
      r.requestLatencyNs.map((x) => [x]),
    ),
  );
  if (timelines) {
    const rows: (string | number)[][] = [];
    for (const m of r.memory) for (const t of m.timeline) rows.push([t.time_ns, m.gpu, t.category, t.bytes]);
    files.set("memory.csv", csv(["time_ns", "gpu", "category", "bytes"], rows));
  }
  if (r.eventLog !== null) files.set("events.jsonl", r.eventLog);
  windowFiles(files, r.window);
  return files;
}

/** The run's window (window.ts): the first steps' stream intervals and link samples, one layer's dispatch matrix. */
function windowFiles(files: Map<string, string>, o: WindowRecord): void {
  const { window_steps, window_gpus, sample_every, truncated } = o;
  files.set("window.json", JSON.stringify({ window_steps, window_gpus, sample_every, truncated }, null, 2) + "\n");
  files.set(
    "timeline.csv",
    csv(
      ["step", "gpu", "stream", "micro_batch", "layer", "what", "start_ns", "end_ns"],
      o.timeline.map((i) => [i.step, i.gpu, i.stream, i.micro_batch, i.layer, i.what, i.start_ns, i.end_ns]),
    ),
  );
  files.set(
    "link_samples.csv",
    csv(
      ["link", "start_ns", "end_ns", "bytes"],
      o.link_samples.map((l) => [l.link, l.start_ns, l.end_ns, l.bytes]),
    ),
  );
  const d = o.dispatch;
  if (d) {
    const rows: number[][] = [];
    for (let s = 0; s < d.gpus; s++)
      for (let t = 0; t < d.gpus; t++) rows.push([d.step, d.layer, s, t, d.bytes[s * d.gpus + t]]);
    files.set("dispatch.csv", csv(["step", "moe_layer", "src_gpu", "dst_gpu", "bytes"], rows));
  }
}

/** The file names a results folder of `moesim run` holds (report/ is its report). */
const RUN_FILES = new Set([
  "summary.json",
  "scenario.json",
  "steps.csv",
  "load.csv",
  "inactive.csv",
  "links.csv",
  "memory_peak.csv",
  "cache.csv",
  "requests.csv",
  "memory.csv",
  "events.jsonl",
  "timeline.csv",
  "link_samples.csv",
  "dispatch.csv",
  "window.json",
  "report",
]);

/** The file names a results folder of `moesim cache` holds (report/ is its report). */
const CACHE_FILES = new Set(["cache.csv", "cache.json", "cache-missrate.vl.json", "report"]);

/** Whether a folder holds nothing but what an older moesim (before the marker) wrote there: a run's or a cache's. */
function olderResults(dir: string, entries: string[]): boolean {
  const run = entries.includes("summary.json") && entries.every((e) => RUN_FILES.has(e));
  const cache = entries.includes("cache.json") && entries.every((e) => CACHE_FILES.has(e));
  if (!run && !cache) return false;
  if (entries.includes("report")) {
    try {
      if (!readdirSync(join(dir, "report")).every((f) => isReportFile(f))) return false;
    } catch {
      return false;
    }
  }
  return true;
}

/** The names of the files a report folder holds. */
const isReportFile = (f: string): boolean =>
  /^[\w.-]+\.(vl\.json|svg|png)$/.test(f) || f === "report.html" || f === "report.json" || f.startsWith(".");

/**
 * Checks that `dir` may receive a results folder: it does not exist, is empty, or carries moesim's
 * marker with this format tag. With `force`, a folder of an older moesim (only its files, no
 * marker) is replaced too; a folder holding anything else never is.
 */
export function checkResultsTarget(dir: string, format: string, force = false): string {
  const target = checkOutputDir(dir, "results directory");
  if (!existsSync(target)) return target;
  const entries = readdirSync(target).filter((e) => !/^\..*\.(tmp|old)-\d+$/.test(e));
  if (entries.length === 0) return target;
  const tag = markerFormat(target);
  if (tag === format) return target;
  if (tag !== null)
    throw new UserError(
      `results directory ${dir} holds moesim output of another kind (${tag}), not ${format}; choose another with --out`,
    );
  if (force && olderResults(target, entries)) return target;
  const hint = olderResults(target, entries)
    ? "it looks like results of an older moesim: pass --force to replace it, or choose another with --out"
    : "choose another with --out (moesim replaces only folders holding its marker file " + RESULTS_MARKER + ")";
  throw new UserError(`results directory ${dir} exists and was not written by moesim; ${hint}`);
}

/**
 * Writes a results directory atomically: every file, and the marker .moesim-results, goes into a
 * temporary folder beside the target, which then replaces the target in renames. An existing folder
 * is replaced only when moesim wrote it (see checkResultsTarget), so nothing a user put there is
 * lost. Temporary siblings that a killed run left are removed.
 */
export function writeResultsDir(
  dir: string,
  files: Map<string, string | Uint8Array>,
  force = false,
  kind = "run",
): string {
  const target = checkResultsTarget(dir, RESULTS_FORMAT, force);
  removeStaleSiblings(target);
  const tmp = tempSibling(target, "tmp");
  try {
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp);
    for (const [name, data] of files) {
      mkdirSync(dirname(join(tmp, name)), { recursive: true });
      writeFileSync(join(tmp, name), data);
    }
    writeFileSync(join(tmp, RESULTS_MARKER), markerText(RESULTS_FORMAT, kind));
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    outputError(e, dir, "results directory");
  }
  swapIntoPlace(tmp, target, "results directory");
  return target;
}
