/** Ring all-gather: n - 1 rounds of bytesPerRank per member. */
import type { CollectiveContext } from "./context.js";
import { ringRounds } from "./ring.js";

export function ringAllGather(
  ctx: CollectiveContext,
  group: readonly number[],
  bytesPerRank: number,
  onDone: () => void,
): void {
  ringRounds(ctx, group, group.length - 1, bytesPerRank, onDone);
}
