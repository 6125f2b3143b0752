import type { LoadedScenario } from "./load.js";
import { resolveScenario, type ResolvedScenario } from "./resolve.js";
import { resultFiles, summarizeRun, type RunSummary } from "../moe/results.js";
import { simulateMoe, type MoeSimResult } from "../moe/simulate.js";
import { requestTokens } from "../workload/batching.js";

export interface ScenarioRun {
  resolved: ResolvedScenario;
  result: MoeSimResult;
  dense: MoeSimResult | null;
  summary: RunSummary;
  files: Map<string, string>;
}

/**
 * Resolves and simulates a loaded scenario; pure apart from reading the files the scenario names.
 * `files: false` skips building the results files (a sweep point keeps only the summary).
 * `beforeSimulate` runs once the scenario is resolved, before anything is simulated.
 */
export async function runScenario(
  loaded: LoadedScenario,
  opts: { outDir?: string; name?: string; files?: boolean; beforeSimulate?: (r: ResolvedScenario) => void } = {},
): Promise<ScenarioRun> {
  const resolved = await resolveScenario(loaded, opts);
  // e.g. the CLI checks the results folder here, before minutes of simulation, not after.
  opts.beforeSimulate?.(resolved);
  const cfg = resolved.config;
  const result = simulateMoe(cfg);
  let dense: MoeSimResult | null = null;
  if (resolved.scenario.workload.dense_baseline) {
    dense = simulateMoe({
      ...cfg,
      name: `${cfg.name}-dense`,
      denseEquivalent: true,
      buffering: { ...cfg.buffering, policy: null },
      eventLog: false,
    });
  }
  const sc = resolved.scenario;
  const summary = summarizeRun(
    result,
    {
      seed: sc.seed,
      preset: sc.cluster.preset,
      nodes: sc.cluster.nodes,
      costModel: cfg.cost?.name ?? "roofline",
      networkModel: cfg.networkModel ?? "flow",
      gpuName: resolved.clusterSpec.node.gpu.name,
      policies: {
        gating: cfg.gating.policy.name,
        buffering: cfg.buffering.policy?.name ?? "none",
        slots: cfg.buffering.policy ? cfg.buffering.slots : null,
        placement: cfg.placement.policy.name,
      },
      phase: cfg.phase,
      traceSource: String(resolved.trace.meta.source ?? "unknown"),
      traceShape: {
        tokens: resolved.trace.tokens,
        layers: resolved.trace.layers,
        experts: resolved.trace.experts,
        top_k: resolved.trace.topK,
      },
      model: resolved.model.name,
      resultsDir: resolved.outputsDir,
      costExtrapolations: cfg.cost?.extrapolations?.(),
    },
    dense,
  );
  const inc = resolved.trace.meta.incomplete;
  if (inc && inc.dropped_tokens > 0)
    summary.notes.push(
      `trace.incomplete: drop left out ${inc.dropped_tokens} tokens without a record for ` +
        `every MoE layer (${inc.dropped_records} ` +
        `records): ${inc.first.join("; ")}${inc.dropped_tokens > inc.first.length ? "; ..." : ""}`,
    );
  if (inc && (inc.empty_tokens ?? 0) > 0)
    summary.notes.push(
      `trace.incomplete: empty kept ${inc.empty_tokens} tokens without a record for every MoE layer, ` +
        `with no experts at ${inc.empty_layers} (token, layer) pairs: ${inc.first.join("; ")}` +
        `${inc.empty_tokens! > inc.first.length ? "; ..." : ""}`,
    );
  const b = sc.workload.batching;
  if (b.kind === "static") {
    const sequences = requestTokens(resolved.trace).tokens.length;
    const used = Math.min(b.batch_size, sequences);
    summary.batch_size = { requested: b.batch_size, used };
    if (used < b.batch_size) {
      summary.notes.push(
        `workload.batching.batch_size: ${b.batch_size} asked, but the trace holds ${sequences} ` +
          `sequences: every batch has at most ${used}`,
      );
    }
  }
  const files =
    opts.files === false
      ? new Map<string, string>()
      : resultFiles(result, summary, { name: resolved.name, scenario: sc }, sc.outputs.timelines);
  return { resolved, result, dense, summary, files };
}
