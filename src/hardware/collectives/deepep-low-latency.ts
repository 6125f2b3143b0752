/**
 * DeepEP's low-latency dispatch and combine (deepseek-ai/DeepEP, csrc/kernels/internode_ll.cu;
 * docs/hardware.md, "Dispatch and combine algorithms"): one message per (token, routed expert),
 * no deduplication, each straight to the expert's GPU: over RDMA (the source GPU's NIC to the
 * destination GPU's NIC) across nodes, over NVLink within a node (DeepEP's default,
 * allow_nvlink_for_low_latency_mode, with which its published figures were taken). The kernel
 * posts its messages without taking SMs from compute once sent (its receive hook), so a caller may
 * overlap it with compute.
 *
 * One constant, fitted on DeepEP's EP64 dispatch latency (docs/hardware.md): a cost per message
 * (the sending warps cast and post one RDMA work request per (token, expert), and the receiver
 * polls per expert), paid by the busiest sender before its data moves; the op's time is that plus
 * its flows on the links at their full rates. Without per-token routes every nonzero (source,
 * destination) pair counts as one message.
 *
 * Each dispatch message is the token row in the exchange's precision (precision.ts) after a 16-byte
 * header (the source token index and three reserved ints: `sizeof(int4)` in internode_ll.cu's
 * num_bytes_per_msg); a combine message is the BF16 row alone (its num_send_bytes).
 */
import type { AllToAllAlgorithm, TokenRoutes } from "./context.js";
import { startMatrix } from "./deepep-layout.js";

/** Cost of one (token, expert) message, ns (fitted: EP64 dispatch, 1024 messages per GPU). */
export const DEEPEP_LL_MESSAGE_NS = 21.2;

/** Header bytes of one dispatch message (internode_ll.cu: `sizeof(int4)` before the row). */
export const DEEPEP_LL_DISPATCH_HEADER_BYTES = 16;

/**
 * Bytes per (source member, destination member): one message per routed expert, no dedup, each a
 * row plus (dispatch) its header; and messages per sender.
 */
export function lowLatencyBytes(
  n: number,
  sizes: ArrayLike<number>,
  routes?: TokenRoutes,
): { bytes: Float64Array; messages: Float64Array } {
  const m = new Float64Array(n * n);
  const messages = new Float64Array(n);
  if (routes === undefined) {
    for (let i = 0; i < n * n; i++) {
      m[i] = sizes[i] > 0 ? sizes[i] : 0;
      if (m[i] > 0) messages[Math.floor(i / n)]++;
    }
    return { bytes: m, messages };
  }
  const back = routes.direction === "combine";
  const { src, start, dst } = routes;
  const tokenBytes = routes.tokenBytes + (back ? 0 : DEEPEP_LL_DISPATCH_HEADER_BYTES);
  for (let t = 0; t < src.length; t++) {
    for (let q = start[t]; q < start[t + 1]; q++) {
      const [a, b] = back ? [dst[q], src[t]] : [src[t], dst[q]];
      m[a * n + b] += tokenBytes;
      messages[a]++;
    }
  }
  return { bytes: m, messages };
}

export const deepepLowLatencyAllToAll: AllToAllAlgorithm = {
  name: "deepep-low-latency",
  launchOverheadNs: 0,
  applies: () => true,
  run(ctx, group, sizes, _count, _whole, onDone, routes) {
    const { bytes, messages } = lowLatencyBytes(group.length, sizes, routes);
    let most = 0;
    for (const m of messages) most = Math.max(most, m);
    const start = (): void => startMatrix(ctx, group, bytes, bytes, 1, onDone);
    ctx.sim.scheduleRaw(Math.round(most * DEEPEP_LL_MESSAGE_NS), start, 0, "deepep.messages");
  },
};
