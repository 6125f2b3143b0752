import { UserError } from "../../util/errors.js";
import type { GatingInput, GatingPlan, LoadGatingInput, PlanShape } from "./types.js";

/**
 * A pick of no expert: a token with no record at this layer (a trace read with incomplete: empty)
 * is routed nowhere and costs no expert work here. Every gate skips it.
 */
export const NO_PICK = -1;

/** The input's array lengths against its token, top-k and expert counts. */
function checkShape(input: GatingInput): void {
  const { tokens, topK, experts, picks, tokenGpu, expertGpu } = input;
  if (picks.length !== tokens * topK)
    throw new UserError(`gating: picks has ${picks.length} entries, expected tokens*topK = ${tokens * topK}`);
  if (tokenGpu.length !== tokens)
    throw new UserError(`gating: tokenGpu has ${tokenGpu.length} entries, expected ${tokens}`);
  if (expertGpu.length !== experts)
    throw new UserError(`gating: expertGpu has ${expertGpu.length} entries, expected ${experts}`);
}

/** Every expert placed on a GPU of the group. */
function checkExpertGpus(input: GatingInput): void {
  const { experts, gpus, expertGpu } = input;
  for (let e = 0; e < experts; e++) {
    const g = expertGpu[e];
    if (!(g >= 0 && g < gpus)) badExpertGpu(e, g, gpus);
  }
}

function badExpertGpu(e: number, g: number, gpus: number): never {
  throw new UserError(`gating: expert ${e} on GPU ${g}, expected 0..${gpus - 1}`);
}

function badTokenGpu(t: number, g: number, gpus: number): never {
  throw new UserError(`gating: token ${t} on GPU ${g}, expected 0..${gpus - 1}`);
}

function badPick(t: number, e: number, experts: number): never {
  throw new UserError(`gating: token ${t} picks expert ${e}, expected 0..${experts - 1}`);
}

/** Validates the input and counts assignments per (source GPU, expert): n[g * experts + e]. */
export function countBySourceAndExpert(input: GatingInput): Int32Array {
  const { tokens, topK, experts, gpus, picks, tokenGpu } = input;
  checkShape(input);
  const n = new Int32Array(gpus * experts);
  for (let t = 0; t < tokens; t++) {
    const g = tokenGpu[t];
    if (!(g >= 0 && g < gpus)) badTokenGpu(t, g, gpus);
    const row = g * experts;
    for (let k = 0; k < topK; k++) {
      const e = picks[t * topK + k];
      if (!(e >= 0 && e < experts)) {
        if (e === NO_PICK) continue;
        badPick(t, e, experts);
      }
      n[row + e]++;
    }
  }
  checkExpertGpus(input);
  return n;
}

/**
 * assemblePlan for gates that send exactly the routed rows (rows = kept = the counts, no drops),
 * straight from the picks in one pass: the same plan, in O(tokens x topK + gpus^2 + experts)
 * instead of O(gpus x experts), with `activeExperts` set (in order of first pick, not sorted).
 * `computeRows` (padding per expert) must map 0 rows to 0. Validates the input as
 * countBySourceAndExpert does (shape, each token's GPU, each pick), except that of the experts'
 * GPUs it checks those of the experts tokens pick (the only ones the plan depends on), not all:
 * a scan of every expert per layer was ~10% of this function.
 */
export function sparsePlan(
  policy: string,
  input: GatingInput,
  flags: PlanShape,
  computeRows?: (e: number, realRows: number) => number,
  reuse?: GatingPlan,
): GatingPlan {
  const { tokens, topK, experts, gpus, picks, tokenGpu, tokenBytes, expertGpu } = input;
  checkShape(input);
  let sendTokens: Float64Array;
  let sendBytes: Float64Array;
  let expertRows: Int32Array;
  let expertTokens: Int32Array;
  let bufferBytesPerGpu: Float64Array;
  let touched: Int32Array;
  const old = reuse?.activeExperts;
  const picked = tokens * topK;
  if (
    reuse !== undefined &&
    old !== undefined &&
    reuse.sendTokens.length === gpus * gpus &&
    reuse.expertRows.length === experts &&
    reuse.bufferBytesPerGpu.length === gpus &&
    old.buffer.byteLength >= Math.min(picked, experts) * 4
  ) {
    // The old plan's per-expert arrays are zero but at its active experts.
    for (let i = 0; i < old.length; i++) {
      reuse.expertRows[old[i]] = 0;
      reuse.expertTokens[old[i]] = 0;
    }
    sendTokens = reuse.sendTokens.fill(0);
    sendBytes = reuse.sendBytes;
    expertRows = reuse.expertRows;
    expertTokens = reuse.expertTokens;
    bufferBytesPerGpu = reuse.bufferBytesPerGpu;
    touched = new Int32Array(old.buffer, 0, old.buffer.byteLength >> 2);
  } else {
    sendTokens = new Float64Array(gpus * gpus);
    sendBytes = new Float64Array(gpus * gpus);
    expertRows = new Int32Array(experts);
    expertTokens = new Int32Array(experts);
    bufferBytesPerGpu = new Float64Array(gpus);
    // room for every expert, so that any later plan can reuse this one's arrays
    touched = new Int32Array(Math.max(experts, 64));
  }
  let nTouched = 0;
  try {
    for (let t = 0; t < tokens; t++) {
      const g = tokenGpu[t];
      if (!(g >= 0 && g < gpus)) badTokenGpu(t, g, gpus);
      const row = g * gpus;
      for (let k = 0; k < topK; k++) {
        const e = picks[t * topK + k];
        if (!(e >= 0 && e < experts)) {
          if (e === NO_PICK) continue; // the out-of-range test first: the common path pays one compare
          badPick(t, e, experts);
        }
        const eg = expertGpu[e];
        if (!(eg >= 0 && eg < gpus)) badExpertGpu(e, eg, gpus);
        sendTokens[row + eg]++;
        if (expertTokens[e]++ === 0) touched[nTouched++] = e;
      }
    }
  } catch (err) {
    // leave the arrays as the contract says (zero but at activeExperts) for a plan reusing them
    for (let i = 0; i < nTouched; i++) expertTokens[touched[i]] = 0;
    throw err;
  }
  const active = touched.subarray(0, nTouched);
  let keptTotal = 0;
  let rowTotal = 0;
  for (let i = 0; i < nTouched; i++) {
    const e = active[i];
    const n = expertTokens[e];
    const rows = computeRows ? computeRows(e, n) : n;
    expertRows[e] = rows;
    keptTotal += n;
    rowTotal += rows;
  }
  for (let i = 0; i < sendTokens.length; i++) sendBytes[i] = sendTokens[i] * tokenBytes;
  for (let g = 0; g < gpus; g++) {
    let out = 0;
    for (let d = 0; d < gpus; d++) out += sendTokens[g * gpus + d];
    bufferBytesPerGpu[g] = out * tokenBytes;
  }
  // Integer byte counts (< 2^53): the sum does not depend on the order of the experts.
  for (let i = 0; i < nTouched; i++) bufferBytesPerGpu[expertGpu[active[i]]] += expertRows[active[i]] * tokenBytes;
  // (keptTotal and rowTotal are integer sums too: the order of `active` does not matter.)
  const plan = planOf(
    policy,
    input,
    { sendTokens, sendBytes, expertRows, expertTokens, bufferBytesPerGpu },
    keptTotal,
    rowTotal,
    flags,
  );
  plan.activeExperts = active;
  return plan;
}

/**
 * sparsePlan's plan from per-expert loads (load-level routing): each expert's rows come from the source GPUs in
 * proportion to their tokens (the expected split; a GPU's sends are then fractional rows). The per-expert arrays,
 * the per-GPU receive totals and the dispatched count are exact; `computeRows` as in sparsePlan.
 */
export function loadPlan(
  policy: string,
  input: LoadGatingInput,
  flags: PlanShape,
  computeRows?: (e: number, realRows: number) => number,
  reuse?: GatingPlan,
): GatingPlan {
  const { tokens, experts, gpus, tokensPerGpu, expertLoads, expertGpu, tokenBytes } = input;
  const cells = input.sendMatrix === false ? 0 : gpus * gpus;
  const fits =
    reuse !== undefined &&
    reuse.activeExperts !== undefined &&
    reuse.sendTokens.length === cells &&
    reuse.expertRows.length === experts &&
    reuse.bufferBytesPerGpu.length === gpus &&
    reuse.activeExperts.buffer.byteLength >= experts * 4;
  const sendTokens = fits ? reuse.sendTokens : new Float64Array(cells);
  const sendBytes = fits ? reuse.sendBytes : new Float64Array(cells);
  const expertRows = fits ? reuse.expertRows.fill(0) : new Int32Array(experts);
  const expertTokens = fits ? reuse.expertTokens.fill(0) : new Int32Array(experts);
  const bufferBytesPerGpu = fits ? reuse.bufferBytesPerGpu : new Float64Array(gpus);
  const touched = fits ? new Int32Array(reuse.activeExperts!.buffer, 0, experts) : new Int32Array(experts);
  const reused = fits ? reuse.sendFactors : undefined;
  const share = reused?.share.length === gpus ? reused.share : new Float64Array(gpus);
  const recv = reused?.recv.length === gpus ? reused.recv.fill(0) : new Float64Array(gpus); // receive rows per GPU
  let nTouched = 0;
  let keptTotal = 0;
  let rowTotal = 0;
  for (let e = 0; e < experts; e++) {
    const n = expertLoads[e];
    if (n === 0) continue;
    const eg = expertGpu[e];
    if (!(eg >= 0 && eg < gpus)) badExpertGpu(e, eg, gpus);
    const rows = computeRows ? computeRows(e, n) : n;
    expertTokens[e] = n;
    expertRows[e] = rows;
    touched[nTouched++] = e;
    recv[eg] += n;
    keptTotal += n;
    rowTotal += rows;
  }
  // Row g sends share_g x (all picks) rows: its buffer's outgoing part, without a pass over its row.
  for (let g = 0; g < gpus; g++) {
    const sg = (share[g] = tokens > 0 ? tokensPerGpu[g] / tokens : 0);
    const row = g * gpus;
    if (cells > 0)
      for (let d = 0; d < gpus; d++) {
        const v = (sendTokens[row + d] = sg * recv[d]);
        sendBytes[row + d] = v * tokenBytes;
      }
  }
  for (let g = 0; g < gpus; g++) bufferBytesPerGpu[g] = share[g] * keptTotal * tokenBytes;
  for (let i = 0; i < nTouched; i++) bufferBytesPerGpu[expertGpu[touched[i]]] += expertRows[touched[i]] * tokenBytes;
  const plan = planOf(
    policy,
    { tokens, topK: input.topK },
    { sendTokens, sendBytes, expertRows, expertTokens, bufferBytesPerGpu },
    keptTotal,
    rowTotal,
    flags,
  );
  plan.activeExperts = touched.subarray(0, nTouched);
  plan.sendFactors = { share, recv, tokenBytes };
  return plan;
}

/** Tokens held by each GPU. */
export function tokensPerGpu(input: GatingInput): Int32Array {
  const c = new Int32Array(input.gpus);
  for (let t = 0; t < input.tokens; t++) c[input.tokenGpu[t]]++;
  return c;
}

/**
 * A plan in which each (source GPU, expert) pair sends rows[g * experts + e] rows, of which
 * kept[g * experts + e] are real; every GPU's buffer holds its outgoing and incoming rows (both
 * directions of the exchange reuse them for the combine), plus `extraBytesPerGpu`.
 */
export function assemblePlan(
  policy: string,
  input: GatingInput,
  rows: Int32Array,
  kept: Int32Array,
  flags: PlanShape & { capacity?: number },
  computeRows?: (e: number, realRows: number) => number,
  extraBytesPerGpu?: Float64Array,
): GatingPlan {
  const { experts, gpus, tokenBytes, expertGpu } = input;
  const sendTokens = new Float64Array(gpus * gpus);
  const expertRows = new Int32Array(experts);
  const expertTokens = new Int32Array(experts);
  for (let g = 0; g < gpus; g++) {
    for (let e = 0; e < experts; e++) {
      const i = g * experts + e;
      sendTokens[g * gpus + expertGpu[e]] += rows[i];
      expertRows[e] += rows[i];
      expertTokens[e] += kept[i];
    }
  }
  let keptTotal = 0;
  let rowTotal = 0;
  for (let e = 0; e < experts; e++) {
    if (computeRows) expertRows[e] = computeRows(e, expertRows[e]);
    keptTotal += expertTokens[e];
    rowTotal += expertRows[e];
  }
  const sendBytes = new Float64Array(gpus * gpus);
  for (let i = 0; i < sendTokens.length; i++) sendBytes[i] = sendTokens[i] * tokenBytes;
  const bufferBytesPerGpu = new Float64Array(gpus);
  for (let g = 0; g < gpus; g++) {
    let out = 0;
    for (let d = 0; d < gpus; d++) out += sendTokens[g * gpus + d];
    bufferBytesPerGpu[g] = out * tokenBytes + (extraBytesPerGpu?.[g] ?? 0);
  }
  for (let e = 0; e < experts; e++) bufferBytesPerGpu[expertGpu[e]] += expertRows[e] * tokenBytes;
  const plan = planOf(
    policy,
    input,
    { sendTokens, sendBytes, expertRows, expertTokens, bufferBytesPerGpu },
    keptTotal,
    rowTotal,
    flags,
  );
  if (flags.capacity !== undefined) plan.capacity = flags.capacity;
  return plan;
}

/** The plan record both assemblers return: the arrays, the token totals they imply, and the gate's flags. */
function planOf(
  policy: string,
  input: Pick<GatingInput, "tokens" | "topK">,
  a: Pick<GatingPlan, "sendTokens" | "sendBytes" | "expertRows" | "expertTokens" | "bufferBytesPerGpu">,
  keptTotal: number,
  rowTotal: number,
  flags: PlanShape,
): GatingPlan {
  const dispatched = input.tokens * input.topK;
  return {
    policy,
    sendTokens: a.sendTokens,
    sendBytes: a.sendBytes,
    expertRows: a.expertRows,
    expertTokens: a.expertTokens,
    dispatched,
    dropped: dispatched - keptTotal,
    padded: rowTotal - keptTotal,
    combined: keptTotal,
    exchange: flags.exchange,
    perExpertLoop: flags.perExpertLoop,
    bufferBytesPerGpu: a.bufferBytesPerGpu,
  };
}
