export * from "./time.js";
export * from "./errors.js";
export * from "./queue.js";
export * from "./engine.js";
export * from "./resource.js";
export * from "./rng.js";
export * from "./log.js";
