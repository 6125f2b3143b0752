import type { TopLevelSpec } from "vega-lite";
import type { ReportInput } from "../data.js";
import { PHASES } from "../../moe/types.js";

export type Spec = TopLevelSpec;

/** A chart kind: builds a Vega-Lite spec from a results set, or null when the data is not there. */
export interface ChartDef {
  id: string;
  title: string;
  build(input: ReportInput): Spec | null;
}

export const WIDTH = 560;
export const HEIGHT = 300;
export const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";

/** Shared look: plain, readable, and the same font for SVG, PNG and the browser. */
export const CONFIG = {
  font: "DejaVu Sans, Verdana, sans-serif",
  view: { stroke: "#ddd" },
  axis: { labelFontSize: 11, titleFontSize: 12, grid: true, gridColor: "#eee" },
  legend: { labelFontSize: 11, titleFontSize: 12 },
  title: { fontSize: 14, anchor: "start" as const },
};

/** Picks a byte unit so values read as small numbers. */
export function byteUnit(maxBytes: number): { div: number; name: string } {
  const units: [number, string][] = [
    [1024 ** 4, "TiB"],
    [1024 ** 3, "GiB"],
    [1024 ** 2, "MiB"],
    [1024, "KiB"],
  ];
  for (const [div, name] of units) if (maxBytes >= div) return { div, name };
  return { div: 1, name: "bytes" };
}

export const round4 = (x: number): number => Math.round(x * 1e4) / 1e4;

/** Human label of a sweep point: "static, 16" from its parameter values. */
export function paramLabel(params: Record<string, unknown>, keys: string[]): string {
  return keys
    .map((k) =>
      typeof params[k] === "object"
        ? JSON.stringify(params[k])
        : String(params[k] as string | number | boolean | null | undefined),
    )
    .join(", ");
}

/** Last segment of a key path: "policies.gating.policy" -> "gating policy" style short names. */
export function shortKey(key: string): string {
  const parts = key.split(".");
  const last = parts[parts.length - 1];
  if (last === "policy" && parts.length >= 2) return `${parts[parts.length - 2]} policy`;
  return last.replace(/_/g, " ");
}

/** Phase order of the simulator's latency breakdown (the simulator's own list); unknown phases follow. */
export const PHASE_ORDER: readonly string[] = PHASES;

export function phasesOf(names: Iterable<string>): string[] {
  const set = new Set(names);
  return [...PHASE_ORDER.filter((p) => set.has(p)), ...[...set].filter((p) => !PHASE_ORDER.includes(p)).sort()];
}
