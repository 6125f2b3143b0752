/**
 * The window of a run that the report's timeline, link heatmap and dispatch matrix draw: every run
 * (with or without micro-batch overlap) records its first steps' per-GPU compute and communication
 * intervals, each link's bytes between the ends of collectives, and the dispatch matrix of its first
 * MoE layer. The record is bounded whatever the run's size: the first WINDOW_STEPS steps, the
 * streams of the first WINDOW_GPUS GPUs, link samples at the end of every k-th collective (k chosen
 * from the cluster's links and the collectives a step makes, so that about WINDOW_LINK_SAMPLES fit),
 * and hard caps on both; a window that reaches a cap stops and says so (`truncated`).
 * Recording reads the simulation's state only: it changes no result.
 */
import type { Cluster } from "../hardware/cluster.js";
import { grown } from "../util/arrays.js";
import type { TimelineInterval, WindowRecord } from "./types.js";

/** Steps recorded (the first ones). */
export const WINDOW_STEPS = 3;
/** GPUs whose streams are recorded (the first ones: two 8-GPU nodes). */
export const WINDOW_GPUS = 16;
/** The link samples the sampling interval aims at, and the hard caps on samples and intervals. */
export const WINDOW_LINK_SAMPLES = 20_000;
export const WINDOW_MAX_SAMPLES = 50_000;
export const WINDOW_MAX_INTERVALS = 60_000;

type Stream = TimelineInterval["stream"];

/** The window's record and what sampling the links needs. */
export class Window {
  declare record: WindowRecord;
  /** Each link's bytes at the last sample, by link id. */
  declare linkBytes: Float64Array<ArrayBuffer>;
  declare lastSampleNs: number;
  /** Collectives ended in the window so far. */
  declare collectives: number;
  /** Each recorded GPU's busy time when markBusy was last called. */
  declare busy0: Float64Array;
  /**
   * @param gpus the run's GPUs
   * @param links the cluster's links
   * @param collectivesPerStep about how many collectives a step makes (sets the sampling interval)
   */
  constructor(gpus: number, links: number, collectivesPerStep: number) {
    const est = links * Math.max(1, collectivesPerStep) * WINDOW_STEPS;
    this.record = {
      window_steps: WINDOW_STEPS,
      window_gpus: Math.min(gpus, WINDOW_GPUS),
      sample_every: Math.max(1, Math.ceil(est / WINDOW_LINK_SAMPLES)),
      truncated: false,
      timeline: [],
      link_samples: [],
      dispatch: null,
    };
    this.linkBytes = new Float64Array(links);
    this.lastSampleNs = 0;
    this.collectives = 0;
    this.busy0 = new Float64Array(this.record.window_gpus);
  }
}

/** Whether step `step` is recorded (one of the first steps, and the window not full). */
export function windowOpen(w: Window, step: number): boolean {
  return step < w.record.window_steps && !w.record.truncated;
}

/** Records GPU g's interval [t0, t1) on a stream (GPUs past the window's are not recorded). */
export function recordSpan(
  w: Window,
  step: number,
  g: number,
  stream: Stream,
  mb: number,
  layer: number,
  what: string,
  t0: number,
  t1: number,
): void {
  const r = w.record;
  if (g >= r.window_gpus || !(t1 > t0)) return;
  if (r.timeline.length >= WINDOW_MAX_INTERVALS) {
    r.truncated = true;
    return;
  }
  r.timeline.push({ step, gpu: g, stream, micro_batch: mb, layer, what, start_ns: t0, end_ns: t1 });
}

/** A collective [t0, t1) on every recorded GPU's communication stream (a collective spans them all). */
export function recordComm(w: Window, step: number, mb: number, layer: number, what: string, t0: number, t1: number) {
  for (let g = 0; g < w.record.window_gpus; g++) recordSpan(w, step, g, "comm", mb, layer, what, t0, t1);
}

/** Notes each recorded GPU's busy time, for busySince. */
export function markBusy(w: Window, gpuBusy: Float64Array): void {
  for (let g = 0; g < w.busy0.length; g++) w.busy0[g] = gpuBusy[g];
}

/** Each recorded GPU's busy time added since markBusy (a new array). */
export function busySince(w: Window, gpuBusy: Float64Array): Float64Array {
  const out = new Float64Array(w.busy0.length);
  for (let g = 0; g < out.length; g++) out[g] = gpuBusy[g] - w.busy0[g];
  return out;
}

/** Compute of each recorded GPU g: from start(g), for ns[g]. */
export function recordCompute(
  w: Window,
  step: number,
  layer: number,
  what: string,
  start: (g: number) => number,
  ns: ArrayLike<number>,
): void {
  for (let g = 0; g < w.record.window_gpus; g++) {
    const t0 = start(g);
    recordSpan(w, step, g, "compute", 0, layer, what, t0, t0 + ns[g]);
  }
}

/** At the end of a collective: every sample_every-th one, each link's bytes since the last sample. */
export function afterCollective(w: Window, cluster: Cluster, now: number): void {
  if (w.collectives++ % w.record.sample_every === 0) sampleLinks(w, cluster, now);
}

/** At the end of a recorded step: the links' bytes since the last sample (none if no collective carried any). */
export function endWindowStep(w: Window, cluster: Cluster, now: number): void {
  if (!w.record.truncated) sampleLinks(w, cluster, now);
}

/**
 * Each link's bytes since the last sample, as one sample per link that carried any, in link order
 * (the network's counters read in place: linkTraffic() would make an object per link per sample).
 */
function sampleLinks(w: Window, cluster: Cluster, now: number): void {
  const r = w.record;
  const net = cluster.net;
  const carried = net.linkBytes;
  const nl = net.linkCount;
  if (w.linkBytes.length < nl) w.linkBytes = grown(w.linkBytes, nl);
  for (let l = 0; l < nl; l++) {
    const bytes = carried[l];
    const before = w.linkBytes[l];
    if (bytes > before) {
      if (r.link_samples.length >= WINDOW_MAX_SAMPLES) {
        r.truncated = true;
        return;
      }
      r.link_samples.push({ link: net.linkNames[l], start_ns: w.lastSampleNs, end_ns: now, bytes: bytes - before });
    }
    w.linkBytes[l] = bytes;
  }
  w.lastSampleNs = now;
}

/** Keeps the first dispatch matrix offered (source GPU x destination GPU bytes, made only then). */
export function recordDispatch(w: Window, step: number, layer: number, gpus: number, bytes: () => Float64Array): void {
  if (w.record.dispatch === null) w.record.dispatch = { step, layer, gpus, bytes: Array.from(bytes()) };
}
