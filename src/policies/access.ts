/**
 * Bridges from a routing trace to the policies' inputs: per-(GPU, layer) expert access streams for
 * the buffering policies, per-expert loads and activation matrices for placement, and per-batch
 * GPU load shares for judging a placement. Pure functions over typed arrays.
 */
import type { RoutingTrace } from "../workload/trace.js";
import type { AccessSequence } from "./buffering/types.js";
import type { Placement } from "./placement/types.js";
import { UserError } from "../util/errors.js";

/** A batching of the trace: token indices per batch (any ArrayLike, e.g. Int32Array[]). */
export type TokenBatches = readonly ArrayLike<number>[];

function checkExpertGpu(expertGpu: Int32Array, experts: number, gpus: number): void {
  if (expertGpu.length !== experts) {
    throw new UserError(`placement maps ${expertGpu.length} experts, the trace has ${experts}`);
  }
  for (let e = 0; e < experts; e++) {
    const g = expertGpu[e];
    if (!(g >= 0 && g < gpus)) throw new UserError(`placement puts expert ${e} on GPU ${g}, expected 0..${gpus - 1}`);
  }
}

class IntBuf {
  a = new Int32Array(1024);
  n = 0;
  push(v: number): void {
    if (this.n === this.a.length) {
      const b = new Int32Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = v;
  }
  take(): Int32Array {
    return this.a.slice(0, this.n);
  }
}

/**
 * The expert access stream of every (layer, GPU): for each batch, the experts hosted on that GPU
 * that received at least one token of the batch at that layer, in ascending id (the order the
 * dynamic gate's sort by expert computes them). Result indexed [layer][gpu]. `expertGpu` is one
 * placement for all layers or one per layer. `traceLayers`, when given, lists the trace layer of
 * each layer of the result (the simulation's MoE layers cycle through the trace's): the result and
 * a per-layer `expertGpu` then follow that list instead of the trace's layers.
 * This is the one bridge from a trace to the caches' streams: the simulation builds Belady's
 * future with it (moe/prepare.ts), and Belady is optimal only on the stream its future came from.
 */
export function accessSequences(
  trace: RoutingTrace,
  batches: TokenBatches,
  expertGpu: Int32Array | readonly Int32Array[],
  gpus: number,
  traceLayers?: ArrayLike<number>,
): AccessSequence[][] {
  const { layers, experts, topK, picks } = trace;
  const count = traceLayers === undefined ? layers : traceLayers.length;
  const perLayer = (i: number): Int32Array => (expertGpu instanceof Int32Array ? expertGpu : expertGpu[i]);
  for (let i = 0; i < count; i++) checkExpertGpu(perLayer(i), experts, gpus);
  const stamp = new Int32Array(experts);
  const out: AccessSequence[][] = [];
  for (let i = 0; i < count; i++) {
    const l = traceLayers === undefined ? i : traceLayers[i];
    const eg = perLayer(i);
    const bufs = Array.from({ length: gpus }, () => new IntBuf());
    const starts = Array.from({ length: gpus }, () => new Int32Array(batches.length + 1));
    stamp.fill(0);
    for (let b = 0; b < batches.length; b++) {
      const toks = batches[b];
      for (let g = 0; g < gpus; g++) starts[g][b] = bufs[g].n;
      for (let i = 0; i < toks.length; i++) {
        const base = (toks[i] * layers + l) * topK;
        for (let k = 0; k < topK; k++) if (picks[base + k] < experts) stamp[picks[base + k]] = b + 1;
      }
      for (let e = 0; e < experts; e++) if (stamp[e] === b + 1) bufs[eg[e]].push(e);
    }
    out.push(
      bufs.map((buf, g) => {
        starts[g][batches.length] = buf.n;
        return { requests: buf.take(), batchStart: starts[g], experts };
      }),
    );
  }
  return out;
}

/** Token-expert assignments per expert at `layer` over the given tokens (all when omitted). */
export function expertLoad(trace: RoutingTrace, layer: number, batches?: TokenBatches): Float64Array {
  const { layers, experts, topK, picks } = trace;
  const load = new Float64Array(experts);
  const add = (t: number): void => {
    const base = (t * layers + layer) * topK;
    for (let k = 0; k < topK; k++) if (picks[base + k] < experts) load[picks[base + k]]++;
  };
  if (batches === undefined) for (let t = 0; t < trace.tokens; t++) add(t);
  else for (const toks of batches) for (let i = 0; i < toks.length; i++) add(toks[i]);
  return load;
}

/** Activation matrix at `layer`: active[b * experts + e] = 1 when expert e got a token in batch b. */
export function activationMatrix(
  trace: RoutingTrace,
  batches: TokenBatches,
  layer: number,
): { batches: number; active: Uint8Array } {
  const { layers, experts, topK, picks } = trace;
  const active = new Uint8Array(batches.length * experts);
  for (let b = 0; b < batches.length; b++) {
    const toks = batches[b];
    const row = b * experts;
    for (let i = 0; i < toks.length; i++) {
      const base = (toks[i] * layers + layer) * topK;
      for (let k = 0; k < topK; k++) if (picks[base + k] < experts) active[row + picks[base + k]] = 1;
    }
  }
  return { batches: batches.length, active };
}

/**
 * Share of the batch's token-expert assignments that each GPU computes at `layer`:
 * shares[b * gpus + g]. An expert with replicas splits its tokens evenly over its copies.
 * Empty batches get all-zero shares.
 */
export function gpuLoadShares(
  trace: RoutingTrace,
  batches: TokenBatches,
  layer: number,
  placement: Placement,
  gpus: number,
): Float64Array {
  const { layers, experts, topK, picks } = trace;
  checkExpertGpu(placement.expertGpu, experts, gpus);
  const shares = new Float64Array(batches.length * gpus);
  const count = new Float64Array(experts);
  for (let b = 0; b < batches.length; b++) {
    const toks = batches[b];
    count.fill(0);
    let total = 0; // assignments; a token with no experts here (incomplete: empty) has none
    for (let i = 0; i < toks.length; i++) {
      const base = (toks[i] * layers + layer) * topK;
      for (let k = 0; k < topK; k++)
        if (picks[base + k] < experts) {
          count[picks[base + k]]++;
          total++;
        }
    }
    if (total === 0) continue;
    const row = b * gpus;
    for (let e = 0; e < experts; e++) {
      if (count[e] === 0) continue;
      const extra = placement.replicas?.[e];
      const copies = 1 + (extra?.length ?? 0);
      const part = count[e] / copies / total;
      shares[row + placement.expertGpu[e]] += part;
      if (extra) for (let j = 0; j < extra.length; j++) shares[row + extra[j]] += part;
    }
  }
  return shares;
}

/** Worst and mean over batches of the largest GPU share (batches with no tokens are skipped). */
export function maxShareStats(shares: Float64Array, gpus: number): { worst: number; mean: number; batches: number } {
  let worst = 0;
  let sum = 0;
  let n = 0;
  for (let row = 0; row < shares.length; row += gpus) {
    let m = 0;
    let any = 0;
    for (let g = 0; g < gpus; g++) {
      const v = shares[row + g];
      any += v;
      if (v > m) m = v;
    }
    if (any === 0) continue;
    if (m > worst) worst = m;
    sum += m;
    n++;
  }
  return { worst, mean: n === 0 ? 0 : sum / n, batches: n };
}
