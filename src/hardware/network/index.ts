export { MAX_ROUTE, pairRoutes, type LinkKind, type PairRoutes } from "./routes.js";
export type { LinkStat, NetworkModel } from "./core.js";
export { MaxMin } from "./maxmin.js";
export { FlowNetwork } from "./fast-path.js";
export { AnalyticNetwork } from "./analytic.js";
export { ProductSizes } from "./product-sizes.js";
