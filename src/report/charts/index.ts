import type { ChartDef } from "./common.js";
import { latency } from "./latency.js";
import { links } from "./links.js";
import { load } from "./load.js";
import { memory } from "./memory.js";
import { missrate } from "./missrate.js";
import { dispatchMatrix, linkHeatmap, straggler, timeline } from "./window.js";
import { throughput } from "./throughput.js";

export type { ChartDef, Spec } from "./common.js";

/** Every chart kind, in report order. Each builds its spec or returns null when its data is absent. */
export const CHARTS: readonly ChartDef[] = [
  throughput,
  latency,
  memory,
  missrate,
  load,
  links,
  straggler,
  timeline,
  linkHeatmap,
  dispatchMatrix,
];

export function getChart(id: string): ChartDef | undefined {
  return CHARTS.find((c) => c.id === id);
}
