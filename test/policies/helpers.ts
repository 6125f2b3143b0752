import { existsSync } from "node:fs";
import type { RoutingTrace } from "../../src/workload/trace.js";
import { readTrace } from "../../src/workload/read.js";

import { REAL_TRACE as OLMOE_TRACE } from "../workload/shared.js";

export { repoRoot } from "../workload/shared.js";
export { OLMOE_TRACE };

/** Why the real-trace tests cannot run, or null. Under CI a missing trace is a failure, not a skip. */
export function realTraceMissing(): string | null {
  if (existsSync(OLMOE_TRACE)) return null;
  if (process.env.CI) throw new Error(`CI: the real trace ${OLMOE_TRACE} is missing`);
  return `real trace not found at ${OLMOE_TRACE} (../shared absent)`;
}

let cached: Promise<RoutingTrace> | undefined;
/** The real OLMoE decode trace, read once per test file. */
export function loadOlmoe(): Promise<RoutingTrace> {
  cached ??= readTrace(OLMOE_TRACE);
  return cached;
}
