/**
 * Collective algorithms, one file each, each turning sizes into the transfers it starts on a
 * NetworkModel. All-to-all algorithms (and future dispatch/combine variants) register by name.
 */
import { flatAllToAll } from "./all-to-all.js";
import type { AllToAllAlgorithm } from "./context.js";
import { hierarchicalAllToAll } from "./hierarchical-all-to-all.js";
import { deepepNormalAllToAll } from "./deepep-normal.js";
import { deepepLowLatencyAllToAll } from "./deepep-low-latency.js";

export type { AllToAllAlgorithm, CollectiveContext, TokenRoutes } from "./context.js";
export { flatAllToAll } from "./all-to-all.js";
export { hierarchicalAllToAll } from "./hierarchical-all-to-all.js";
export { deepepNormalAllToAll, normalTraffic, DEEPEP_NORMAL_CHUNKS } from "./deepep-normal.js";
export {
  deepepLowLatencyAllToAll,
  lowLatencyBytes,
  DEEPEP_LL_MESSAGE_NS,
  DEEPEP_LL_DISPATCH_HEADER_BYTES,
} from "./deepep-low-latency.js";
export { routesFromPicks } from "./token-routes.js";
export {
  WIRE_PRECISIONS,
  FP8_SCALE_CHANNELS,
  FP8_SCALE_BYTES,
  tokenRowBytes,
  exchangeRowBytes,
  type WirePrecision,
  type ExchangePrecision,
} from "./precision.js";
export { ringAllGather } from "./all-gather.js";
export { ringAllReduce } from "./ring-all-reduce.js";
export { ringRounds } from "./ring.js";

const allToAlls = new Map<string, AllToAllAlgorithm>();

/** Makes an all-to-all algorithm available by its name. */
export function registerAllToAll(algo: AllToAllAlgorithm): void {
  if (allToAlls.has(algo.name)) throw new Error(`all-to-all algorithm "${algo.name}" is already registered`);
  allToAlls.set(algo.name, algo);
}

/** The all-to-all algorithm of that name. */
export function allToAllAlgorithm(name: string): AllToAllAlgorithm {
  const a = allToAlls.get(name);
  if (a === undefined) {
    throw new Error(`unknown all-to-all algorithm "${name}"; known: ${[...allToAlls.keys()].join(", ")}`);
  }
  return a;
}

/** NCCL's all-to-all as moesim models it: the flat per-pair sends (the dispatch algorithm `nccl`). */
export const ncclAllToAll: AllToAllAlgorithm = { ...flatAllToAll, name: "nccl" };

/** The names a scenario's cluster.dispatch may give. */
export const DISPATCH_ALGORITHMS = ["nccl", "hierarchical", "deepep-normal", "deepep-low-latency"] as const;

registerAllToAll(flatAllToAll);
registerAllToAll(hierarchicalAllToAll);
registerAllToAll(ncclAllToAll);
registerAllToAll(deepepNormalAllToAll);
registerAllToAll(deepepLowLatencyAllToAll);
