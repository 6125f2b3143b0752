/**
 * Experts: hot-expert replication (copies as extra virtual experts), expert buffering (each GPU's
 * cache, and weight copies from host memory for its misses) and expert compute per GPU, resident
 * experts first and missed ones as their weights arrive.
 */
import type { SimEvent } from "../sim/engine.js";
import type { GatingPlan } from "../policies/gating/index.js";
import type { Placement } from "../policies/placement/index.js";
import type { LayerScratch, RunConstants, RunTallies, StepScratch } from "./state.js";
import { expertOp } from "./costs.js";

/** Weight copies of a layer's missed experts: when each (virtual) expert's weights arrive; each GPU's copy stream. */
export interface Copies {
  ready: Map<number, number>;
  copyDone: SimEvent<unknown>[];
}

/**
 * Hot-expert replication: a pick of a replicated expert goes to the copy on the token's own GPU
 * when there is one, else alternates between the copies. Replicas become extra virtual experts.
 */
export function replicate(
  picks: Int32Array,
  place: Placement,
  tokenGpu: Int32Array,
  K: number,
): { picks: Int32Array; expertGpu: Int32Array; experts: number; owner: Int32Array } {
  const E = place.expertGpu.length;
  const extra: number[] = [];
  const owner: number[] = [];
  const copies: number[][] = [];
  for (let e = 0; e < E; e++) {
    const ids = [e];
    for (const g of place.replicas?.[e] ?? []) {
      ids.push(E + extra.length);
      extra.push(g);
      owner.push(e);
    }
    copies.push(ids);
  }
  const expertGpu = new Int32Array(E + extra.length);
  expertGpu.set(place.expertGpu);
  for (let i = 0; i < extra.length; i++) expertGpu[E + i] = extra[i];
  const out = new Int32Array(picks.length);
  const rr = new Int32Array(E);
  for (let i = 0; i < picks.length; i++) {
    const e = picks[i];
    if (e < 0) {
      out[i] = e; // no expert (incomplete: empty)
      continue;
    }
    const ids = copies[e];
    if (ids.length === 1) {
      out[i] = e;
      continue;
    }
    const g = tokenGpu[Math.floor(i / K)];
    let pick = -1;
    for (const v of ids) if (expertGpu[v] === g) pick = v;
    if (pick < 0) pick = ids[rr[e]++ % ids.length];
    out[i] = pick;
  }
  const ownerArr = new Int32Array(E + owner.length);
  for (let e = 0; e < E; e++) ownerArr[e] = e;
  for (let i = 0; i < owner.length; i++) ownerArr[E + i] = owner[i];
  return { picks: out, expertGpu, experts: E + extra.length, owner: ownerArr };
}

/**
 * Per GPU, the experts that compute (CSR in ordStart/ordBuf, which holds every virtual expert):
 * those with rows, and with buffering only those with real tokens (only those have weights). With
 * buffering the caches see each GPU's experts in id order; without, only the first launch (the
 * lowest id) is special, so the lists stay unsorted.
 */
export function expertLists(
  c: RunConstants,
  x: LayerScratch,
  active: Int32Array,
  et: Int32Array,
  expertGpu: Int32Array,
): void {
  const ordStart = x.ordStart;
  const noCache = c.caches === null;
  ordStart.fill(0);
  for (let i = 0; i < active.length; i++) {
    const e = active[i];
    if (noCache || et[e] > 0) ordStart[expertGpu[e] + 1]++;
  }
  for (let g = 0; g < c.D; g++) ordStart[g + 1] += ordStart[g];
  const ordBuf = x.ordBuf;
  const ordFill = x.ordFill;
  for (let g = 0; g < c.D; g++) ordFill[g] = ordStart[g];
  for (let i = 0; i < active.length; i++) {
    const e = active[i];
    if (noCache || et[e] > 0) ordBuf[ordFill[expertGpu[e]]++] = e;
  }
  if (!noCache) for (let g = 0; g < c.D; g++) sortIds(ordBuf, ordStart[g], ordStart[g + 1]);
}

/**
 * Expert buffering for MoE layer j: each GPU's cache sees its experts with tokens; misses are
 * copied from host memory one after another (one copy stream per GPU), starting now. Returns the
 * time each missed (virtual) expert's weights arrive (filled in as copies finish) and the events
 * of the GPUs' copy streams.
 */
export function startCopies(
  c: RunConstants,
  s: StepScratch,
  x: LayerScratch,
  t: RunTallies,
  j: number,
  stepIdx: number,
  owner: Int32Array | null,
): Copies {
  const ready = new Map<number, number>();
  const copyDone: SimEvent<unknown>[] = [];
  for (let g = 0; g < c.D; g++) {
    // exactly the GPU's experts with tokens, ascending
    const act = Array.from(x.ordBuf.subarray(x.ordStart[g], x.ordStart[g + 1]));
    const cache = c.caches![g][j];
    const realIds = owner ? act.map((e) => (e < c.E ? e : owner[e])) : act.slice();
    const r = cache.accessBatch(stepIdx, realIds);
    const st = t.cacheStats![g * c.moeLayers.length + j];
    st.requests += act.length;
    st.misses += r.misses.length;
    st.hits += act.length - r.misses.length;
    st.bytes_moved += r.misses.length * c.eBytes;
    s.cur.misses += r.misses.length;
    s.cur.hits += act.length - r.misses.length;
    if (r.misses.length === 0) continue;
    const missSet = new Set(r.misses);
    const queue = act.filter((_, i) => missSet.has(realIds[i]));
    const done = c.sim.event("weights");
    copyDone.push(done);
    const next = (i: number): void => {
      if (i >= queue.length) {
        done.succeed();
        return;
      }
      c.cluster.hostToDevice(
        g,
        c.eBytes,
        () => {
          ready.set(queue[i], c.sim.now);
          next(i + 1);
        },
        { pinned: c.cfg.buffering.pinned },
      );
    };
    next(0);
  }
  return { ready, copyDone };
}

/**
 * Expert compute per GPU from `tArrived` (or, on GPU g, from busyUntil[g] if later: its compute
 * stream is busy until then): resident experts first, then missed ones as their weights arrive.
 * Counts each GPU's busy time and tokens; returns when the slowest GPU is done and sets
 * cur.critCompute to that GPU's compute time.
 */
export function expertCompute(
  c: RunConstants,
  s: StepScratch,
  x: LayerScratch,
  t: RunTallies,
  plan: GatingPlan,
  ready: Map<number, number> | null,
  tArrived: number,
  busyUntil: Float64Array | null = null,
): number {
  if (c.flatExperts) return expertComputeFlat(c, s, x, t, plan, tArrived, busyUntil);
  let endMax = tArrived;
  s.cur.critCompute = 0;
  const rows = plan.expertRows;
  const et = plan.expertTokens;
  const perExpert = plan.perExpertLoop;
  const ordBuf = x.ordBuf;
  for (let g = 0; g < c.D; g++) {
    const a = x.ordStart[g];
    const b = x.ordStart[g + 1];
    if (a === b) continue;
    if (ready !== null && ready.size > 0) sortByReady(ordBuf, a, b, ready);
    // The first expert launched: the head of the (sorted) list with buffering, else the lowest id.
    let first = ordBuf[a];
    if (ready === null) for (let i = a + 1; i < b; i++) if (ordBuf[i] < first) first = ordBuf[i];
    let tg = busyUntil !== null ? Math.max(tArrived, busyUntil[g]) : tArrived;
    let busy = 0;
    let toks = 0;
    for (let i = a; i < b; i++) {
      const e = ordBuf[i];
      if (ready !== null) {
        const rdy = ready.get(e);
        if (rdy !== undefined && rdy > tg) tg = rdy;
      }
      let ns = expertNs(c, x, rows[e]);
      // Gates other than per-expert loops (FastMoE) run a GPU's experts as one grouped kernel:
      // one launch, whatever the number of experts. (Integer ns: the sum is order-free.)
      if (!perExpert && e !== first) ns = Math.max(0, ns - c.launchNs);
      tg += ns;
      busy += ns;
      toks += et[e];
    }
    endMax = bookGpu(s, t, g, toks, busy, tg, endMax);
  }
  return endMax;
}

/**
 * Counts GPU g's expert tokens and busy time for a layer whose experts end at tEnd on it; returns
 * the layer's latest end so far (endMax, or tEnd if later, whose busy time becomes cur.critCompute).
 */
function bookGpu(
  s: StepScratch,
  t: RunTallies,
  g: number,
  toks: number,
  busy: number,
  tEnd: number,
  endMax: number,
): number {
  s.gpuTokensStep[g] += toks;
  t.gpuBusy[g] += busy;
  if (!(tEnd > endMax)) return endMax;
  s.cur.critCompute = busy;
  return tEnd;
}

/**
 * expertCompute without buffering (no expert waits for weights), in one pass over the layer's
 * active experts instead of per-GPU lists: a GPU's time is the sum of its experts' times, each
 * less the launch overhead but for the first launched (the lowest id), and all of them whole ns,
 * so summing per GPU in active order gives what expertCompute's per-GPU loop gives.
 */
function expertComputeFlat(
  c: RunConstants,
  s: StepScratch,
  x: LayerScratch,
  t: RunTallies,
  plan: GatingPlan,
  tArrived: number,
  busyUntil: Float64Array | null,
): number {
  const rows = plan.expertRows;
  const et = plan.expertTokens;
  const perExpert = plan.perExpertLoop;
  const L = c.launchNs;
  const active = x.layerActive;
  const eg = x.layerExpertGpu;
  const sum = x.gpuSum;
  const first = x.gpuFirst;
  const firstNs = x.gpuFirstNs;
  const toks = x.gpuToks;
  sum.fill(0);
  first.fill(-1);
  toks.fill(0);
  for (let i = 0; i < active.length; i++) {
    const e = active[i];
    const g = eg[e];
    const ns = expertNs(c, x, rows[e]);
    sum[g] += perExpert ? ns : Math.max(0, ns - L);
    if (first[g] < 0 || e < first[g]) {
      first[g] = e;
      firstNs[g] = ns;
    }
    toks[g] += et[e];
  }
  let endMax = tArrived;
  s.cur.critCompute = 0;
  for (let g = 0; g < c.D; g++) {
    if (first[g] < 0) continue;
    const busy = perExpert ? sum[g] : sum[g] - Math.max(0, firstNs[g] - L) + firstNs[g];
    const t0 = busyUntil !== null ? Math.max(tArrived, busyUntil[g]) : tArrived;
    endMax = bookGpu(s, t, g, toks[g], busy, t0 + busy, endMax);
  }
  return endMax;
}

/** One expert's compute time for `rows` rows (memoised: a cost model is a pure function of the op). */
function expertNs(c: RunConstants, x: LayerScratch, rows: number): number {
  if (rows >= x.expertNsMemo.length) {
    // padded rows can outnumber the step's picks, and continuous batching's steps are not known in advance
    const bigger = new Float64Array(Math.max(rows + 1, 2 * x.expertNsMemo.length, 64)).fill(-1);
    bigger.set(x.expertNsMemo);
    x.expertNsMemo = bigger;
  }
  let ns = x.expertNsMemo[rows];
  if (ns < 0) {
    ns = x.expertNsMemo[rows] = c.cost.timeNs(expertOp(c.m, rows));
  }
  return ns;
}

/** Sorts a[lo..hi) ascending (short runs: insertion sort). */
function sortIds(a: Int32Array, lo: number, hi: number): void {
  for (let i = lo + 1; i < hi; i++) {
    const v = a[i];
    let j = i - 1;
    while (j >= lo && a[j] > v) {
      a[j + 1] = a[j];
      j--;
    }
    a[j + 1] = v;
  }
}

/** Sorts a[lo..hi) by the time the expert's weights are ready (0 if resident), then by id. */
function sortByReady(a: Int32Array, lo: number, hi: number, ready: Map<number, number>): void {
  for (let i = lo + 1; i < hi; i++) {
    const v = a[i];
    const rv = ready.get(v) ?? 0;
    let j = i - 1;
    while (j >= lo) {
      const ru = ready.get(a[j]) ?? 0;
      if (ru < rv || (ru === rv && a[j] < v)) break;
      a[j + 1] = a[j];
      j--;
    }
    a[j + 1] = v;
  }
}
