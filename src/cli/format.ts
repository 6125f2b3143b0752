import { fmtBytes } from "../util/format.js";
import type { RunSummary } from "../moe/results.js";

const useColor = (): boolean => Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
const bold = (s: string): string => (useColor() ? `\x1b[1m${s}\x1b[0m` : s);
const red = (s: string): string => (useColor() ? `\x1b[31m${s}\x1b[0m` : s);

/** Aligns rows of cells into columns. */
export function table(rows: string[][]): string {
  const w = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(w[c]) : cell.padStart(w[c]))).join("  ")).join("\n");
}

/** A short human summary of a run. */
export function formatSummary(s: RunSummary): string {
  const lines: string[] = [];
  lines.push(
    bold(`moesim: ${s.scenario}`) +
      ` — ${s.model} on ${s.cluster.nodes} x ${s.cluster.preset} (${s.cluster.gpus} ` +
      `GPUs, ${s.cluster.cost_model} cost ` +
      `model${s.cluster.network_model === "analytic" ? ", analytic network" : ""})`,
  );
  lines.push(
    `policies: gating=${s.policies.gating} ` +
      `buffering=${s.policies.buffering}${s.policies.slots ? ` (${s.policies.slots} slots)` : ""} ` +
      `placement=${s.policies.placement}`,
  );
  lines.push(
    `trace: ${s.trace.source} (${s.trace.tokens} tokens, ${s.trace.layers} ` +
      `layers, ${s.trace.experts} experts, top-${s.trace.top_k})`,
  );
  if (s.oom) {
    const o = s.oom_detail as {
      gpu?: string;
      step?: number;
      category?: string;
      requestedBytes?: number;
      freeBytes?: number;
    };
    lines.push(
      red(
        `OUT OF MEMORY at step ${o.step} on ${o.gpu}: ${o.category} ` +
          `asked ${fmtBytes(o.requestedBytes ?? 0)}, ${fmtBytes(o.freeBytes ?? 0)} free`,
      ),
    );
  }
  lines.push(`steps: ${s.steps}  tokens: ${s.tokens}  simulated: ${s.simulated_s.toFixed(4)} s`);
  lines.push(
    bold(`throughput: ${s.tokens_per_s.toFixed(1)} tokens/s`) +
      `   step latency p50 ${s.step_latency_ms.p50.toFixed(3)} ms, p99 ${s.step_latency_ms.p99.toFixed(3)} ms`,
  );
  const phases = Object.entries(s.phase_share)
    .filter(([, v]) => v > 0)
    .map(([k, v]) => `${k} ${(v * 100).toFixed(1)}%`)
    .join(", ");
  lines.push(`time by phase: ${phases}`);
  lines.push(
    `memory: peak ${fmtBytes(s.memory.peak_bytes_max)} ` +
      `of ${fmtBytes(s.memory.capacity_bytes)} per GPU; ` +
      `activations ${fmtBytes(s.memory.peak_activation_bytes)}`,
  );
  lines.push(
    `load: max GPU share ${(s.load.max_gpu_share_mean * 100).toFixed(1)}% ` +
      `mean, ${(s.load.max_gpu_share_worst * 100).toFixed(1)}% worst step; inactive experts ` +
      `per layer ${s.inactive_experts_mean.toFixed(1)}`,
  );
  if (s.cache)
    lines.push(
      `expert cache: ${s.cache.misses} misses / ${s.cache.requests} requests (miss ` +
        `rate ${(s.cache.miss_rate * 100).toFixed(1)}%), ${fmtBytes(s.cache.bytes_moved)} moved`,
    );
  if (s.gating.dropped_tokens > 0 || s.gating.padded_rows > 0)
    lines.push(
      `gating: ${s.gating.dropped_tokens} token-expert assignments dropped, ${s.gating.padded_rows} padded rows`,
    );
  if (s.dense_baseline)
    lines.push(
      `dense baseline (same FLOPs/token): step ${s.dense_baseline.step_latency_ms.toFixed(3)} ` +
        `ms; MoE is ${s.dense_baseline.moe_slowdown.toFixed(2)}x slower`,
    );
  return lines.join("\n");
}
