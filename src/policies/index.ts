/** Policies: gating, expert buffering and placement, each a registry of pure policies by name. */
export * from "./gating/index.js";
export * from "./buffering/index.js";
export * from "./placement/index.js";
export * from "./access.js";
