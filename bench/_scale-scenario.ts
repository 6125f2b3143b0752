/**
 * bench/scale's scenario: DeepSeek-V3 decode on HGX H800 nodes, 128 tokens (requests) per GPU per
 * step, data-parallel attention and the experts over all GPUs, per-token or load-level synthetic
 * routing. test/scenario/load-routing.test.ts holds its accuracy guard on the same scenario.
 */
import { summarize } from "../src/moe/metrics.js";

export type NetworkModel = "flow" | "analytic";
export type Routing = "tokens" | "load";

export const TOKENS_PER_GPU = 128;
/** DeepSeek-V3's 671 GB of FP8 weights do not fit 8 x 80 GB: at 8 GPUs the GPU memory is raised (H200's 141 GB). */
const HBM_8 = ", overrides: { gpu: { hbmBytes: 141000000000 } }";

export function deepseekDecodeYaml(o: {
  gpus: number;
  steps: number;
  network: NetworkModel;
  routing: Routing;
  name?: string;
}): string {
  const requests = TOKENS_PER_GPU * o.gpus;
  return [
    ...(o.name ? [`name: ${o.name}`] : []),
    "seed: 2026",
    `cluster: { preset: hgx-h800, nodes: ${o.gpus / 8}, network_model: ${o.network}${o.gpus === 8 ? HBM_8 : ""} }`,
    "model: { preset: deepseek-v3 }",
    `trace: { synthetic: { zipf: 0.5, locality: 0.1, sequences: ${requests}, tokens_per_sequence: ${o.steps} } }`,
    "workload:",
    "  phase: decode",
    `  batching: { kind: static, batch_size: ${requests} }`,
    "  context_tokens: 1024",
    `  max_steps: ${o.steps}`,
    `  routing: ${o.routing}`,
    "parallelism: { tensor: 1 }",
    "outputs: { timelines: false, report: false }",
  ].join("\n");
}

/** Step-time (latency) mean and nearest-rank p99 of a run's steps, ns. */
export function stepTimeStats(steps: ReadonlyArray<{ latency_ns: number }>): { mean: number; p99: number } {
  const s = summarize(steps.map((x) => x.latency_ns));
  return { mean: s.mean, p99: s.p99 };
}
