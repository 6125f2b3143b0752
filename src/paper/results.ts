/**
 * The paper's metrics over sweep points: maximum throughput of a gate over the batch sizes it
 * fits, the largest batch per GPU that fits, and the memory figures the paper reports.
 */
import type { PointResult } from "../scenario/sweep-results.js";

/** Point results by sweep name (the file name under scenarios/paper/, without .yaml). */
export type PaperResults = Map<string, PointResult[]>;

export type Where = Record<string, string | number | boolean>;

/** The points of a sweep; a sweep the table needs and did not run is an internal error. */
export function pointsOf(r: PaperResults, sweep: string): PointResult[] {
  const pts = r.get(sweep);
  if (!pts) throw new Error(`paper: sweep '${sweep}' has no results`);
  return pts;
}

/** A point's value at a key path: its override if the sweep set one, else from the summary. */
function field(p: PointResult, key: string): unknown {
  const s = p.summary;
  switch (key) {
    case "gating":
      return s.policies.gating;
    case "placement":
      return s.policies.placement;
    case "buffering":
      return s.policies.buffering;
    case "slots":
      return s.policies.slots;
    case "nodes":
      return s.cluster.nodes;
    case "phase":
      return s.phase;
    case "model":
      return s.model;
    default:
      return p.params[key];
  }
}

export function select(r: PaperResults, sweep: string, where: Where = {}): PointResult[] {
  return pointsOf(r, sweep).filter((p) => Object.entries(where).every(([k, v]) => field(p, k) === v));
}

/** The one point of a sweep matching `where`. */
export function one(r: PaperResults, sweep: string, where: Where): PointResult {
  const pts = select(r, sweep, where);
  if (pts.length !== 1) throw new Error(`paper: ${sweep} ${JSON.stringify(where)} matches ${pts.length} points`);
  return pts[0];
}

/** Sequences (sentences) per GPU: the paper's batch unit. */
export function perGpuBatch(p: PointResult): number {
  const b = p.summary.batch_size?.used ?? Number(p.params["workload.batching.batch_size"]);
  return b / p.summary.cluster.gpus;
}

const fits = (p: PointResult): boolean => !p.summary.oom;

/** The paper's throughput metric: a gate's highest tokens/s over the batch sizes it fits. */
export function maxThroughput(r: PaperResults, sweep: string, where: Where): number {
  const pts = select(r, sweep, where).filter(fits);
  if (pts.length === 0) throw new Error(`paper: ${sweep} ${JSON.stringify(where)} fits no batch`);
  return Math.max(...pts.map((p) => p.summary.tokens_per_s));
}

/** max throughput of gate a over gate b. */
export function maxRatio(r: PaperResults, sweep: string, a: Where, b: Where): number {
  return maxThroughput(r, sweep, a) / maxThroughput(r, sweep, b);
}

/** The largest batch per GPU that fits in memory. */
export function maxBatch(r: PaperResults, sweep: string, where: Where): number {
  const pts = select(r, sweep, where).filter(fits);
  return pts.length ? Math.max(...pts.map(perGpuBatch)) : 0;
}

/** A gate's point at a batch per GPU that fits; a missing one is an internal error. */
function fittingPointAt(r: PaperResults, sweep: string, where: Where, batchPerGpu: number): PointResult {
  const p = select(r, sweep, where).find((x) => perGpuBatch(x) === batchPerGpu && fits(x));
  if (!p) throw new Error(`paper: ${sweep} ${JSON.stringify(where)} has no fitting point at ${batchPerGpu} per GPU`);
  return p;
}

/** The activation memory (GB) of a gate at a batch per GPU. */
export function activationGb(r: PaperResults, sweep: string, where: Where, batchPerGpu: number): number {
  return fittingPointAt(r, sweep, where, batchPerGpu).summary.memory.peak_activation_bytes / 1e9;
}

/** The peak GPU memory (GB: weights, activations and buffers) of a gate at a batch per GPU. */
export function peakGb(r: PaperResults, sweep: string, where: Where, batchPerGpu: number): number {
  return fittingPointAt(r, sweep, where, batchPerGpu).summary.memory.peak_bytes_max / 1e9;
}

/** Static memory per GPU (bytes): weights plus the expert cache, as allocated at the start. */
export function staticBytes(p: PointResult): number {
  const c = p.summary.memory.peak_by_category_bytes;
  return (c.weights ?? 0) + (c.expert_cache ?? 0);
}

/**
 * Dynamic gating over Tutel per Zipf skew of a sensitivity sweep (scenarios/paper/tutel-skew-*.yaml): each
 * gate's maximum throughput over the sweep's batches at that skew; null where Tutel fits no batch.
 */
export function tutelSkewCurve(r: PaperResults, sweep: string): { zipf: number; ratio: number | null }[] {
  const key = "trace.synthetic.zipf";
  const zipfs = [...new Set(pointsOf(r, sweep).map((p) => Number(p.params[key])))].sort((a, b) => a - b);
  return zipfs.map((zipf) => {
    const best = (gating: string) =>
      Math.max(
        0,
        ...select(r, sweep, { [key]: zipf, gating })
          .filter(fits)
          .map((p) => p.summary.tokens_per_s),
      );
    const tutel = best("tutel");
    return { zipf, ratio: tutel > 0 ? best("dynamic") / tutel : null };
  });
}

/** A gate's peak activation memory (GB) at every batch per GPU it fits, smallest batch first. */
export function activationByBatch(r: PaperResults, sweep: string, where: Where): { batch: number; gb: number }[] {
  return select(r, sweep, where)
    .filter(fits)
    .map((p) => ({ batch: perGpuBatch(p), gb: p.summary.memory.peak_activation_bytes / 1e9 }))
    .sort((a, b) => a.batch - b.batch);
}
