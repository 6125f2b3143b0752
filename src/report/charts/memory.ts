import type { MemoryChange } from "../data.js";
import { CONFIG, HEIGHT, SCHEMA, WIDTH, byteUnit, round4, type ChartDef } from "./common.js";

/** Points kept per GPU line; each keeps the peak of its time bucket so no peak is lost. */
const MAX_POINTS = 300;

/** Total bytes in use per GPU after each change, from memory.csv's per-category levels. */
export function memoryTotals(rows: MemoryChange[]): Map<string, { t: number; bytes: number }[]> {
  const cur = new Map<string, Map<string, number>>();
  const totals = new Map<string, number>();
  const out = new Map<string, { t: number; bytes: number }[]>();
  const sorted = rows.map((r, i) => ({ r, i })).sort((a, b) => a.r.time_ns - b.r.time_ns || a.i - b.i);
  for (const { r: raw } of sorted) {
    const r = /^\d+$/.test(raw.gpu) ? { ...raw, gpu: `gpu${raw.gpu}` } : raw;
    let cats = cur.get(r.gpu);
    if (!cats) cur.set(r.gpu, (cats = new Map<string, number>()));
    const prev = cats.get(r.category) ?? 0;
    cats.set(r.category, r.bytes);
    const total = (totals.get(r.gpu) ?? 0) - prev + r.bytes;
    totals.set(r.gpu, total);
    let line = out.get(r.gpu);
    if (!line) out.set(r.gpu, (line = []));
    // Several changes at one instant: keep the last level at that time.
    if (line.length && line[line.length - 1].t === r.time_ns) line[line.length - 1].bytes = total;
    else line.push({ t: r.time_ns, bytes: total });
  }
  return out;
}

/** Keeps at most `max` points: the maximum of each equal-width time bucket, plus the last point. */
export function downsample(line: { t: number; bytes: number }[], max: number): { t: number; bytes: number }[] {
  if (line.length <= max) return line;
  const t0 = line[0].t;
  const span = line[line.length - 1].t - t0 || 1;
  const buckets = new Map<number, { t: number; bytes: number }>();
  for (const p of line) {
    const b = Math.min(max - 2, Math.floor(((p.t - t0) / span) * (max - 1)));
    const cur = buckets.get(b);
    if (!cur || p.bytes > cur.bytes) buckets.set(b, p);
  }
  const kept = [...buckets.values()].sort((a, b) => a.t - b.t);
  kept.push(line[line.length - 1]);
  return kept;
}

/** Memory over time per GPU (total of every category), with the GPU's capacity as a rule. */
export const memory: ChartDef = {
  id: "memory",
  title: "Memory over time per GPU",
  build(input) {
    if (input.kind !== "run" || !input.memory || input.memory.length === 0) return null;
    const totals = memoryTotals(input.memory);
    let maxBytes = input.summary.memory.capacity_bytes;
    for (const line of totals.values()) for (const p of line) maxBytes = Math.max(maxBytes, p.bytes);
    const unit = byteUnit(maxBytes);
    const values: { gpu: string; ms: number; mem: number }[] = [];
    const gpus = [...totals.keys()].sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
    for (const gpu of gpus) {
      for (const p of downsample(totals.get(gpu)!, MAX_POINTS))
        values.push({ gpu, ms: round4(p.t / 1e6), mem: round4(p.bytes / unit.div) });
    }
    const capacity = input.summary.memory.capacity_bytes / unit.div;
    return {
      $schema: SCHEMA,
      title: "Memory over time per GPU",
      width: WIDTH,
      height: HEIGHT,
      config: CONFIG,
      layer: [
        {
          data: { values },
          mark: { type: "line", interpolate: "step-after" },
          encoding: {
            x: { field: "ms", type: "quantitative", title: "simulated time (ms)" },
            y: { field: "mem", type: "quantitative", title: `memory in use (${unit.name})` },
            color: { field: "gpu", type: "nominal", title: "GPU", sort: gpus },
          },
        },
        {
          data: { values: [{ capacity: round4(capacity), label: "capacity" }] },
          mark: { type: "rule", strokeDash: [6, 4], color: "#c00" },
          encoding: { y: { field: "capacity", type: "quantitative" } },
        },
      ],
    };
  },
};
