import type { ReportInput } from "./data.js";
import { shortKey } from "./charts/common.js";
import { fmtBytes } from "../util/format.js";

/** The summary table of a report: a header row and rows of cells (strings). */
export interface SummaryTable {
  caption: string;
  header: string[];
  rows: string[][];
}

const num = (x: number, d = 1): string => (Number.isFinite(x) ? x.toFixed(d) : "-");
const bytes = fmtBytes;
const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

export function summaryTable(input: ReportInput): SummaryTable {
  if (input.kind === "run") {
    const s = input.summary;
    const rows: string[][] = [
      ["scenario", s.scenario],
      [
        "model / trace",
        `${s.model} / ${s.trace.source} (${s.trace.tokens} tokens, ${s.trace.experts} experts, top-${s.trace.top_k})`,
      ],
      [
        "cluster",
        `${s.cluster.nodes} x ${s.cluster.preset} (${s.cluster.gpus} x ${s.cluster.gpu}, ${s.cluster.cost_model})`,
      ],
      [
        "policies",
        `gating ${s.policies.gating}, ` +
          `buffering ${s.policies.buffering}${s.policies.slots ? ` (${s.policies.slots} slots)` : ""}, ` +
          `placement ${s.policies.placement}`,
      ],
      ["throughput", `${num(s.tokens_per_s)} tokens/s${s.oom ? " (OUT OF MEMORY)" : ""}`],
      [
        "step latency",
        `mean ${num(s.step_latency_ms.mean, 3)} ms, p50 ${num(s.step_latency_ms.p50, 3)} ms, ` +
          `p99 ${num(s.step_latency_ms.p99, 3)} ms`,
      ],
      ["steps / tokens", `${s.steps} / ${s.tokens} (${num(s.simulated_s, 4)} s simulated)`],
      [
        "peak memory",
        `${bytes(s.memory.peak_bytes_max)} of ${bytes(s.memory.capacity_bytes)} per GPU; ` +
          `activations ${bytes(s.memory.peak_activation_bytes)}`,
      ],
      ["max GPU share", `${pct(s.load.max_gpu_share_mean)} mean, ${pct(s.load.max_gpu_share_worst)} worst step`],
    ];
    if (s.cache)
      rows.push([
        "expert cache",
        `${s.cache.misses} misses / ${s.cache.requests} requests ` +
          `(${pct(s.cache.miss_rate)}), ${bytes(s.cache.bytes_moved)} moved`,
      ]);
    if (s.dense_baseline)
      rows.push([
        "dense baseline",
        `${num(s.dense_baseline.tokens_per_s)} tokens/s; MoE ${num(s.dense_baseline.moe_slowdown, 2)}x slower`,
      ]);
    return { caption: "Run summary", header: ["metric", "value"], rows };
  }
  if (input.kind === "cache") {
    const rows = [...input.entries]
      .sort((a, b) => a.policy.localeCompare(b.policy) || a.slots - b.slots)
      .map((e) => [
        e.policy,
        String(e.slots),
        String(e.requests),
        String(e.misses),
        pct(e.miss_rate),
        bytes(e.bytes_moved),
      ]);
    return {
      caption: "Expert-cache policies",
      header: ["policy", "slots", "requests", "misses", "miss rate", "bytes moved"],
      rows,
    };
  }
  const s = input.sweep;
  const rows = s.points.map((p) => [
    ...s.param_keys.map((k) => (typeof p.params[k] === "object" ? JSON.stringify(p.params[k]) : String(p.params[k]))),
    p.summary.oom ? "OOM" : num(p.summary.tokens_per_s),
    num(p.summary.step_latency_ms.p50, 3),
    num(p.summary.step_latency_ms.p99, 3),
    bytes(p.summary.memory.peak_bytes_max),
    p.summary.cache ? pct(p.summary.cache.miss_rate) : "-",
    p.key,
  ]);
  return {
    caption: `Sweep ${s.name}: ${s.points.length} points`,
    header: [
      ...s.param_keys.map(shortKey),
      "tokens/s",
      "p50 step ms",
      "p99 step ms",
      "peak memory",
      "miss rate",
      "key",
    ],
    rows,
  };
}
