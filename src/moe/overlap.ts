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
 * overlap costs the smaller batches' lower efficiency. The shared experts of a MoE layer compute
 * while the layer's dispatch is on the wire, as in SGLang's two-batch-overlap decode strategy
 * (docs/deployments.md). Collectives run with the scenario's dispatch algorithm. Intervals, link
 * samples and the dispatch matrix go to the run's window (window.ts). Not with tensor parallelism
 * or buffering.
 */
import type { ProcessGenerator, SimEvent, Simulation } from "../sim/engine.js";
import type { Resource } from "../sim/resource.js";
import type { ExchangePhase, GatingPlan } from "../policies/gating/index.js";
import { denseParts, headNs } from "./dense.js";
import { a2a, countsMatrix, deferredExchange, exchangePhase } from "./exchange.js";
import { ProductSizes } from "../hardware/network/index.js";
import { expertCompute } from "./experts.js";
import { gateLayer } from "./gating.js";
import { free } from "./memory.js";
import { PhaseTimes, type Run } from "./state.js";
import { assignTokens, beginStep, endStep, oomStops } from "./step.js";
import { afterCollective, endWindowStep, recordComm, recordDispatch, recordSpan, windowOpen } from "./window.js";

/** Compute on each GPU's stream: its time per GPU. */
export interface ComputeWork {
  what: string;
  ns: Float64Array;
}

/**
 * One stage of a micro-batch: compute with each GPU's time, or a collective started when its turn
 * comes, optionally with compute that runs on the GPUs' compute streams while it is on the wire
 * (the stage ends when both have).
 */
export type Stage =
  | ({ kind: "compute"; layer: number } & ComputeWork)
  | { kind: "comm"; layer: number; what: string; start: () => SimEvent<void>; alongside?: ComputeWork };

/** The streams the stages run on, and where intervals go (null: not recorded). */
export interface Streams {
  sim: Simulation;
  computeFree: Float64Array;
  comm: Resource;
  /** Records an interval of GPU g's stream (g = -1: every GPU's communication stream). */
  record:
    | ((mb: number, stream: "compute" | "comm", layer: number, what: string, g: number, t0: number, t1: number) => void)
    | null;
  /** Called when a collective ends. */
  afterComm: (() => void) | null;
}

/** Books `work` on the GPUs' compute streams from `now`, first come first served; returns when the last GPU is done. */
function book(streams: Streams, mb: number, layer: number, work: ComputeWork, now: number): number {
  const { computeFree } = streams;
  let end = now;
  for (let g = 0; g < computeFree.length; g++) {
    const d = work.ns[g];
    if (!(d > 0)) continue;
    const t0 = Math.max(now, computeFree[g]);
    const t1 = t0 + d;
    computeFree[g] = t1;
    if (t1 > end) end = t1;
    streams.record?.(mb, "compute", layer, work.what, g, t0, t1);
  }
  return end;
}

/** One micro-batch's stages in order, on the streams. */
export function* runMicroBatch(streams: Streams, mb: number, stages: Stage[]): ProcessGenerator<void> {
  const { sim } = streams;
  for (const st of stages) {
    const now = sim.now;
    if (st.kind === "compute") {
      const end = book(streams, mb, st.layer, st, now);
      if (end > now) yield end - now;
      continue;
    }
    // compute alongside the collective: ready now (it does not wait for the wire)
    const along = st.alongside ? book(streams, mb, st.layer, st.alongside, now) : now;
    yield streams.comm.request();
    const t0 = sim.now;
    yield st.start();
    streams.comm.release();
    streams.record?.(mb, "comm", st.layer, st.what, -1, t0, sim.now);
    streams.afterComm?.();
    if (along > sim.now) yield along - sim.now;
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
  const streams = makeStreams(run, stepIdx);
  ov.computeFree.fill(c.sim.now);
  const procs = parts.map((stages, mb) => c.sim.process(runMicroBatch(streams, mb, stages), "micro_batch"));
  yield c.sim.allOf(procs);
  yield* runMicroBatch(streams, 0, [head]);
  if (windowOpen(run.w, stepIdx)) endWindowStep(run.w, c.cluster, c.sim.now);
  attribute(phases, c.sim.now - start);
  endStep(c, s, t, stepIdx, tokens, start, phases);
}

/**
 * A micro-batch's stages, its costs computed now: per layer attention (+ the dense FFN, or the
 * gate), then on MoE layers the plan's exchange phases (the shared experts alongside the
 * dispatch), expert compute and the combine. The slowest GPU's time of each compute part goes to
 * `phases` (attribute() fits them to the step).
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
    phases.dense += s.cur.denseMax;
    // the shared experts (denseParts' dense part of a MoE layer) go alongside the dispatch
    const shared: ComputeWork = { what: "shared experts", ns: Float64Array.from(s.denseGpu) };
    const gate = busyDiff(t.gpuBusy, busy0);
    for (let g = 0; g < c.D; g++) gate[g] -= shared.ns[g];
    stages.push({ kind: "compute", layer: l, what: "attention+gate", ns: gate });
    // the plan's arrays are reused by the next layer's plan: the collectives get copies
    const ex = deferredExchange(c, plan);
    const send = ex.send;
    if (mb === 0) recordDispatch(run.w, stepIdx, j, c.D, () => (send instanceof ProductSizes ? send.dense() : send));
    for (const phase of plan.exchange) {
      const st = exchangeStage(run, l, plan, phase, ex.dispatch);
      if (phase === "dispatch" && s.cur.denseMax > 0) st.alongside = shared;
      stages.push(st);
    }
    busy0 = Float64Array.from(t.gpuBusy);
    expertCompute(c, s, x, t, plan, null, 0);
    phases.expert_compute += s.cur.critCompute;
    stages.push({ kind: "compute", layer: l, what: "experts", ns: busyDiff(t.gpuBusy, busy0) });
    stages.push({ kind: "comm", layer: l, what: "combine", start: ex.combine });
    // the dispatch buffers: counted while the micro-batch's costs are worked out, not over the overlap
    for (let g = 0; g < c.D; g++) free(c, g, "all_to_all", plan.bufferBytesPerGpu[g]);
    x.lastPlan = plan;
  }
  return stages;
}

/** A collective of the plan's exchange; reads nothing of the plan (whose arrays the next layer reuses) later. */
function exchangeStage(
  run: Run,
  l: number,
  plan: GatingPlan,
  phase: ExchangePhase,
  dispatch: () => SimEvent<void>,
): Extract<Stage, { kind: "comm" }> {
  const { c, x } = run;
  if (phase === "dispatch") return { kind: "comm", layer: l, what: "dispatch", start: dispatch };
  if (phase === "counts") {
    const counts = countsMatrix(c, x, plan.expertRows.length);
    return { kind: "comm", layer: l, what: "counts", start: () => a2a(c, counts) };
  }
  // (exchangePhase reads the plan for dispatch and counts only)
  return { kind: "comm", layer: l, what: phase, start: () => exchangePhase(c, x, plan, phase) };
}

/** The streams of an overlap run; intervals and link samples go to the run's window while it is open. */
function makeStreams(run: Run, stepIdx: number): Streams {
  const { c, ov, w } = run;
  const open = windowOpen(w, stepIdx);
  const record: Streams["record"] = open
    ? (mb, stream, layer, what, g, t0, t1) => {
        if (g >= 0) recordSpan(w, stepIdx, g, stream, mb, layer, what, t0, t1);
        else recordComm(w, stepIdx, mb, layer, what, t0, t1);
      }
    : null;
  const afterComm = open ? (): void => afterCollective(w, c.cluster, c.sim.now) : null;
  return { sim: c.sim, computeFree: ov!.computeFree, comm: ov!.comm, record, afterComm };
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
