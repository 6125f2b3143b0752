/** Ring rounds, the building block of the ring collectives. */
import { MAX_ROUTE } from "../network/index.js";
import type { CollectiveContext } from "./context.js";

/**
 * In each of `steps` rounds every member sends `bytes` to the next; a round starts when the
 * previous one has arrived.
 */
export function ringRounds(
  ctx: CollectiveContext,
  group: readonly number[],
  steps: number,
  bytes: number,
  onDone: () => void,
): void {
  const n = group.length;
  if (n < 2 || steps === 0 || !(bytes > 0)) {
    ctx.sim.scheduleRaw(0, onDone, 0, "cluster.ringDone");
    return;
  }
  let step = 0;
  const r = new Int32Array(MAX_ROUTE);
  const round = (): void => {
    if (step++ === steps) {
      onDone();
      return;
    }
    ctx.net.runGroup(n, round, (grp) => {
      for (let i = 0; i < n; i++) {
        const s = group[i];
        const d = group[(i + 1) % n];
        const k = ctx.route(s, d, r);
        ctx.net.startFlow(r, k, bytes, grp, s, d);
      }
    });
  };
  round();
}
