/**
 * Micro-batch overlap (two-batch overlap as SGLang runs it and DeepSeek's profile data shows it):
 * a step's tokens split into micro-batches that go through the layers one after another, so that
 * one micro-batch's attention or experts compute while another's dispatch or combine is on the
 * wire. Each GPU has a compute stream and a communication stream: a compute stage takes each
 * GPU's compute stream for that GPU's time, first come first served; a collective takes the
 * communication streams (all GPUs' at once: it spans them all) and runs on the link model. Nothing
 * here is a max() of two totals: the step ends when the simulation of these streams does.
 *
 * The costs of a micro-batch are those of the ordinary step for its tokens (step.ts's parts run on
 * them first, and each stage's per-GPU time is what they add to the GPU's busy time), so the
 * overlap costs the smaller batches' lower efficiency. Not with tensor parallelism or buffering.
 */
import type { ProcessGenerator, SimEvent, Simulation } from "../sim/engine.js";
import type { Resource } from "../sim/resource.js";
import type { Cluster } from "../hardware/cluster.js";
import type { ExchangePhase, GatingPlan } from "../policies/gating/index.js";
import { denseParts, headNs } from "./dense.js";
import { a2a, countsMatrix, exchangePhase } from "./exchange.js";
import { expertCompute } from "./experts.js";
import { gateLayer } from "./gating.js";
import { free } from "./memory.js";
import { PhaseTimes, type OverlapState, type Run } from "./state.js";
import { assignTokens, beginStep, endStep, oomStops } from "./step.js";
import type { OverlapRecord } from "./types.js";

/** One stage of a micro-batch: compute with each GPU's time, or a collective started when its turn comes. */
export type Stage =
  | { kind: "compute"; layer: number; what: string; ns: Float64Array }
  | { kind: "comm"; layer: number; what: string; start: () => SimEvent<void> };

/** The streams the stages run on, and where intervals go (null: not recorded). */
export interface Streams {
  sim: Simulation;
  computeFree: Float64Array;
  comm: Resource;
  /** Records an interval of GPU g's stream (g = -1: every GPU's communication stream). */
  record: ((mb: number, st: Stage, g: number, t0: number, t1: number) => void) | null;
  /** Called when a collective ends. */
  afterComm: (() => void) | null;
}

/** One micro-batch's stages in order, on the streams. */
export function* runMicroBatch(streams: Streams, mb: number, stages: Stage[]): ProcessGenerator<void> {
  const { sim, computeFree } = streams;
  for (const st of stages) {
    const now = sim.now;
    if (st.kind === "compute") {
      let end = now;
      for (let g = 0; g < computeFree.length; g++) {
        const d = st.ns[g];
        if (!(d > 0)) continue;
        const t0 = Math.max(now, computeFree[g]);
        const t1 = t0 + d;
        computeFree[g] = t1;
        if (t1 > end) end = t1;
        streams.record?.(mb, st, g, t0, t1);
      }
      if (end > now) yield end - now;
      continue;
    }
    yield streams.comm.request();
    const t0 = sim.now;
    yield st.start();
    streams.comm.release();
    streams.record?.(mb, st, -1, t0, sim.now);
    streams.afterComm?.();
  }
}

/** The step with micro-batch overlap (Run.ov set); see the file's comment. */
export function* overlapStep(run: Run, stepIdx: number, tokens: Int32Array): ProcessGenerator<void> {
  yield* oomStops(run, stepIdx, overlapBody(run, stepIdx, tokens));
}

function* overlapBody(run: Run, stepIdx: number, tokens: Int32Array): ProcessGenerator<void> {
  const { c, s, t } = run;
  const ov = run.ov!;
  const start = c.sim.now;
  const phases = new PhaseTimes();
  beginStep(c, s, tokens); // the whole batch's memory, and the step's counters
  const n = tokens.length;
  const M = ov.microBatches;
  const parts: Stage[][] = [];
  for (let mb = 0; mb < M; mb++) {
    const part = tokens.subarray(Math.floor((mb * n) / M), Math.floor(((mb + 1) * n) / M));
    if (part.length > 0) parts.push(microBatchStages(run, stepIdx, parts.length, part, phases));
  }
  // the output head, for the whole batch once the micro-batches are through
  assignTokens(c, s, tokens);
  const busy0 = Float64Array.from(t.gpuBusy);
  phases.dense += headNs(c, s, t);
  const head: Stage = { kind: "compute", layer: -1, what: "head", ns: busyDiff(t.gpuBusy, busy0) };
  const streams = makeStreams(run, ov, stepIdx);
  ov.computeFree.fill(c.sim.now);
  const procs = parts.map((stages, mb) => c.sim.process(runMicroBatch(streams, mb, stages), "micro_batch"));
  yield c.sim.allOf(procs);
  yield* runMicroBatch(streams, 0, [head]);
  attribute(phases, c.sim.now - start);
  endStep(c, s, t, stepIdx, tokens, start, phases);
}

/**
 * A micro-batch's stages, its costs computed now: per layer attention (+ the dense FFN, or the
 * gate), then on MoE layers the plan's exchange phases, expert compute and the combine. The
 * slowest GPU's time of each compute part goes to `phases` (attribute() fits them to the step).
 */
function microBatchStages(run: Run, stepIdx: number, mb: number, part: Int32Array, phases: PhaseTimes): Stage[] {
  const { c, s, x, t } = run;
  assignTokens(c, s, part);
  const stages: Stage[] = [];
  for (let l = 0; l < c.nLayers; l++) {
    const moe = c.layers[l].moe && !c.denseEq;
    let busy0 = Float64Array.from(t.gpuBusy);
    denseParts(c, s, t, l, moe);
    phases.attention += s.cur.attnMax;
    if (!moe) {
      phases.dense += s.cur.denseMax;
      stages.push({ kind: "compute", layer: l, what: "attention+dense", ns: busyDiff(t.gpuBusy, busy0) });
      continue;
    }
    const j = c.moeIndexOf[l];
    const { plan } = gateLayer(c, s, x, t, j, part);
    phases.gating += s.cur.gateMax;
    stages.push({ kind: "compute", layer: l, what: "attention+gate", ns: busyDiff(t.gpuBusy, busy0) });
    // the plan's arrays are reused by the next layer's plan: the collectives get copies
    const send = Float64Array.from(plan.sendBytes);
    const record = run.ov!.record;
    if (record.dispatch === null && mb === 0) {
      record.dispatch = { step: stepIdx, layer: j, gpus: c.D, bytes: Array.from(send) };
    }
    for (const phase of plan.exchange) stages.push(exchangeStage(run, l, plan, phase, send));
    busy0 = Float64Array.from(t.gpuBusy);
    expertCompute(c, s, x, t, plan, null, 0);
    phases.expert_compute += s.cur.critCompute;
    stages.push({ kind: "compute", layer: l, what: "experts", ns: busyDiff(t.gpuBusy, busy0) });
    const back = transpose(send, c.D).map((b) => b * (c.combineTokenBytes / c.tokenBytes)); // combine-precision rows
    stages.push({ kind: "comm", layer: l, what: "combine", start: () => a2a(c, back) });
    // the dispatch buffers: counted while the micro-batch's costs are worked out, not over the overlap
    for (let g = 0; g < c.D; g++) free(c, g, "all_to_all", plan.bufferBytesPerGpu[g]);
    x.lastPlan = plan;
  }
  return stages;
}

/** A collective of the plan's exchange; reads nothing of the plan (whose arrays the next layer reuses) later. */
function exchangeStage(run: Run, l: number, plan: GatingPlan, phase: ExchangePhase, send: Float64Array): Stage {
  const { c, x } = run;
  if (phase === "dispatch") return { kind: "comm", layer: l, what: "dispatch", start: () => a2a(c, send) };
  if (phase === "counts") {
    const counts = countsMatrix(c, x, plan.expertRows.length);
    return { kind: "comm", layer: l, what: "counts", start: () => a2a(c, counts) };
  }
  // (exchangePhase reads the plan for dispatch and counts only)
  return { kind: "comm", layer: l, what: phase, start: () => exchangePhase(c, x, plan, phase) };
}

/** The streams of an overlap run; intervals and link samples recorded in the first steps only. */
function makeStreams(run: Run, ov: OverlapState, stepIdx: number): Streams {
  const { c } = run;
  const rec = ov.record;
  const inWindow = stepIdx < rec.window_steps;
  const record = inWindow
    ? (mb: number, st: Stage, g: number, t0: number, t1: number): void => {
        const stream = st.kind === "compute" ? "compute" : "comm";
        const base = { step: stepIdx, stream, micro_batch: mb, layer: st.layer, what: st.what } as const;
        if (g >= 0) rec.timeline.push({ ...base, gpu: g, start_ns: t0, end_ns: t1 });
        else for (let h = 0; h < c.D; h++) rec.timeline.push({ ...base, gpu: h, start_ns: t0, end_ns: t1 });
      }
    : null;
  const afterComm = inWindow ? (): void => sampleLinks(c.cluster, ov, rec, c.sim.now) : null;
  return { sim: c.sim, computeFree: ov.computeFree, comm: ov.comm, record, afterComm };
}

/** Each link's bytes since the last sample, as one sample per link that carried any. */
function sampleLinks(cluster: Cluster, ov: OverlapState, rec: OverlapRecord, now: number): void {
  for (const l of cluster.linkTraffic()) {
    const before = ov.linkBytes.get(l.link) ?? 0;
    if (l.bytes > before) {
      rec.link_samples.push({ link: l.link, start_ns: ov.lastSampleNs, end_ns: now, bytes: l.bytes - before });
    }
    ov.linkBytes.set(l.link, l.bytes);
  }
  ov.lastSampleNs = now;
}

/**
 * Fits the phases to the step's latency: the compute phases as summed (the slowest GPU's time of
 * each part), the rest of the step as exposed communication (all_to_all); if the parts' slowest
 * GPUs add up to more than the step (different GPUs were slowest, and overlapped), the compute
 * phases are scaled down to it and no communication is exposed.
 */
function attribute(phases: PhaseTimes, latency: number): void {
  const compute = phases.attention + phases.dense + phases.gating + phases.expert_compute;
  if (compute <= latency) {
    phases.all_to_all = latency - compute;
    return;
  }
  const k = latency / compute;
  phases.attention *= k;
  phases.dense *= k;
  phases.gating *= k;
  phases.expert_compute *= k;
  phases.all_to_all = 0;
}

function busyDiff(now: Float64Array, before: Float64Array): Float64Array {
  const d = new Float64Array(now.length);
  for (let g = 0; g < now.length; g++) d[g] = now[g] - before[g];
  return d;
}

function transpose(send: Float64Array, D: number): Float64Array {
  const back = new Float64Array(D * D);
  for (let s = 0; s < D; s++) for (let d = 0; d < D; d++) back[d * D + s] = send[s * D + d];
  return back;
}
