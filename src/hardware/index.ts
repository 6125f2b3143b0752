export * from "./devices.js";
export * from "./presets.js";
export * from "./cost.js";
export * from "./memory.js";
export * from "./network.js";
export * from "./cluster.js";
export * from "./profile.js";
export * from "./validate.js";
