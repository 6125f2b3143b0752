/**
 * Flat all-to-all: one flow per nonzero (member, member) size, all started together over the
 * group's precomputed routes (the diagonal is a local copy through the GPU's HBM link, as NCCL does).
 */
import type { AllToAllAlgorithm } from "./context.js";

export const flatAllToAll: AllToAllAlgorithm = {
  name: "flat",
  applies: () => true,
  run(ctx, group, sizes, count, whole, onDone) {
    ctx.net.runAllToAllChecked(ctx.groupRoutes(group), sizes, count, whole, onDone);
  },
};
