export * from "./devices.js";
export * from "./presets.js";
export * from "./cost.js";
export * from "./memory.js";
// (the interface as Network here: Cluster's NetworkModel is the option's name, "flow" | "analytic")
export {
  AnalyticNetwork,
  FlowNetwork,
  MAX_ROUTE,
  MaxMin,
  pairRoutes,
  type LinkKind,
  type LinkStat,
  type NetworkModel as Network,
  type PairRoutes,
} from "./network/index.js";
export * from "./collectives/index.js";
export * from "./cluster.js";
export * from "./profile.js";
export * from "./validate.js";
