/**
 * The trace section: a trace file (read once per unchanged file and options: workload/trace-cache.ts)
 * or a synthetic trace (fitted parameters, or Zipf popularity per topic: workload/topics.ts),
 * checked against the model, whose top-k follows the trace's.
 */
import { existsSync } from "node:fs";
import { moeLayerIndices, type ModelSpec } from "../../workload/model.js";
import type { RoutingTrace } from "../../workload/trace.js";
import { truncateTrace } from "../../workload/read.js";
import { synthesize, loadSynthParams } from "../../workload/synth.js";
import { loadTrace } from "../../workload/load-routing.js";
import { topicSynthParams } from "../../workload/topics.js";
import { cachedTrace } from "../../workload/trace-cache.js";
import { groupsPerToken } from "../../workload/stats.js";
import { UserError } from "../../util/errors.js";
import type { LoadedScenario } from "../load.js";
import { LIMITS } from "../limits.js";
import { at, atAsync, scenarioPath } from "./where.js";

/** The routing trace; sets the model's top-k to the trace's (routing decides top-k). */
export async function resolveTrace(loaded: LoadedScenario, model: ModelSpec): Promise<RoutingTrace> {
  let trace: RoutingTrace;
  const tr = loaded.scenario.trace;
  if (tr.file && tr.synthetic) {
    throw new UserError("trace: give either 'file' or 'synthetic', not both", loaded.locate(["trace"]));
  }
  if (tr.file) {
    if (loaded.scenario.workload.routing === "load")
      refuseLoadRouting(loaded, ["trace", "file"], "a trace file's picks are per token");
    const p = scenarioPath(loaded, tr.file);
    if (!existsSync(p)) throw new UserError(`trace.file: no such file ${p}`, loaded.locate(["trace", "file"]));
    trace = await atAsync(loaded, ["trace", "file"], () =>
      cachedTrace(p, {
        format: tr.format === "auto" ? undefined : tr.format,
        mapping: tr.mapping,
        maxTokens: tr.max_tokens,
        incomplete: tr.incomplete,
      }),
    );
  } else {
    trace = syntheticTrace(loaded, model);
    if (tr.max_tokens !== undefined && tr.max_tokens < trace.tokens) trace = truncateTrace(trace, tr.max_tokens);
  }
  if (trace.tokens === 0)
    throw new UserError("trace: the trace has no tokens; expected at least one", loaded.locate(["trace"]));
  if (trace.experts !== model.experts) {
    const inferred = trace.meta.expertsInferred ? ` (inferred: its largest expert id is ${trace.experts - 1})` : "";
    throw new UserError(
      `the trace has ${trace.experts} experts per layer${inferred} but model '${model.name}' has ${model.experts}; ` +
        "pick a matching model or trace",
      loaded.locate(["trace"]),
    );
  }
  if (tr.group_limit && tr.file) checkGroupLimit(loaded, trace, tr.group_limit);
  if (trace.topK !== model.topK) {
    // Routing decides top-k: the trace wins, and the model follows it.
    model.topK = trace.topK;
  }
  return trace;
}

/**
 * workload.routing: load where something needs token identity: a one-line error at workload.routing naming the key
 * path that needs it and why.
 */
export function refuseLoadRouting(loaded: LoadedScenario, path: (string | number)[], why: string): never {
  throw new UserError(
    `workload.routing: 'load' has no per-token expert picks, but ${path.join(".")} needs them (${why}); ` +
      "use routing: tokens",
    loaded.locate(["workload", "routing"]),
  );
}

/** A trace file's tokens must stay within trace.group_limit's groups. */
function checkGroupLimit(
  loaded: LoadedScenario,
  trace: RoutingTrace,
  lim: { groups: number; top_groups: number },
): void {
  const where = loaded.locate(["trace", "group_limit"]);
  const span = at(loaded, ["trace", "group_limit", "groups"], () => groupsPerToken(trace, lim.groups, lim.top_groups));
  if (span.over_limit > 0) {
    throw new UserError(
      `trace.group_limit: ${span.over_limit} (token, layer) pairs of the trace span more than ${lim.top_groups} of ` +
        `${lim.groups} expert groups (at most ${span.max}); expected top_groups >= ${span.max}, ` +
        `or a trace routed with the limit`,
      where,
    );
  }
}

/** A synthetic trace, within the limits on tokens and expert picks, from fitted or topic parameters. */
function syntheticTrace(loaded: LoadedScenario, model: ModelSpec): RoutingTrace {
  const sc = loaded.scenario;
  const syn = sc.trace.synthetic ?? { sequences: 64, tokens_per_sequence: 32 };
  const maxLen = Array.isArray(syn.tokens_per_sequence) ? syn.tokens_per_sequence[1] : syn.tokens_per_sequence;
  const perToken = Math.max(1, moeLayerIndices(model).length) * model.topK;
  const byLoad = sc.workload.routing === "load";
  // Load-level routing stores no picks: only the token limit applies.
  const maxTokens = byLoad
    ? LIMITS.syntheticTokens
    : Math.min(LIMITS.syntheticTokens, Math.floor(LIMITS.syntheticPicks / perToken));
  if (syn.sequences * maxLen > maxTokens) {
    throw new UserError(
      `trace.synthetic: ${syn.sequences} sequences x up to ${maxLen} tokens is more than the ${maxTokens} synthetic ` +
        `tokens allowed for this model (${perToken} expert picks per token, at ` +
        `most ${LIMITS.syntheticPicks} in all); ` +
        "use fewer sequences or a smaller tokens_per_sequence",
      loaded.locate(["trace", "synthetic"]),
    );
  }
  const seed = `${sc.seed}/trace`;
  const params = at(loaded, ["trace", "synthetic"], () => {
    if (syn.fitted) {
      const f = syn.fitted;
      const path = /[\\/.]/.test(f) ? scenarioPath(loaded, f) : undefined;
      return loadSynthParams(path ?? f);
    }
    return topicSynthParams({
      layers: Math.max(1, moeLayerIndices(model).length),
      experts: model.experts,
      topK: model.topK,
      zipf: syn.zipf ?? 1.0,
      locality: syn.locality ?? 0.3,
      topics: syn.topics ?? 1,
      topicStay: syn.topic_stay ?? 0.9,
      seed: `${sc.seed}/routing`,
    });
  });
  const lim = sc.trace.group_limit;
  const opts = {
    sequences: syn.sequences,
    tokensPerSequence: syn.tokens_per_sequence,
    seed,
    ...(lim ? { groupLimit: { groups: lim.groups, topGroups: lim.top_groups } } : {}),
  };
  if (byLoad) {
    const meta = { source: `synthetic:${params.fittedFrom?.source ?? params.model ?? "params"}` };
    return at(loaded, ["trace", "synthetic", "tokens_per_sequence"], () => loadTrace(params, opts, meta));
  }
  return at(loaded, ["trace", "synthetic", "tokens_per_sequence"], () => synthesize(params, opts));
}
