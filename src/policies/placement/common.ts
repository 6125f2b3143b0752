import { UserError } from "../../util/errors.js";
import type { Placement, PlacementInput } from "./types.js";

/** Validated slots per GPU. */
export function slotsOf(input: PlacementInput): number {
  const { experts, gpus } = input;
  if (!Number.isInteger(experts) || experts < 1)
    throw new UserError(`placement: experts must be an integer >= 1, got ${experts}`);
  if (!Number.isInteger(gpus) || gpus < 1) throw new UserError(`placement: gpus must be an integer >= 1, got ${gpus}`);
  const slots = input.slotsPerGpu ?? Math.ceil(experts / gpus);
  if (!Number.isInteger(slots) || slots * gpus < experts) {
    throw new UserError(`placement: ${gpus} GPUs x ${slots} slots cannot hold ${experts} experts`);
  }
  return slots;
}

/**
 * The input's historical load, checked against its expert count. Only the policies that weigh
 * experts by load read it (the simulator computes it on first read: a pass over the whole trace).
 */
export function loadOf(input: PlacementInput): Float64Array {
  const load = input.load;
  if (load.length !== input.experts)
    throw new UserError(`placement: load has ${load.length} entries, expected ${input.experts}`);
  return load;
}

/** Experts sorted by load, heaviest first (ties: lower id first). */
export function byLoadDesc(load: Float64Array): number[] {
  return Array.from(load.keys()).sort((a, b) => load[b] - load[a] || a - b);
}

/**
 * Adds one replica to each of the `replicateHot` most loaded experts, on the GPU with the least
 * load (counting already split loads) that does not hold it yet. Deterministic.
 */
export function replicateHot(placement: Placement, input: PlacementInput): Placement {
  const n = Math.min(input.replicateHot ?? 0, input.experts);
  if (!(n > 0) || input.gpus < 2) return placement;
  const gpus = input.gpus;
  const load = loadOf(input);
  const replicas: Int32Array[] = Array.from({ length: input.experts }, () => new Int32Array(0));
  const gpuLoad = new Float64Array(gpus);
  for (let e = 0; e < input.experts; e++) gpuLoad[placement.expertGpu[e]] += load[e];
  for (const e of byLoadDesc(load).slice(0, n)) {
    const home = placement.expertGpu[e];
    let best = -1;
    for (let g = 0; g < gpus; g++) if (g !== home && (best < 0 || gpuLoad[g] < gpuLoad[best])) best = g;
    // tokens split over the two copies
    gpuLoad[home] -= load[e] / 2;
    gpuLoad[best] += load[e] / 2;
    replicas[e] = Int32Array.of(best);
  }
  return { expertGpu: placement.expertGpu, replicas };
}

/**
 * Pearson correlation of expert activations over batches: corr[a * experts + b]. A constant column
 * (always or never active) correlates 0 with everything.
 */
export function activationCorrelation(experts: number, act: { batches: number; active: Uint8Array }): Float64Array {
  const B = act.batches;
  if (act.active.length !== B * experts) {
    throw new UserError(
      `placement: activations have ${act.active.length} entries, expected ${B} batches x ${experts} experts`,
    );
  }
  const co = new Float64Array(experts * experts);
  const list = new Int32Array(experts);
  for (let b = 0; b < B; b++) {
    let n = 0;
    const row = b * experts;
    for (let e = 0; e < experts; e++) if (act.active[row + e] === 1) list[n++] = e;
    for (let i = 0; i < n; i++) {
      const base = list[i] * experts;
      for (let j = 0; j < n; j++) co[base + list[j]]++;
    }
  }
  const corr = new Float64Array(experts * experts);
  if (B === 0) return corr;
  for (let a = 0; a < experts; a++) {
    const pa = co[a * experts + a] / B;
    const va = pa * (1 - pa);
    for (let c = 0; c < experts; c++) {
      const pc = co[c * experts + c] / B;
      const vc = pc * (1 - pc);
      if (va <= 0 || vc <= 0) continue;
      corr[a * experts + c] = (co[a * experts + c] / B - pa * pc) / Math.sqrt(va * vc);
    }
  }
  return corr;
}
