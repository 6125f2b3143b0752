/** Per-token routes (TokenRoutes) from a MoE layer's picks, for the algorithms that deduplicate per token. */
import type { TokenRoutes } from "./context.js";

/**
 * Token t on GPU tokenGpu[t], routed to experts picks[t * topK .. + topK) on GPUs expertGpu[e]
 * (negative picks, dropped, are skipped); the arrays are copied, so the caller may reuse its own.
 */
export function routesFromPicks(
  picks: ArrayLike<number>,
  topK: number,
  tokenGpu: ArrayLike<number>,
  expertGpu: ArrayLike<number>,
  tokenBytes: number,
): TokenRoutes {
  const tokens = Math.floor(picks.length / topK);
  const src = new Int32Array(tokens);
  const start = new Int32Array(tokens + 1);
  const dst = new Int32Array(tokens * topK);
  let q = 0;
  for (let t = 0; t < tokens; t++) {
    src[t] = tokenGpu[t];
    start[t] = q;
    for (let k = 0; k < topK; k++) {
      const e = picks[t * topK + k];
      if (e >= 0) dst[q++] = expertGpu[e];
    }
  }
  start[tokens] = q;
  return { src, start, dst: dst.subarray(0, q), tokenBytes, direction: "dispatch" };
}
