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
 * An all-to-all algorithm: member i of `group` sends sizes[i * n + j] bytes to member j (sizes
 * already checked: `count` nonzero, `whole` when all are whole numbers); onDone once all arrived.
 */
export interface AllToAllAlgorithm {
  readonly name: string;
  /** Whether the algorithm can run over this group (otherwise the caller falls back to "flat"). */
  applies(ctx: CollectiveContext, group: readonly number[]): boolean;
  run(
    ctx: CollectiveContext,
    group: number[],
    sizes: ArrayLike<number>,
    count: number,
    whole: boolean,
    onDone: () => void,
  ): void;
}
