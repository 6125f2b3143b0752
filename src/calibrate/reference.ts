/** CPU references for the kernels (plain loops in float64 accumulation), used by tests and benches. */
import type { Activation } from "./kernels/matmul.js";

/** C[m, n] = A[m, k] · B[k, n], row-major. */
export function matmulCpu(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number): Float32Array {
  const c = new Float32Array(m * n);
  const row = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    row.fill(0);
    for (let p = 0; p < k; p++) {
      const av = a[i * k + p];
      const off = p * n;
      for (let j = 0; j < n; j++) row[j] += av * b[off + j];
    }
    for (let j = 0; j < n; j++) c[i * n + j] = row[j];
  }
  return c;
}

export function gelu(x: number): number {
  return 0.5 * x * (1 + Math.tanh(0.7978845608 * (x + 0.044715 * x * x * x)));
}
export function silu(x: number): number {
  return x / (1 + Math.exp(-x));
}

/** One expert FFN on CPU: act(X·W1 [, X·W3]) · W2. */
export function expertFfnCpu(
  x: ArrayLike<number>,
  w1: ArrayLike<number>,
  w3: ArrayLike<number> | null,
  w2: ArrayLike<number>,
  rows: number,
  dModel: number,
  dFf: number,
  act: Exclude<Activation, "none">,
): Float32Array {
  const g = matmulCpu(x, w1, rows, dModel, dFf);
  const h = new Float32Array(rows * dFf);
  if (act === "swiglu") {
    if (w3 === null) throw new Error("swiglu needs the up projection");
    const u = matmulCpu(x, w3, rows, dModel, dFf);
    for (let i = 0; i < h.length; i++) h[i] = silu(g[i]) * u[i];
  } else {
    for (let i = 0; i < h.length; i++) h[i] = gelu(g[i]);
  }
  return matmulCpu(h, w2, rows, dFf, dModel);
}

/** max |a - b| / max |b|: the relative error of a result against its reference. */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch ${a.length} vs ${b.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return den === 0 ? num : num / den;
}

/**
 * Gating on CPU: softmax over each token's logits, top-k (ties to the lower index), per-expert counts, and the token
 * order sorted by expert (stable).
 */
export function gatingCpu(logits: ArrayLike<number>, tokens: number, experts: number, k: number) {
  const topIdx = new Uint32Array(tokens * k);
  const topW = new Float32Array(tokens * k);
  const counts = new Uint32Array(experts);
  for (let t = 0; t < tokens; t++) {
    let mx = -Infinity;
    for (let e = 0; e < experts; e++) mx = Math.max(mx, logits[t * experts + e]);
    let sum = 0;
    const p = new Float64Array(experts);
    for (let e = 0; e < experts; e++) sum += p[e] = Math.exp(logits[t * experts + e] - mx);
    const taken = new Uint8Array(experts);
    for (let j = 0; j < k; j++) {
      let best = -1;
      for (let e = 0; e < experts; e++) if (!taken[e] && (best < 0 || p[e] > p[best])) best = e;
      taken[best] = 1;
      topIdx[t * k + j] = best;
      topW[t * k + j] = p[best] / sum;
      counts[best]++;
    }
  }
  const offsets = new Uint32Array(experts + 1);
  for (let e = 0; e < experts; e++) offsets[e + 1] = offsets[e] + counts[e];
  /** order[pos] = token*k + j of the pick placed at sorted position pos. */
  const order = new Uint32Array(tokens * k);
  const cursor = offsets.slice(0, experts);
  for (let i = 0; i < tokens * k; i++) order[cursor[topIdx[i]]++] = i;
  return { topIdx, topW, counts, offsets, order };
}
