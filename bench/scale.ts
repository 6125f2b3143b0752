/**
 * bench/scale: DeepSeek-V3 decode on wide expert parallelism. 128 tokens (requests) per GPU per
 * step, data-parallel attention (parallelism.tensor 1) and experts spread over all GPUs (EP = GPUs),
 * per-token or load-level synthetic routing, on HGX H800 nodes: 8 / 64 / 144 / 512 / 1,024 GPUs, each with the
 * flow network model and the analytic one. Per run: the scenario is resolved (trace synthesis:
 * start-up, not timed), then simulateMoe runs alone (timed): realtime factor = simulated seconds per
 * wall second of the simulation. Larger sizes run fewer steps; the flow model is skipped where
 * one step would take too long on the 2-core VM (listed in the JSON under `skipped`; `--flow-steps N` runs them):
 * per-token from 144 GPUs up, load-level from 512 up (LOAD_FLOW_PLAN).
 * Growth exponent: least-squares slope of log(wall per step) vs log(GPUs) over the sizes run, per
 * model. Process CPU time (user + system) of each run is reported beside its wall time (cpu_s,
 * cpu_per_step_s): on a shared machine it varies less. Peak memory: the process's maximum resident
 * set size at the end (process.resourceUsage).
 * The last stdout line is the JSON result. `--sizes 8,64` and `--only flow|analytic` restrict it; `--steps N` runs N
 * steps in every case (load-level routing has no trace to cap them: more steps amortise the run's set-up, the group's
 * routes, over more of them).
 * `--routing tokens,load` (default both): per-token routing, and load-level routing (`workload.routing: load`,
 * per-expert counts drawn per step; its keys end in `_load`), each size and model run in both, in the same process,
 * with the load mode's step-time mean and p99 relative to the per-token mode's (`load_vs_tokens`).
 */
import { performance } from "node:perf_hooks";
import { parseScenario } from "../src/scenario/load.js";
import { resolveScenario } from "../src/scenario/resolve.js";
import { simulateMoe } from "../src/moe/simulate.js";
import { deepseekDecodeYaml, stepTimeStats, type NetworkModel, type Routing } from "./_scale-scenario.js";

type Model = NetworkModel;
/**
 * Decode steps per size and model (fewer at large sizes); 0 = skipped. The synthetic trace is capped at 1e8 expert
 * picks (464 per DeepSeek-V3 token: 58 MoE layers x top-8), which allows 3 steps at 512 GPUs and 1 at 1,024.
 */
const PLAN: Record<number, Record<Model, number>> = {
  8: { flow: 32, analytic: 64 },
  64: { flow: 1, analytic: 16 },
  144: { flow: 0, analytic: 8 },
  512: { flow: 0, analytic: 3 },
  1024: { flow: 0, analytic: 1 },
};
/**
 * Load-level routing has no trace to cap its steps; the flow model solves its exchanges on symmetry quotients there
 * (docs/hardware.md, "Speed"), so it runs up to 144 GPUs. Where a size is not listed, PLAN's steps.
 */
const LOAD_FLOW_PLAN: Record<number, number> = { 8: 32, 64: 16, 144: 8 };

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}
const sizes = (arg("--sizes") ?? "8,64,144,512,1024").split(",").map(Number);
const only = arg("--only") as Model | undefined;
const routings = (arg("--routing") ?? "tokens,load").split(",") as Routing[];
for (const r of routings)
  if (r !== "tokens" && r !== "load") throw new Error(`--routing: ${String(r)} is not tokens or load`);
/**
 * `--flow-steps N`: run the flow model where the plan skips it, N steps (one 64-GPU step took 11.6 s of CPU,
 * docs/performance.md; an all-to-all's flows grow with the square of the GPUs).
 */
const flowSteps = Number(arg("--flow-steps") ?? 0);
const stepsArg = arg("--steps");
const fixedSteps = stepsArg === undefined ? 0 : Number(stepsArg);
if (!(Number.isInteger(fixedSteps) && fixedSteps >= 0)) throw new Error(`--steps: ${stepsArg} is not a whole number`);
for (const n of sizes) if (!(n in PLAN)) throw new Error(`--sizes: ${n} is not one of ${Object.keys(PLAN).join(", ")}`);

interface Case {
  gpus: number;
  model: Model;
  routing: Routing;
  /** Step time (latency) mean and p99, ns. */
  stepMean: number;
  stepP99: number;
  steps: number;
  wallS: number;
  /** Process CPU time (user + system) of simulateMoe: less sensitive than wall time to other jobs on the machine. */
  cpuS: number;
  startupS: number;
  simS: number;
  events: number;
}

async function runCase(gpus: number, model: Model, steps: number, routing: Routing = "tokens"): Promise<Case> {
  const yaml = deepseekDecodeYaml({ gpus, steps, network: model, routing, name: `bench-scale-${gpus}-${model}` });
  const t0 = performance.now();
  const loaded = parseScenario(yaml, "<inline>");
  const resolved = await resolveScenario(loaded, { outDir: "/tmp/moesim-bench-scale" });
  const startupS = (performance.now() - t0) / 1000;
  const s0 = performance.now();
  const c0 = process.cpuUsage();
  const r = simulateMoe(resolved.config);
  const wallS = (performance.now() - s0) / 1000;
  const cu = process.cpuUsage(c0);
  const cpuS = (cu.user + cu.system) / 1e6;
  if (r.oom) throw new Error(`${gpus} GPUs ${model}: out of memory at step ${r.oom.step}`);
  const { mean: stepMean, p99: stepP99 } = stepTimeStats(r.steps);
  const simS = r.simulatedNs / 1e9;
  return {
    gpus,
    model,
    routing,
    stepMean,
    stepP99,
    steps: r.completedSteps,
    wallS,
    cpuS,
    startupS,
    simS,
    events: r.events,
  };
}

/** Least-squares slope of log(y) on log(x). */
function slope(xs: number[], ys: number[]): number | null {
  if (xs.length < 2) return null;
  const lx = xs.map(Math.log);
  const ly = ys.map(Math.log);
  const mx = lx.reduce((a, b) => a + b, 0) / lx.length;
  const my = ly.reduce((a, b) => a + b, 0) / ly.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < lx.length; i++) {
    num += (lx[i] - mx) * (ly[i] - my);
    den += (lx[i] - mx) ** 2;
  }
  return num / den;
}

await runCase(8, "analytic", 2); // JIT and module loading
await runCase(8, "flow", 2);
await runCase(8, "analytic", 2, "load");
await runCase(8, "flow", 2, "load");
const cases: Case[] = [];
const skipped: string[] = [];
for (const gpus of sizes) {
  for (const model of ["analytic", "flow"] as const) {
    if (only && model !== only) continue;
    const planned = PLAN[gpus][model] || (model === "flow" ? flowSteps : 0);
    const steps = planned > 0 && fixedSteps > 0 ? fixedSteps : planned;
    for (const routing of routings) {
      const loadFlow = model === "flow" && routing === "load" ? LOAD_FLOW_PLAN[gpus] : undefined;
      const n = loadFlow !== undefined ? (fixedSteps > 0 ? fixedSteps : loadFlow) : steps;
      if (n === 0) {
        skipped.push(`${model}@${gpus}${routing === "load" ? "_load" : ""}`);
        continue;
      }
      const c = await runCase(gpus, model, n, routing);
      cases.push(c);
      console.log(
        `${model.padEnd(8)} ${routing.padEnd(6)} gpus=${String(gpus).padStart(4)} steps=${c.steps} events=${c.events} ` +
          `startup_s=${c.startupS.toFixed(2)} wall_s=${c.wallS.toFixed(3)} cpu_s=${c.cpuS.toFixed(3)} ` +
          `wall_per_step_s=${(c.wallS / c.steps).toFixed(4)} ` +
          `simulated_s=${c.simS.toFixed(4)} realtime_factor=${(c.simS / c.wallS).toFixed(3)} ` +
          `cpu_realtime_factor=${(c.simS / c.cpuS).toFixed(3)}`,
      );
    }
  }
}
const key = (c: Case): string => `${c.model}_${c.gpus}${c.routing === "load" ? "_load" : ""}`;
/** Load-level routing's step-time mean and p99 relative to per-token routing's, per size and model run in both. */
const loadVsTokens: Record<string, { mean: number; p99: number }> = {};
for (const c of cases) {
  // compared over the same steps only (the flow model runs load-level routing for more steps than per-token)
  const t =
    c.routing === "load"
      ? cases.find((o) => o.routing === "tokens" && key(o) + "_load" === key(c) && o.steps === c.steps)
      : undefined;
  if (t) {
    loadVsTokens[`${c.model}_${c.gpus}`] = {
      mean: Number((c.stepMean / t.stepMean - 1).toFixed(4)),
      p99: Number((c.stepP99 / t.stepP99 - 1).toFixed(4)),
    };
  }
}
const factor: Record<string, number> = {};
const perStep: Record<string, number> = {};
const cpuPerStep: Record<string, number> = {};
const startup: Record<string, number> = {};
const cpuFactor: Record<string, number> = {};
for (const c of cases) {
  startup[key(c)] = Number(c.startupS.toPrecision(3));
  cpuPerStep[key(c)] = Number((c.cpuS / c.steps).toPrecision(3));
  factor[key(c)] = Number((c.simS / c.wallS).toPrecision(3));
  cpuFactor[key(c)] = Number((c.simS / c.cpuS).toPrecision(3));
  perStep[key(c)] = Number((c.wallS / c.steps).toPrecision(3));
}
const exponent = (m: Model, routing: Routing = "tokens"): number | null => {
  const cs = cases.filter((c) => c.model === m && c.routing === routing);
  const s = slope(
    cs.map((c) => c.gpus),
    cs.map((c) => c.wallS / c.steps),
  );
  return s === null ? null : Number(s.toFixed(3));
};
console.log(
  JSON.stringify({
    bench: "scale",
    scenario:
      "deepseek-v3 decode on hgx-h800, 128 tokens/GPU/step, DP attention + EP over all GPUs, per-token and load-level routing",
    realtime_factor: factor,
    cpu_realtime_factor: cpuFactor,
    startup_s: startup,
    load_vs_tokens: loadVsTokens,
    wall_per_step_s: perStep,
    cpu_per_step_s: cpuPerStep,
    growth_exponent_analytic: exponent("analytic"),
    growth_exponent_flow: exponent("flow"),
    growth_exponent_analytic_load: exponent("analytic", "load"),
    growth_exponent_flow_load: exponent("flow", "load"),
    peak_rss_mib: Math.round(process.resourceUsage().maxRSS / 1024),
    skipped,
    skipped_reason: "flow model: one step would take too long on the 2-core VM",
  }),
);
