/**
 * DeepEP's normal (high-throughput) dispatch and combine (deepseek-ai/DeepEP, csrc/kernels/internode.cu;
 * docs/hardware.md, "Dispatch and combine algorithms"). Dispatch: a token crosses RDMA once per
 * destination node other than its own, to the GPU on its own rail (same local rank) there, however
 * many of its experts live on that node; that GPU forwards it over NVLink to each other GPU of the
 * node holding one of its experts. Tokens for the source's own node go straight over NVLink.
 * Combine runs the same flows backwards: NVLink to the rail GPU (which reduces the token's partial
 * outputs), then one RDMA send per node back to the token's GPU.
 *
 * DeepEP pipelines the two hops in chunks of tokens; here the first hop runs in CHUNKS rounds (with
 * each round, its share of the same-node sends), and each round's second hop starts when that
 * round has arrived, so the two hops overlap and the op costs the slower hop plus one chunk of the other.
 */
import type { AllToAllAlgorithm, CollectiveContext, TokenRoutes } from "./context.js";
import { nodeLayout, railPeer, startMatrix, transposed, type NodeLayout } from "./deepep-layout.js";

/** Pipeline depth of the model: RDMA rounds per op (a modelling choice, not fitted; see docs/hardware.md). */
export const DEEPEP_NORMAL_CHUNKS = 8;

/** The bytes of one dispatch, member x member, by hop (dispatch direction). */
export interface NormalTraffic {
  /** Source member -> rail peer on another node, over RDMA (one token per destination node). */
  rdma: Float64Array;
  /** Of rdma, the bytes whose destination is the rail peer itself. */
  rdmaLogical: Float64Array;
  /** Rail peer -> destination member on its node, over NVLink (tokens that came over RDMA). */
  forward: Float64Array;
  /** Source member -> destination member on the same node, over NVLink. */
  direct: Float64Array;
}

function emptyTraffic(n: number): NormalTraffic {
  const z = (): Float64Array => new Float64Array(n * n);
  return { rdma: z(), rdmaLogical: z(), forward: z(), direct: z() };
}

/** A token's (or a byte count's) way from member a to member d, with `rdmaBytes` sent over RDMA for it. */
function addDelivery(L: NodeLayout, T: NormalTraffic, a: number, d: number, b: number, rdmaBytes: number): void {
  const n = L.n;
  if (L.nodeOf[d] === L.nodeOf[a]) {
    if (d !== a) T.direct[a * n + d] += b;
    return;
  }
  const f = railPeer(L, a, L.nodeOf[d]);
  if (rdmaBytes > 0) T.rdma[a * n + f] += rdmaBytes;
  if (d === f) T.rdmaLogical[a * n + f] += b;
  else T.forward[f * n + d] += b;
}

/**
 * The traffic of a dispatch by hop: from per-token routes (deduplicated per node over RDMA and per
 * GPU over NVLink), or, without them, from the size matrix (every byte distinct: no dedup).
 */
export function normalTraffic(
  ctx: CollectiveContext,
  group: readonly number[],
  sizes: ArrayLike<number>,
  routes?: TokenRoutes,
): NormalTraffic {
  const L = nodeLayout(ctx, group);
  const n = L.n;
  const T = emptyTraffic(n);
  if (routes === undefined) {
    for (let a = 0; a < n; a++)
      for (let d = 0; d < n; d++) if (sizes[a * n + d] > 0) addDelivery(L, T, a, d, sizes[a * n + d], sizes[a * n + d]);
    return T;
  }
  const { src, start, dst, tokenBytes: B } = routes;
  const gpuMark = new Int32Array(n);
  const nodeMark = new Int32Array(L.members.length);
  for (let t = 0; t < src.length; t++) {
    const a = src[t];
    const stamp = t + 1;
    for (let q = start[t]; q < start[t + 1]; q++) {
      const d = dst[q];
      if (gpuMark[d] === stamp) continue;
      gpuMark[d] = stamp;
      const nd = L.nodeOf[d];
      const first = nodeMark[nd] !== stamp;
      nodeMark[nd] = stamp;
      addDelivery(L, T, a, d, B, first ? B : 0);
    }
  }
  return T;
}

function applies(ctx: CollectiveContext, group: readonly number[]): boolean {
  return group.length > 0 && ctx.nodeOf(group[0]) >= 0;
}

export const deepepNormalAllToAll: AllToAllAlgorithm = {
  name: "deepep-normal",
  applies,
  run(ctx, group, sizes, _count, _whole, onDone, routes) {
    const n = group.length;
    const T = normalTraffic(ctx, group, sizes, routes);
    const combine = routes?.direction === "combine";
    const zero = new Float64Array(n * n);
    // dispatch: RDMA rounds, then their NVLink forwarding; combine: NVLink to the rail GPU, then RDMA back
    const first = combine ? { b: transposed(T.forward, n), l: zero } : { b: T.rdma, l: T.rdmaLogical };
    const second = combine ? { b: transposed(T.rdma, n), l: transposed(T.rdma, n) } : { b: T.forward, l: T.forward };
    const direct = combine ? transposed(T.direct, n) : T.direct;
    const K = DEEPEP_NORMAL_CHUNKS;
    let pending = 2 * K;
    const finish = (): void => {
      if (--pending === 0) onDone();
    };
    let round = 0;
    const next = (): void => {
      if (round++ === K) return;
      startMatrix(ctx, group, direct, direct, K, finish);
      startMatrix(ctx, group, first.b, first.l, K, () => {
        startMatrix(ctx, group, second.b, second.l, K, finish);
        next();
      });
    };
    next();
  },
};
