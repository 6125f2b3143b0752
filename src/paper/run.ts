/**
 * Runs the paper's scenarios (the sweeps of scenarios/paper/ that the table reads) on worker
 * threads, each into OUT/<sweep name>/ so that a second run reuses the finished points.
 */
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { loadSweepFile, pointsDir, readPoint, runSweep, simulatorBuild, type ProgressSink } from "../sweep/index.js";
import type { PointResult } from "../scenario/sweep-results.js";
import { PAPER_SWEEPS } from "./findings.js";
import type { PaperResults } from "./results.js";

export interface PaperRunOptions {
  /** The folder holding the paper's sweep files (scenarios/paper). */
  dir: string;
  /** Where each sweep's points go (OUT/<name>/); finished points there are reused. */
  out: string;
  workers?: number;
  /** A progress sink per sweep. */
  progress?: (sweep: string) => ProgressSink;
}

/** Runs every sweep the table needs and returns the points by sweep name. */
export async function runPaper(opts: PaperRunOptions): Promise<PaperResults> {
  const results: PaperResults = new Map();
  mkdirSync(opts.out, { recursive: true });
  for (const s of PAPER_SWEEPS) {
    const full = loadSweepFile(resolve(opts.dir, `${s.name}.yaml`));
    const spec = s.keep ? { ...full, points: full.points.filter((p) => s.keep!(p.params)) } : full;
    const out = join(opts.out, s.name);
    await runSweep(spec, { out, workers: opts.workers, progress: opts.progress?.(s.name) });
    const pts: PointResult[] = [];
    for (const p of spec.points) {
      const r = readPoint(join(pointsDir(out), `${p.key}.json`), spec.baseHash, simulatorBuild());
      if (!r) throw new Error(`paper: ${s.name}: point ${p.key} has no result after its run`);
      pts.push(r);
    }
    results.set(s.name, pts);
  }
  return results;
}
