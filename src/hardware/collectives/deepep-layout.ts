/**
 * What the DeepEP-style algorithms share: the group's layout over nodes (each member's node and
 * its position among its node's members, its "rail"), and starting a matrix of flows as one group.
 */
import { MAX_ROUTE } from "../network/index.js";
import type { CollectiveContext } from "./context.js";

export interface NodeLayout {
  n: number;
  /** Node index (0..nodes-1, in order of first appearance) of each member. */
  nodeOf: Int32Array;
  /** Position of each member among its node's members, in group order. */
  pos: Int32Array;
  /** Members of each node, in group order. */
  members: number[][];
}

export function nodeLayout(ctx: CollectiveContext, group: readonly number[]): NodeLayout {
  const n = group.length;
  const index = new Map<number, number>();
  const nodeOf = new Int32Array(n);
  const pos = new Int32Array(n);
  const members: number[][] = [];
  for (let i = 0; i < n; i++) {
    const nd = ctx.nodeOf(group[i]);
    let ni = index.get(nd);
    if (ni === undefined) {
      ni = members.length;
      index.set(nd, ni);
      members.push([]);
    }
    nodeOf[i] = ni;
    pos[i] = members[ni].length;
    members[ni].push(i);
  }
  return { n, nodeOf, pos, members };
}

/** The member of `node` on member a's rail (same position; wrapped when that node has fewer members). */
export function railPeer(L: NodeLayout, a: number, node: number): number {
  const m = L.members[node];
  return m[L.pos[a] % m.length];
}

/**
 * Starts one flow per nonzero entry of `bytes` (member i -> member j at bytes[i * n + j] / div,
 * `logical[i * n + j] / div` of them delivered to j) as one group; onDone once all arrived.
 */
export function startMatrix(
  ctx: CollectiveContext,
  group: readonly number[],
  bytes: Float64Array,
  logical: Float64Array,
  div: number,
  onDone: () => void,
): void {
  const n = group.length;
  let count = 0;
  for (let i = 0; i < n * n; i++) if (bytes[i] > 0) count++;
  const r = new Int32Array(MAX_ROUTE);
  ctx.net.runGroup(count, onDone, (grp) => {
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const b = bytes[i * n + j];
        if (!(b > 0)) continue;
        const k = ctx.route(group[i], group[j], r);
        ctx.net.startFlow(r, k, b / div, grp, group[i], group[j], logical[i * n + j] / div);
      }
    }
  });
}

/** The transpose of an n x n matrix (a combine runs its dispatch's flows backwards). */
export function transposed(m: Float64Array, n: number): Float64Array {
  const t = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) t[j * n + i] = m[i * n + j];
  return t;
}
