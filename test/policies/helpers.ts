import { existsSync, readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import type { RoutingTrace } from "../../src/workload/trace.js";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const OLMOE_TRACE = resolve(repoRoot, "../shared/traces/olmoe-1b-7b-decode.jsonl.gz");

/** Why the real-trace tests cannot run, or null. Under CI a missing trace is a failure, not a skip. */
export function realTraceMissing(): string | null {
  if (existsSync(OLMOE_TRACE)) return null;
  if (process.env.CI) throw new Error(`CI: the real trace ${OLMOE_TRACE} is missing`);
  return `real trace not found at ${OLMOE_TRACE} (../shared absent)`;
}

/** Minimal loader of the OLMoE gzip JSONL trace (header line, then one line per token). */
export function loadOlmoe(path = OLMOE_TRACE): RoutingTrace {
  const lines = gunzipSync(readFileSync(path)).toString("utf8").split("\n").filter((l) => l.length > 0);
  const header = JSON.parse(lines[0]) as { layers: number; experts: number; top_k: number; expert_bytes: number; model: string };
  const tokens = lines.length - 1;
  const { layers, experts, top_k: topK } = header;
  const picks = new Uint16Array(tokens * layers * topK);
  const seq = new Int32Array(tokens);
  const step = new Int32Array(tokens);
  for (let t = 0; t < tokens; t++) {
    const r = JSON.parse(lines[t + 1]) as { seq: number; step: number; experts: number[][] };
    seq[t] = r.seq;
    step[t] = r.step;
    for (let l = 0; l < layers; l++) for (let k = 0; k < topK; k++) picks[(t * layers + l) * topK + k] = r.experts[l][k];
  }
  return { layers, experts, topK, tokens, picks, seq, step, meta: { model: header.model, expertBytes: header.expert_bytes, source: path } };
}
