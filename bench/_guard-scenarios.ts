/**
 * The scenarios of issue 20's accuracy guards (bench/network-guard, test/scenario/network-guard.test.ts): every
 * deployment (scenarios/deployments), the quickstart, the paper's base scenarios and every point of the paper's
 * sweeps (scenarios/paper, what `moesim paper` validates against the paper's figures); and one run of one of them
 * with a given network model and routing mode, its steps capped.
 */
import { readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { loadScenarioFile, type LoadedScenario } from "../src/scenario/load.js";
import { resolveScenario } from "../src/scenario/resolve.js";
import { simulateMoe } from "../src/moe/simulate.js";
import { loadSweepFile } from "../src/sweep/spec.js";
import { describePoint, pointText } from "../src/sweep/point.js";
import { stepTimeStats } from "./_scale-scenario.js";

const ROOT = resolve(import.meta.dirname, "..");

export interface GuardEntry {
  group: "quickstart" | "deployments" | "paper";
  /** "quickstart", "deployments/<file>", "paper/base/<file>" or "paper/<sweep file> #<point> (<overrides>)". */
  label: string;
  /** A fresh validated scenario each call (runs mutate it). */
  load: () => LoadedScenario;
}

/** Every validation and deployment scenario, as loaders. */
export function guardEntries(): GuardEntry[] {
  const out: GuardEntry[] = [];
  const yamls = (dir: string): string[] =>
    readdirSync(dir)
      .filter((x) => x.endsWith(".yaml"))
      .sort();
  const quick = join(ROOT, "scenarios", "quickstart.yaml");
  out.push({ group: "quickstart", label: "quickstart", load: () => loadScenarioFile(quick) });
  const dep = join(ROOT, "scenarios", "deployments");
  for (const f of yamls(dep))
    out.push({ group: "deployments", label: `deployments/${f}`, load: () => loadScenarioFile(join(dep, f)) });
  const paper = join(ROOT, "scenarios", "paper");
  for (const f of yamls(join(paper, "base")))
    out.push({ group: "paper", label: `paper/base/${f}`, load: () => loadScenarioFile(join(paper, "base", f)) });
  for (const f of yamls(paper)) {
    const spec = loadSweepFile(join(paper, f));
    for (const p of spec.points)
      out.push({
        group: "paper",
        label: `paper/${f} ${describePoint(p).replace(/^point /, "#")}`,
        load: () => pointText(spec, p).loaded,
      });
  }
  return out;
}

export interface GuardRun {
  /** The step at which the run ran out of GPU memory (the paper's OOM points), else null. */
  oom: number | null;
  /** Step-time (latency) mean and nearest-rank p99, ns. */
  mean: number;
  p99: number;
  steps: number;
  /** Process CPU time of resolving and simulating, s. */
  cpuS: number;
}

/**
 * One run of a guard scenario: `cluster.network_model` and `workload.routing` set, its steps capped at `maxSteps`, no
 * dense baseline, timelines or report; `reseed` changes the seed (another draw of the same routing). A scenario that
 * refuses the routing mode throws its UserError.
 */
export async function guardRun(
  e: GuardEntry,
  o: { model: "flow" | "analytic"; routing: "tokens" | "load"; maxSteps: number; reseed?: boolean },
): Promise<GuardRun> {
  const loaded = e.load();
  const sc = loaded.scenario;
  if (o.reseed === true) sc.seed = `${sc.seed}/reseeded`;
  sc.cluster.network_model = o.model;
  sc.workload.routing = o.routing;
  sc.workload.max_steps = Math.min(sc.workload.max_steps ?? o.maxSteps, o.maxSteps);
  sc.workload.dense_baseline = false;
  sc.outputs = { ...sc.outputs, timelines: false, report: false };
  const c0 = process.cpuUsage();
  const resolved = await resolveScenario(loaded, { outDir: "/tmp/moesim-guard" });
  const r = simulateMoe(resolved.config);
  const cu = process.cpuUsage(c0);
  return {
    oom: r.oom ? r.oom.step : null,
    ...stepTimeStats(r.steps),
    steps: r.completedSteps,
    cpuS: (cu.user + cu.system) / 1e6,
  };
}
