import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { expect } from "vitest";
import { loadSweepFile } from "../../src/sweep/spec.js";
import { pointText } from "../../src/sweep/point.js";
import { runScenario } from "../../src/scenario/run.js";
import type { RunSummary } from "../../src/moe/results.js";
import type { Params } from "../../src/scenario/sweep-results.js";

export const ROOT = resolve(import.meta.dirname, "..", "..");

export interface FigurePoint {
  params: Params;
  summary: RunSummary;
}

/** Runs every point of a paper figure (a sweep file under scenarios/paper/) in this process. */
export async function runFigure(name: string, keep: (p: Params) => boolean = () => true): Promise<FigurePoint[]> {
  const spec = loadSweepFile(resolve(ROOT, "scenarios", "paper", `${name}.yaml`));
  const out: FigurePoint[] = [];
  for (const point of spec.points) {
    if (!keep(point.params)) continue;
    const { loaded } = pointText(spec, point);
    const run = await runScenario(loaded);
    out.push({ params: point.params, summary: run.summary });
  }
  return out;
}

const sig = (x: number): number => (Number.isFinite(x) ? Number(x.toPrecision(4)) : x);

/**
 * Compares a figure's key numbers with its golden summary in test/golden/paper/NAME.json (4
 * significant digits). UPDATE_GOLDEN=1 rewrites the file instead: review the diff before committing.
 */
export function expectGolden(name: string, rows: Record<string, unknown>[]): void {
  const rounded = JSON.parse(JSON.stringify(rows, (_k, v) => (typeof v === "number" ? sig(v) : v)));
  const file = resolve(ROOT, "test", "golden", "paper", `${name}.json`);
  if (process.env.UPDATE_GOLDEN === "1" || !existsSync(file)) {
    if (process.env.CI && !existsSync(file)) throw new Error(`golden summary ${file} is missing`);
    writeFileSync(file, JSON.stringify(rounded, null, 1) + "\n");
    return;
  }
  const golden = JSON.parse(readFileSync(file, "utf8"));
  expect(rounded).toEqual(golden);
}

/** The batch size of a point (sweeps set it through workload.batching.batch_size). */
export function batchOf(p: FigurePoint): number {
  return Number(p.params["workload.batching.batch_size"]);
}
export function gatingOf(p: FigurePoint): string {
  return p.summary.policies.gating;
}
