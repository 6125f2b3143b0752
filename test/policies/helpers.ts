import { existsSync } from "node:fs";
import { resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import type { RoutingTrace } from "../../src/workload/trace.js";
import { readTrace } from "../../src/workload/read.js";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const OLMOE_TRACE = resolve(repoRoot, "../shared/traces/olmoe-1b-7b-decode.jsonl.gz");

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
