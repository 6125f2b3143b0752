/** Ring all-reduce of `bytes` per member: reduce-scatter then all-gather, 2 (n - 1) rounds of bytes / n. */
import type { CollectiveContext } from "./context.js";
import { ringRounds } from "./ring.js";

export function ringAllReduce(
  ctx: CollectiveContext,
  group: readonly number[],
  bytes: number,
  onDone: () => void,
): void {
  const n = group.length;
  ringRounds(ctx, group, 2 * (n - 1), bytes / n, onDone);
}
