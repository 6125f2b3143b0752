import { existsSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, resolve as resolvePath } from "node:path";
import { fileURLToPath } from "node:url";
import { rootStream } from "../sim/rng.js";
import type { ClusterSpec } from "../hardware/devices.js";
import { clusterSpecFrom, getNodePreset } from "../hardware/presets.js";
import { CalibratedCostModel, RooflineCostModel, type CostModel } from "../hardware/cost.js";
import { getModelPreset, moeLayerIndices, type ModelSpec } from "../workload/model.js";
import type { RoutingTrace } from "../workload/trace.js";
import { readTrace } from "../workload/read.js";
import { synthesize, loadSynthParams, zipfSynthParams, type SynthParams } from "../workload/synth.js";
import { ContinuousBatcher, staticBatches } from "../workload/batching.js";
import { getGatingPolicy } from "../policies/gating/index.js";
import { getBufferingPolicy } from "../policies/buffering/index.js";
import { getPlacementPolicy } from "../policies/placement/index.js";
import { UserError } from "../util/errors.js";
import { deepMerge } from "../util/merge.js";
import type { MoeSimConfig } from "../moe/simulate.js";
import type { LoadedScenario } from "./load.js";
import type { Scenario } from "./schema.js";
import { LIMITS } from "./limits.js";

/** The project's root (for built-in files such as the shipped synthetic trace). */
export const PROJECT_ROOT = resolvePath(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Runs `fn`, re-throwing a UserError with the scenario location of `path` in front. */
function at<T>(loaded: LoadedScenario, path: (string | number)[], fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof UserError) {
      const key = path.join(".");
      throw new UserError(`${key}: ${e.message}`, loaded.locate(path));
    }
    throw e;
  }
}

async function atAsync<T>(loaded: LoadedScenario, path: (string | number)[], fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof UserError) throw new UserError(`${path.join(".")}: ${e.message}`, loaded.locate(path));
    throw e;
  }
}

/** Resolves a path given in a scenario: relative to the scenario file's folder. */
export function scenarioPath(loaded: LoadedScenario, p: string): string {
  if (isAbsolute(p)) return p;
  const base = loaded.file === "<inline>" ? process.cwd() : dirname(resolvePath(loaded.file));
  return resolvePath(base, p);
}


export interface ResolvedScenario {
  scenario: Scenario;
  name: string;
  config: MoeSimConfig;
  clusterSpec: ClusterSpec;
  model: ModelSpec;
  trace: RoutingTrace;
  outputsDir: string;
}

const isMapping = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === "object" && !Array.isArray(x);

/**
 * The shape of cluster.overrides against the preset: where the preset has a mapping (gpu, pcie,
 * nic, ...) the override must be a mapping too (nvlink may also be null: no NVLink), and a leaf
 * keeps the preset's type. Numbers are range-checked by the hardware module afterwards.
 */
function checkClusterOverrides(loaded: LoadedScenario, base: unknown, over: Record<string, unknown>, path: string[]): void {
  if (!isMapping(base)) return;
  for (const [k, v] of Object.entries(over)) {
    if (!(k in base)) continue; // the hardware module names the unknown key and the valid ones
    const b = base[k];
    const p = [...path, k];
    const fail = (what: string): never => {
      throw new UserError(`${p.join(".")}: ${what}`, loaded.locate(p));
    };
    if (isMapping(b)) {
      if (v === null && k === "nvlink") continue;
      if (!isMapping(v)) fail(`expected a mapping (the preset's ${k} fields: ${Object.keys(b).join(", ")}), got ${JSON.stringify(v)}`);
      checkClusterOverrides(loaded, b, v as Record<string, unknown>, p);
    } else if (b === null) {
      if (v !== null && !isMapping(v)) fail(`expected a mapping or null, got ${JSON.stringify(v)}`);
    } else if (typeof b !== typeof v) {
      fail(`expected a ${typeof b}, got ${JSON.stringify(v)}`);
    }
  }
}

/** Integer fields of a ModelSpec and their largest sane value; 0 allowed where marked. */
const MODEL_INT_FIELDS: Record<string, { max: number; zero?: boolean }> = {
  layers: { max: 4096 },
  moeEvery: { max: 4096 },
  firstMoeLayer: { max: 4095, zero: true },
  experts: { max: 65536 },
  topK: { max: 65536 },
  dModel: { max: 1 << 20 },
  dFf: { max: 1 << 22 },
  denseDFf: { max: 1 << 22 },
  sharedExperts: { max: 1024, zero: true },
  sharedDFf: { max: 1 << 22 },
  vocab: { max: 1 << 24 },
  heads: { max: 65536 },
  kvHeads: { max: 65536 },
  headDim: { max: 65536 },
  encoderLayers: { max: 4096 },
  decoderLayers: { max: 4096 },
};
const MODEL_ENUMS: Record<string, readonly string[]> = { dtype: ["fp32", "fp16", "bf16", "fp8"], activation: ["swiglu", "gelu", "relu"] };
const MLA_FIELDS = ["qLoraRank", "kvLoraRank", "qkNopeHeadDim", "qkRopeHeadDim", "vHeadDim"];

function checkModelOverrides(loaded: LoadedScenario, base: ModelSpec, over: Record<string, unknown>): void {
  const fail = (k: string, what: string, path: (string | number)[] = ["model", "overrides", k]): never => {
    throw new UserError(`model.overrides.${k}: ${what}`, loaded.locate(path));
  };
  for (const [k, v] of Object.entries(over)) {
    if (!(k in base) && !(k in MODEL_INT_FIELDS) && !["capacityFactor", "tiedEmbeddings", "bias", "mla"].includes(k)) {
      fail(k, `not a model field; valid: ${Object.keys(base).join(", ")}`);
    }
    const int = MODEL_INT_FIELDS[k];
    if (int) {
      if (!(typeof v === "number" && Number.isInteger(v) && (int.zero ? v >= 0 : v > 0) && v <= int.max)) {
        fail(k, `expected an integer in ${int.zero ? 0 : 1}..${int.max}, got ${JSON.stringify(v) ?? String(v)}`);
      }
    } else if (k === "capacityFactor") {
      if (!(typeof v === "number" && Number.isFinite(v) && v > 0 && v <= 1e6)) fail(k, `expected a positive number (at most 1e6), got ${JSON.stringify(v)}`);
    } else if (k in MODEL_ENUMS) {
      if (typeof v !== "string" || !MODEL_ENUMS[k].includes(v)) fail(k, `expected one of ${MODEL_ENUMS[k].join(", ")}, got ${JSON.stringify(v)}`);
    } else if (k === "tiedEmbeddings" || k === "bias") {
      if (typeof v !== "boolean") fail(k, `expected true or false, got ${JSON.stringify(v)}`);
    } else if (k === "name") {
      if (typeof v !== "string" || v === "") fail(k, `expected a non-empty string, got ${JSON.stringify(v)}`);
    } else if (k === "mla") {
      if (v === null || typeof v !== "object" || Array.isArray(v)) fail(k, "expected a mapping of MLA dimensions");
      for (const [f, x] of Object.entries(v as Record<string, unknown>)) {
        if (!MLA_FIELDS.includes(f)) fail(`${k}.${f}`, `not an MLA field; valid: ${MLA_FIELDS.join(", ")}`, ["model", "overrides", k, f]);
        if (!(typeof x === "number" && Number.isInteger(x) && x > 0 && x <= 65536)) fail(`${k}.${f}`, `expected an integer in 1..65536, got ${JSON.stringify(x)}`, ["model", "overrides", k, f]);
      }
    } else if (k === "published") {
      fail(k, "the published totals of a preset cannot be overridden");
    }
  }
}

/** Checks the merged model: top-k at most the experts, and the layer stacks consistent. */
function checkModel(loaded: LoadedScenario, m: ModelSpec): void {
  const where = loaded.locate(["model", "overrides"]);
  if (m.topK > m.experts) throw new UserError(`model: top-k ${m.topK} is more than the ${m.experts} experts per layer`, where);
  if (m.encoderLayers !== undefined || m.decoderLayers !== undefined) {
    if ((m.encoderLayers ?? 0) + (m.decoderLayers ?? 0) !== m.layers) {
      throw new UserError(`model: encoderLayers + decoderLayers (${m.encoderLayers ?? 0} + ${m.decoderLayers ?? 0}) must equal layers (${m.layers})`, where);
    }
  }
}

/** Turns a validated scenario into everything the simulation needs: presets, trace, policies. */
export async function resolveScenario(loaded: LoadedScenario, opts: { name?: string; outDir?: string } = {}): Promise<ResolvedScenario> {
  const sc = loaded.scenario;
  const fileStem = loaded.file === "<inline>" ? "scenario" : loaded.file.replace(/^.*[\\/]/, "").replace(/\.ya?ml$/i, "");
  const name = opts.name ?? sc.name ?? fileStem;

  // Cluster.
  if (sc.cluster.overrides) {
    const preset = at(loaded, ["cluster", "preset"], () => getNodePreset(sc.cluster.preset));
    checkClusterOverrides(loaded, preset, sc.cluster.overrides, ["cluster", "overrides"]);
  }
  const clusterSpec = at(loaded, ["cluster"], () =>
    clusterSpecFrom({
      preset: sc.cluster.preset,
      nodes: sc.cluster.nodes,
      overrides: sc.cluster.overrides,
      fabric: sc.cluster.fabric
        ? { kind: sc.cluster.fabric.kind, latencyNs: sc.cluster.fabric.latency_ns, oversubscription: sc.cluster.fabric.oversubscription }
        : undefined,
    }),
  );
  const totalGpus = clusterSpec.node.gpusPerNode * clusterSpec.nodes;
  if (totalGpus > LIMITS.gpus) {
    throw new UserError(`cluster: ${sc.cluster.nodes} nodes x ${clusterSpec.node.gpusPerNode} GPUs = ${totalGpus} GPUs; at most ${LIMITS.gpus} are supported`, loaded.locate(["cluster"]));
  }
  const gpus = sc.cluster.gpus ?? totalGpus;
  if (gpus > totalGpus) {
    throw new UserError(`cluster.gpus: ${gpus} GPUs asked, but ${sc.cluster.nodes} x ${clusterSpec.node.name} has ${totalGpus}`, loaded.locate(["cluster", "gpus"]));
  }
  const roofline = new RooflineCostModel(clusterSpec.node.gpu, {
    computeEfficiency: sc.cluster.efficiency?.compute,
    memoryEfficiency: sc.cluster.efficiency?.memory,
  });
  let cost: CostModel = roofline;
  if (sc.cluster.profile) {
    const p = scenarioPath(loaded, sc.cluster.profile);
    // (loaded on demand: the profile schema brings zod, which a run without a profile never needs)
    const { loadProfile } = await import("../hardware/profile-schema.js");
    const profile = at(loaded, ["cluster", "profile"], () => loadProfile(p));
    cost = new CalibratedCostModel(profile, roofline);
  }

  // Model.
  const base = at(loaded, ["model", "preset"], () => getModelPreset(sc.model.preset));
  if (sc.model.overrides) checkModelOverrides(loaded, base, sc.model.overrides);
  // A copy: the top-k is set from the trace below, and the preset object is shared by every run.
  const model = { ...(deepMerge(base, sc.model.overrides) as ModelSpec) };
  if (sc.model.overrides) checkModel(loaded, model);

  // Trace.
  let trace: RoutingTrace;
  const tr = sc.trace;
  if (tr.file && tr.synthetic) {
    throw new UserError("trace: give either 'file' or 'synthetic', not both", loaded.locate(["trace"]));
  }
  if (tr.file) {
    const p = scenarioPath(loaded, tr.file);
    if (!existsSync(p)) throw new UserError(`trace.file: no such file ${p}`, loaded.locate(["trace", "file"]));
    trace = await atAsync(loaded, ["trace", "file"], () =>
      cachedTrace(p, { format: tr.format === "auto" ? undefined : tr.format, mapping: tr.mapping, maxTokens: tr.max_tokens }),
    );
  } else {
    const syn = tr.synthetic ?? { sequences: 64, tokens_per_sequence: 32 };
    const maxLen = Array.isArray(syn.tokens_per_sequence) ? syn.tokens_per_sequence[1] : syn.tokens_per_sequence;
    const perToken = Math.max(1, moeLayerIndices(model).length) * model.topK;
    const maxTokens = Math.min(LIMITS.syntheticTokens, Math.floor(LIMITS.syntheticPicks / perToken));
    if (syn.sequences * maxLen > maxTokens) {
      throw new UserError(
        `trace.synthetic: ${syn.sequences} sequences x up to ${maxLen} tokens is more than the ${maxTokens} synthetic tokens allowed for this model (${perToken} expert picks per token, at most ${LIMITS.syntheticPicks} in all); use fewer sequences or a smaller tokens_per_sequence`,
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
    trace = at(loaded, ["trace", "synthetic", "tokens_per_sequence"], () => synthesize(params, { sequences: syn.sequences, tokensPerSequence: syn.tokens_per_sequence, seed }));
    if (tr.max_tokens !== undefined && tr.max_tokens < trace.tokens) trace = truncateTrace(trace, tr.max_tokens);
  }
  if (trace.tokens === 0) throw new UserError("trace: the trace has no tokens; expected at least one", loaded.locate(["trace"]));
  if (trace.experts !== model.experts) {
    throw new UserError(
      `the trace has ${trace.experts} experts per layer${trace.meta.expertsInferred ? ` (inferred: its largest expert id is ${trace.experts - 1})` : ""} but model '${model.name}' has ${model.experts}; pick a matching model or trace`,
      loaded.locate(["trace"]),
    );
  }
  if (trace.topK !== model.topK) {
    // Routing decides top-k: the trace wins, and the model follows it.
    model.topK = trace.topK;
  }

  // Batching.
  const w = sc.workload;
  let steps: Int32Array[] | null = null;
  let continuous: MoeSimConfig["continuous"];
  const rng = rootStream(sc.seed);
  if (w.batching.kind === "static") {
    steps = w.phase === "decode" ? staticBatches(trace, w.batching.batch_size) : prefillSteps(trace, w.batching.batch_size);
  } else {
    if (w.phase !== "decode") {
      throw new UserError(`workload.batching: continuous batching is for the decode phase; use static batching for ${w.phase}`, loaded.locate(["workload", "batching"]));
    }
    const b = w.batching;
    const arrival =
      b.arrival.kind === "poisson"
        ? { kind: "poisson" as const, ratePerS: b.arrival.rate_per_s }
        : b.arrival.kind === "timestamps"
          ? { kind: "timestamps" as const, path: scenarioPath(loaded, b.arrival.file) }
          : { kind: "all-at-once" as const };
    continuous = { batcher: () => new ContinuousBatcher(trace, { maxBatch: b.max_batch, arrival }, rng.child("arrivals")) };
    // Build one now, so that a bad arrival file is reported with its place in the scenario (child
    // streams are derived by name: this draws nothing from the run's streams).
    at(loaded, ["workload", "batching", "arrival"], () => continuous!.batcher());
  }

  // Policies.
  const p = sc.policies;
  const gating = at(loaded, ["policies", "gating", "policy"], () => getGatingPolicy(p.gating.policy));
  const buffering = p.buffering.policy === "none" ? null : at(loaded, ["policies", "buffering", "policy"], () => getBufferingPolicy(p.buffering.policy));
  const placement = at(loaded, ["policies", "placement", "policy"], () => getPlacementPolicy(p.placement.policy));
  const perGpu = Math.ceil(model.experts / gpus);
  if (buffering && p.buffering.slots === undefined) {
    throw new UserError(`policies.buffering.slots: required with policy '${p.buffering.policy}' (expert-cache slots per GPU per MoE layer, 1..${perGpu})`, loaded.locate(["policies", "buffering"]));
  }
  if (buffering?.needsFuture && !steps) {
    throw new UserError(`policies.buffering.policy: '${buffering.name}' needs the future of the trace and works with static batching only`, loaded.locate(["policies", "buffering", "policy"]));
  }
  if (buffering?.needsFuture && p.placement.replicate_hot > 0) {
    throw new UserError(`policies.placement.replicate_hot: not supported together with buffering policy '${buffering.name}'`, loaded.locate(["policies", "placement", "replicate_hot"]));
  }

  const tp = sc.parallelism.tensor;
  if (gpus % tp !== 0 || clusterSpec.node.gpusPerNode % tp !== 0) {
    throw new UserError(
      `parallelism.tensor: ${tp} must divide the GPUs per node (${clusterSpec.node.gpusPerNode}) and the GPUs used (${gpus})`,
      loaded.locate(["parallelism", "tensor"]),
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
    gating: { policy: gating, capacityFactor: p.gating.capacity_factor, blockSize: p.gating.block_size },
    buffering: { policy: buffering, slots: Math.min(p.buffering.slots ?? perGpu, perGpu), pinned: p.buffering.pinned },
    placement: { policy: placement, replicateHot: p.placement.replicate_hot },
    rng,
    eventLog: sc.outputs.event_log,
    hierarchicalAllToAll: sc.cluster.hierarchical_all_to_all,
    networkModel: sc.cluster.network_model,
    // the memory timeline is written (memory.csv) only with outputs.timelines
    memoryTimeline: sc.outputs.timelines,
    tensorParallel: sc.parallelism.tensor,
  };
  return { scenario: sc, name, config, clusterSpec, model, trace, outputsDir };
}

/** Prefill/encode: a step holds every token of `batch` requests (their whole prompts). */
export function prefillSteps(trace: RoutingTrace, batch: number): Int32Array[] {
  const bySeq = new Map<number, number[]>();
  for (let t = 0; t < trace.tokens; t++) {
    const s = trace.seq[t];
    let a = bySeq.get(s);
    if (!a) bySeq.set(s, (a = []));
    a.push(t);
  }
  const seqs = [...bySeq.values()];
  const out: Int32Array[] = [];
  for (let i = 0; i < seqs.length; i += batch) out.push(Int32Array.from(seqs.slice(i, i + batch).flat()));
  return out;
}

function truncateTrace(t: RoutingTrace, n: number): RoutingTrace {
  const per = t.layers * t.topK;
  return {
    ...t,
    tokens: n,
    picks: t.picks.slice(0, n * per),
    seq: t.seq.slice(0, n),
    step: t.step.slice(0, n),
    weights: t.weights?.slice(0, n * per),
  };
}

/**
 * Synthetic routing without a fitted trace: Zipf(s) expert popularity per layer and, with several
 * topics, a different popularity order per topic. Tokens keep their topic with probability
 * topicStay, so experts favoured by the same topic are active together (co-activation) and across
 * layers of a token (cross-layer correlation).
 */
export function topicSynthParams(o: { layers: number; experts: number; topK: number; zipf: number; locality: number; topics: number; topicStay: number; seed: string }): SynthParams {
  const per = Array.from({ length: o.topics }, (_, c) =>
    zipfSynthParams({ layers: o.layers, experts: o.experts, topK: o.topK, zipf: o.zipf, locality: o.locality, seed: `${o.seed}/topic${c}` }),
  );
  return { ...per[0], clusters: o.topics, clusterWeights: new Array(o.topics).fill(1 / o.topics), topicStay: o.topics > 1 ? o.topicStay : 1, inclusion: per.map((p) => p.inclusion[0]) };
}

/**
 * The last trace file read, kept for the next scenario that names the same file unchanged (same
 * size and modification time) with the same options: a sweep's points usually share one trace.
 * Traces are never mutated after reading, so sharing the object is safe.
 */
let lastTrace: { key: string; trace: Promise<RoutingTrace> } | null = null;
function cachedTrace(path: string, opts: Parameters<typeof readTrace>[1]): Promise<RoutingTrace> {
  const st = statSync(path);
  const key = JSON.stringify([path, st.size, st.mtimeMs, opts]);
  if (lastTrace?.key !== key) {
    const trace = readTrace(path, opts);
    lastTrace = { key, trace };
    trace.catch(() => {
      if (lastTrace?.key === key) lastTrace = null;
    });
  }
  return lastTrace.trace;
}
