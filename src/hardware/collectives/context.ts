/** What a collective algorithm needs of the cluster it runs on. */
import type { Simulation } from "../../sim/engine.js";
import type { NetworkModel, PairRoutes } from "../network/index.js";

export interface CollectiveContext {
  readonly sim: Simulation;
  readonly net: NetworkModel;
  /** Writes the route (link ids) from endpoint src to dst into r; returns its length. */
  route(src: number, dst: number, r: Int32Array): number;
  /** The routes between a group's members (memoised per group array). */
  groupRoutes(group: readonly number[]): PairRoutes;
  nodeOf(gpu: number): number;
}

/**
 * Per-token destinations of a dispatch (or, reversed, of its combine): what the DeepEP-style
 * algorithms need beyond the size matrix, since they send a token once per destination node
 * (normal) or once per routed expert (low latency). Token t sits on group member src[t]; its
 * routed experts live on members dst[start[t] .. start[t + 1]), one entry per routed expert
 * (repeats allowed: two experts on one GPU). Member indices are positions in the group array.
 */
export interface TokenRoutes {
  src: Int32Array;
  start: Int32Array;
  dst: Int32Array;
  /** Bytes of one token row as this exchange sends it (e.g. FP8 with its scales, or BF16). */
  tokenBytes: number;
  /** "dispatch": tokens go from src to their experts' members; "combine": the experts' outputs go back. */
  direction: "dispatch" | "combine";
}

/**
 * An all-to-all algorithm: member i of `group` sends sizes[i * n + j] bytes to member j (sizes
 * already checked: `count` nonzero, `whole` when all are whole numbers); onDone once all arrived.
 * Algorithms that deduplicate per token read `routes` when the caller has them (and then ignore
 * `sizes`); without them they fall back to the size matrix, every byte counted as distinct.
 */
export interface AllToAllAlgorithm {
  readonly name: string;
  /** Fixed cost of one op, ns, paid before data moves (default: the node's collectiveOverheadNs). */
  readonly launchOverheadNs?: number;
  /** Whether the algorithm can run over this group (otherwise the caller falls back to "flat"). */
  applies(ctx: CollectiveContext, group: readonly number[]): boolean;
  run(
    ctx: CollectiveContext,
    group: number[],
    sizes: ArrayLike<number>,
    count: number,
    whole: boolean,
    onDone: () => void,
    routes?: TokenRoutes,
  ): void;
}
