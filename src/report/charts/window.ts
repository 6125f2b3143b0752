/**
 * Charts of where time and bytes go inside steps: each GPU's compute and communication streams over
 * the first steps and the links' throughput over that window (every run records it: src/moe/window.ts),
 * one layer's dispatch matrix, and the straggler GPU of each step.
 */
import { CONFIG, HEIGHT, SCHEMA, WIDTH, byteUnit, round4, type ChartDef } from "./common.js";

/** GPUs the timeline shows (the first ones: a wide cluster's chart stays legible). */
export const TIMELINE_GPUS = 8;
/** Links the heatmap shows: those that carried the most bytes. */
export const HEATMAP_LINKS = 24;

/** Compute vs communication on each GPU's streams over the recorded steps. */
export const timeline: ChartDef = {
  id: "timeline",
  title: "Per-GPU timeline",
  build(input) {
    if (input.kind !== "run" || !input.timeline?.length) return null;
    const gpus = new Set<number>();
    const values = [];
    for (const r of input.timeline) {
      const gpu = Number(r.gpu);
      if (gpu >= TIMELINE_GPUS) continue;
      gpus.add(gpu);
      values.push({
        row: `gpu${gpu} ${r.stream}`,
        order: gpu * 2 + (r.stream === "comm" ? 1 : 0),
        stream: r.stream,
        what: r.what,
        micro_batch: Number(r.micro_batch),
        layer: Number(r.layer),
        step: Number(r.step),
        start_us: round4(Number(r.start_ns) / 1e3),
        end_us: round4(Number(r.end_ns) / 1e3),
      });
    }
    const steps = new Set(values.map((v) => v.step)).size;
    return {
      $schema: SCHEMA,
      title:
        `Per-GPU timeline: compute vs communication (first ${steps} steps, ${gpus.size} GPUs)` +
        (input.window?.truncated ? "; the window stopped at its cap" : ""),
      width: WIDTH,
      height: Math.max(HEIGHT / 2, 22 * gpus.size),
      config: CONFIG,
      data: { values },
      mark: { type: "bar" },
      encoding: {
        x: { field: "start_us", type: "quantitative", title: "simulated time (µs)" },
        x2: { field: "end_us" },
        y: { field: "row", type: "nominal", title: "GPU stream", sort: { field: "order" } },
        color: { field: "stream", type: "nominal", title: "stream", scale: { domain: ["compute", "comm"] } },
        opacity: { field: "micro_batch", type: "ordinal", title: "micro-batch", scale: { range: [1, 0.55, 0.3] } },
        tooltip: [
          { field: "row" },
          { field: "what" },
          { field: "layer" },
          { field: "micro_batch" },
          { field: "step" },
          { field: "start_us", title: "start µs" },
          { field: "end_us", title: "end µs" },
        ],
      },
    };
  },
};

/** Each link's throughput between samples (taken at collectives' ends), over the recorded steps. */
export const linkHeatmap: ChartDef = {
  id: "link_heatmap",
  title: "Per-link throughput over time",
  build(input) {
    if (input.kind !== "run" || !input.linkSamples?.length) return null;
    const total = new Map<string, number>();
    for (const s of input.linkSamples) total.set(s.link, (total.get(s.link) ?? 0) + s.bytes);
    const top = [...total.entries()]
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .slice(0, HEATMAP_LINKS)
      .map(([l]) => l);
    const keep = new Set(top);
    const every = input.window?.sample_every ?? 1;
    const values = input.linkSamples
      .filter((s) => keep.has(s.link) && s.end_ns > s.start_ns)
      .map((s) => ({
        link: s.link,
        start_us: round4(s.start_ns / 1e3),
        end_us: round4(s.end_ns / 1e3),
        gb_per_s: round4(s.bytes / (s.end_ns - s.start_ns)), // bytes per ns = GB/s
      }));
    return {
      $schema: SCHEMA,
      title:
        `Per-link throughput over time (the ${top.length} busiest links, recorded steps` +
        (every > 1 ? `, sampled every ${every} collectives)` : ")") +
        (input.window?.truncated ? "; the window stopped at its cap" : ""),
      width: WIDTH,
      height: Math.max(HEIGHT / 2, 14 * top.length),
      config: CONFIG,
      data: { values },
      mark: { type: "rect" },
      encoding: {
        x: { field: "start_us", type: "quantitative", title: "simulated time (µs)" },
        x2: { field: "end_us" },
        y: { field: "link", type: "nominal", title: "link", sort: top },
        color: { field: "gb_per_s", type: "quantitative", title: "GB/s", scale: { scheme: "viridis" } },
        tooltip: [{ field: "link" }, { field: "start_us" }, { field: "end_us" }, { field: "gb_per_s", title: "GB/s" }],
      },
    };
  },
};

/** Source GPU x destination GPU bytes of one layer's dispatch. */
export const dispatchMatrix: ChartDef = {
  id: "dispatch",
  title: "Dispatch matrix",
  build(input) {
    if (input.kind !== "run" || !input.dispatch?.length) return null;
    const rows = input.dispatch;
    const unit = byteUnit(Math.max(...rows.map((r) => r.bytes)));
    const values = rows.map((r) => ({
      src: r.src_gpu,
      dst: r.dst_gpu,
      amount: round4(r.bytes / unit.div),
    }));
    return {
      $schema: SCHEMA,
      title: `Dispatch matrix (MoE layer ${rows[0].moe_layer}, step ${rows[0].step})`,
      width: Math.min(WIDTH, HEIGHT),
      height: Math.min(WIDTH, HEIGHT),
      config: CONFIG,
      data: { values },
      mark: { type: "rect" },
      encoding: {
        x: { field: "dst", type: "ordinal", title: "destination GPU" },
        y: { field: "src", type: "ordinal", title: "source GPU" },
        color: { field: "amount", type: "quantitative", title: unit.name, scale: { scheme: "blues" } },
        tooltip: [{ field: "src" }, { field: "dst" }, { field: "amount", title: unit.name }],
      },
    };
  },
};

/** The GPU with the most expert tokens in each step, and how far above the mean it was. */
export const straggler: ChartDef = {
  id: "straggler",
  title: "Straggler GPU per step",
  build(input) {
    if (input.kind !== "run" || !input.load.length) return null;
    const bySteps = new Map<number, { gpu: number; tokens: number; sum: number; n: number }>();
    for (const r of input.load) {
      const s = bySteps.get(r.step) ?? { gpu: -1, tokens: -1, sum: 0, n: 0 };
      if (r.tokens > s.tokens) {
        s.gpu = r.gpu;
        s.tokens = r.tokens;
      }
      s.sum += r.tokens;
      s.n++;
      bySteps.set(r.step, s);
    }
    const values = [...bySteps.entries()]
      .filter(([, s]) => s.sum > 0)
      .sort((a, b) => a[0] - b[0])
      .map(([step, s]) => ({
        step,
        gpu: s.gpu,
        tokens: s.tokens,
        over_mean: round4(s.tokens / (s.sum / s.n)),
      }));
    if (values.length === 0) return null;
    return {
      $schema: SCHEMA,
      title: "Straggler GPU per step (most expert tokens; colour: its load over the mean)",
      width: WIDTH,
      height: HEIGHT,
      config: CONFIG,
      data: { values },
      mark: { type: "point", filled: true, size: 60 },
      encoding: {
        x: { field: "step", type: "quantitative", title: "step" },
        y: { field: "gpu", type: "quantitative", title: "straggler GPU", axis: { tickMinStep: 1 } },
        color: { field: "over_mean", type: "quantitative", title: "x mean", scale: { scheme: "orangered" } },
        tooltip: [{ field: "step" }, { field: "gpu" }, { field: "tokens" }, { field: "over_mean", title: "x mean" }],
      },
    };
  },
};
