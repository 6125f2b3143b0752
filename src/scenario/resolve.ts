/**
 * Resolution: a validated scenario -> everything the simulation needs, section by section
 * (sections/: cluster, model, trace, batching, policies), each error a UserError at its place in
 * the scenario file.
 */
import { dirname, join, resolve as resolvePath } from "node:path";
import { fileURLToPath } from "node:url";
import type { ClusterSpec } from "../hardware/devices.js";
import type { ModelSpec } from "../workload/model.js";
import type { RoutingTrace } from "../workload/trace.js";
import { UserError } from "../util/errors.js";
import type { MoeSimConfig } from "../moe/types.js";
import type { LoadedScenario } from "./load.js";
import type { Scenario } from "./schema.js";
import { resolveCluster } from "./sections/cluster.js";
import { resolveModel } from "./sections/model.js";
import { refuseLoadRouting, resolveTrace } from "./sections/trace.js";
import { resolveBatching } from "./sections/batching.js";
import { resolvePolicies, type ResolvedPolicies } from "./sections/policies.js";

/** The project's root (for built-in files such as the shipped synthetic trace). */
export const PROJECT_ROOT = resolvePath(dirname(fileURLToPath(import.meta.url)), "..", "..");

export interface ResolvedScenario {
  scenario: Scenario;
  name: string;
  config: MoeSimConfig;
  clusterSpec: ClusterSpec;
  model: ModelSpec;
  trace: RoutingTrace;
  outputsDir: string;
}

/** Turns a validated scenario into everything the simulation needs: presets, trace, policies. */
export async function resolveScenario(
  loaded: LoadedScenario,
  opts: { name?: string; outDir?: string } = {},
): Promise<ResolvedScenario> {
  const sc = loaded.scenario;
  const fileStem =
    loaded.file === "<inline>" ? "scenario" : loaded.file.replace(/^.*[\\/]/, "").replace(/\.ya?ml$/i, "");
  const name = opts.name ?? sc.name ?? fileStem;
  const { clusterSpec, gpus, cost } = await resolveCluster(loaded);
  const model = resolveModel(loaded);
  const trace = await resolveTrace(loaded, model);
  const w = sc.workload;
  const { steps, continuous } = resolveBatching(loaded, trace);
  const { gating, buffering, placement } = resolvePolicies(loaded, model, gpus, steps !== null);
  if (w.routing === "load") checkLoadRouting(loaded, { gating, buffering, placement });
  const tp = sc.parallelism.tensor;
  if (gpus % tp !== 0 || clusterSpec.node.gpusPerNode % tp !== 0) {
    throw new UserError(
      `parallelism.tensor: ${tp} must divide the GPUs per node ` +
        `(${clusterSpec.node.gpusPerNode}) and the GPUs used (${gpus})`,
      loaded.locate(["parallelism", "tensor"]),
    );
  }
  if (w.overlap !== undefined && w.overlap !== "none" && (tp > 1 || buffering.policy !== null)) {
    throw new UserError(
      `workload.overlap: '${w.overlap}' needs parallelism.tensor 1 and policies.buffering.policy none`,
      loaded.locate(["workload", "overlap"]),
    );
  }
  const outputsDir = opts.outDir ?? sc.outputs.dir ?? join("results", name);
  const config: MoeSimConfig = {
    name,
    clusterSpec,
    gpus,
    cost,
    model,
    trace,
    phase: w.phase,
    steps,
    continuous,
    contextTokens: w.context_tokens,
    maxSteps: w.max_steps,
    gating,
    buffering,
    placement,
    eventLog: sc.outputs.event_log,
    hierarchicalAllToAll: sc.cluster.hierarchical_all_to_all,
    dispatchAlgorithm: sc.cluster.dispatch,
    ...(sc.cluster.dispatch_precision !== undefined ? { dispatchPrecision: sc.cluster.dispatch_precision } : {}),
    networkModel: sc.cluster.network_model,
    // the memory timeline is written (memory.csv) only with outputs.timelines
    memoryTimeline: sc.outputs.timelines,
    tensorParallel: sc.parallelism.tensor,
    ...(w.overlap !== undefined && w.overlap !== "none" ? { overlap: w.overlap } : {}),
  };
  return { scenario: sc, name, config, clusterSpec, model, trace, outputsDir };
}

/**
 * workload.routing: load draws per-expert counts with no token identity: refused (workload/load-routing.ts) where a
 * configured policy needs per-token picks or per-(source GPU, expert) counts.
 */
function checkLoadRouting(loaded: LoadedScenario, p: ResolvedPolicies): void {
  const sc = loaded.scenario;
  const pl = sc.policies.placement;
  if (p.gating.policy.planFromLoads === undefined)
    refuseLoadRouting(
      loaded,
      ["policies", "gating", "policy"],
      `'${p.gating.policy.name}' pads or drops per (source GPU, expert)`,
    );
  if (p.buffering.policy !== null)
    refuseLoadRouting(loaded, ["policies", "buffering", "policy"], "expert caches follow each token's experts");
  if (p.placement.policy.tokenFree !== true)
    refuseLoadRouting(
      loaded,
      ["policies", "placement", "policy"],
      `'${p.placement.policy.name}' reads the trace's load or co-activation`,
    );
  if (pl.replicate_hot > 0)
    refuseLoadRouting(loaded, ["policies", "placement", "replicate_hot"], "a token's copy is chosen per token");
  if (pl.rebalance_every > 0)
    refuseLoadRouting(
      loaded,
      ["policies", "placement", "rebalance_every"],
      "a rebalance reads the recent tokens' picks",
    );
  if (sc.cluster.dispatch?.startsWith("deepep") === true)
    refuseLoadRouting(
      loaded,
      ["cluster", "dispatch"],
      `'${sc.cluster.dispatch}' deduplicates each token's rows per GPU`,
    );
}
