/**
 * Hierarchical all-to-all across nodes, in two phases: inside each node, member a sends member b
 * its bytes for b itself plus those for every remote member at b's position on its node; then
 * members at the same position exchange across nodes (over the NICs) what their node holds for
 * each other. Needs the same number of group members on every node it touches, and > 1 node.
 */
import { MAX_ROUTE } from "../network/index.js";
import type { AllToAllAlgorithm, CollectiveContext } from "./context.js";

function applies(ctx: CollectiveContext, group: readonly number[]): boolean {
  const perNode = new Map<number, number>();
  for (const g of group) perNode.set(ctx.nodeOf(g), (perNode.get(ctx.nodeOf(g)) ?? 0) + 1);
  if (perNode.size < 2) return false;
  const counts = [...perNode.values()];
  return counts.every((c) => c === counts[0]);
}

/** The two phases' sizes: phase 1 (with the bytes it delivers, not forwards) and phase 2. */
function phases(ctx: CollectiveContext, group: readonly number[], sizes: ArrayLike<number>) {
  const n = group.length;
  // position of each member among its node's members (in group order), and the node list
  const nodeIndex = new Map<number, number>();
  const pos = new Int32Array(n);
  const nodeOfMember = new Int32Array(n);
  const counter: number[] = [];
  for (let i = 0; i < n; i++) {
    const nd = ctx.nodeOf(group[i]);
    let ni = nodeIndex.get(nd);
    if (ni === undefined) {
      ni = counter.length;
      nodeIndex.set(nd, ni);
      counter.push(0);
    }
    nodeOfMember[i] = ni;
    pos[i] = counter[ni]++;
  }
  const N = counter.length;
  const P = counter[0];
  const member = new Int32Array(N * P); // member index at (node, position)
  for (let i = 0; i < n; i++) member[nodeOfMember[i] * P + pos[i]] = i;
  // Phase 1 (inside each node): a -> b carries a's bytes for b itself plus for every remote member at b's position.
  const phase1 = new Float64Array(n * n);
  const logical1 = new Float64Array(n * n);
  // Phase 2 (across nodes, same position): b -> c carries the bytes of b's node for c.
  const phase2 = new Float64Array(n * n);
  for (let a = 0; a < n; a++) {
    const na = nodeOfMember[a];
    for (let c = 0; c < n; c++) {
      const bytes = sizes[a * n + c];
      if (!(bytes > 0)) continue;
      const nc = nodeOfMember[c];
      if (nc === na) {
        phase1[a * n + c] += bytes;
        logical1[a * n + c] += bytes;
      } else {
        const b = member[na * P + pos[c]]; // forwarder on a's node at c's position
        if (b !== a) phase1[a * n + b] += bytes;
        phase2[b * n + c] += bytes;
      }
    }
  }
  return { phase1, logical1, phase2 };
}

export const hierarchicalAllToAll: AllToAllAlgorithm = {
  name: "hierarchical",
  applies,
  run(ctx, group, sizes, _count, _whole, onDone) {
    const n = group.length;
    const { phase1, logical1, phase2 } = phases(ctx, group, sizes);
    const r = new Int32Array(MAX_ROUTE);
    const runPhase = (m: Float64Array, logical: Float64Array | null, next: () => void): void => {
      let count = 0;
      for (let i = 0; i < n * n; i++) if (m[i] > 0) count++;
      ctx.net.runGroup(count, next, (grp) => {
        for (let i = 0; i < n; i++) {
          for (let j = 0; j < n; j++) {
            const b = m[i * n + j];
            if (!(b > 0)) continue;
            const k = ctx.route(group[i], group[j], r);
            ctx.net.startFlow(r, k, b, grp, group[i], group[j], logical === null ? b : logical[i * n + j]);
          }
        }
      });
    };
    runPhase(phase1, logical1, () => runPhase(phase2, null, onDone));
  },
};
