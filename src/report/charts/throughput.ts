import type { MergedSweep } from "../../scenario/sweep-results.js";
import { CONFIG, HEIGHT, SCHEMA, WIDTH, paramLabel, shortKey, type ChartDef } from "./common.js";

/** The swept key that is the x axis: a batch size if swept, else the first numeric parameter. */
export function xParam(s: MergedSweep): string | null {
  const numeric = s.param_keys.filter((k) => s.points.every((p) => typeof p.params[k] === "number"));
  return numeric.find((k) => /batch_size|max_batch/.test(k)) ?? numeric[0] ?? null;
}

/** The series key: the gating policy if swept, else every other parameter joined. */
export function seriesKeys(s: MergedSweep, x: string | null): string[] {
  if (s.param_keys.includes("policies.gating.policy") && x !== "policies.gating.policy")
    return ["policies.gating.policy"];
  return s.param_keys.filter((k) => k !== x);
}

/** Throughput vs batch size per gating policy (from a sweep). Runs out of memory leave gaps. */
export const throughput: ChartDef = {
  id: "throughput",
  title: "Throughput vs batch size",
  build(input) {
    if (input.kind !== "sweep" || input.sweep.points.length === 0) return null;
    const s = input.sweep;
    const x = xParam(s);
    const series = seriesKeys(s, x);
    const seriesTitle =
      series.length === 1 ? shortKey(series[0]) : series.length ? series.map(shortKey).join(", ") : "series";
    const values = s.points.map((p) => ({
      x: x ? p.params[x] : paramLabel(p.params, s.param_keys),
      series: series.length ? paramLabel(p.params, series) : "all",
      tokens_per_s: p.summary.oom ? null : p.summary.tokens_per_s,
      oom: p.summary.oom ? "out of memory" : "ok",
    }));
    const xTitle = x ? shortKey(x) : "point";
    const anyOom = values.some((v) => v.tokens_per_s === null);
    const logX = x !== null && /batch/.test(x) && s.points.every((p) => (p.params[x] as number) > 0);
    const scale = logX ? { type: "log" as const, base: 2 } : { zero: false };
    const ticks = logX
      ? { values: [...new Set(s.points.map((p) => p.params[x] as number))].sort((a, b) => a - b) }
      : {};
    // Out-of-memory points: a cross on the x axis, so the gap in the line is explained.
    const oomLayer = {
      mark: { type: "point" as const, shape: "cross", size: 80, filled: true },
      transform: [{ filter: "datum.tokens_per_s === null" }],
      encoding: {
        x: x ? { field: "x", type: "quantitative" as const, scale } : { field: "x", type: "nominal" as const },
        y: { datum: 0, type: "quantitative" as const },
        color: { field: "series", type: "nominal" as const, title: seriesTitle },
        tooltip: [{ field: "series" }, { field: "x" }, { field: "oom" }],
      },
    };
    return {
      $schema: SCHEMA,
      title: x && /batch/.test(x) ? "Throughput vs batch size" : `Throughput vs ${xTitle}`,
      width: WIDTH,
      height: HEIGHT,
      config: CONFIG,
      data: { values },
      layer: [
        {
          mark: { type: "line", point: true },
          transform: [{ filter: "datum.tokens_per_s !== null" }],
          encoding: {
            x: x
              ? { field: "x", type: "quantitative", title: xTitle, scale, axis: ticks }
              : { field: "x", type: "nominal", title: xTitle },
            y: { field: "tokens_per_s", type: "quantitative", title: "throughput (tokens/s)" },
            color: { field: "series", type: "nominal", title: seriesTitle },
          },
        },
        // Out-of-memory points (only when there are any: an empty layer would warn of an empty extent).
        ...(anyOom ? [oomLayer] : []),
      ],
    };
  },
};
