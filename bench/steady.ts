/**
 * bench/steady: the paper's LM decode on 8 GPUs at steady state (issue 20: >= 100x real time over >= 30 s
 * simulated), beside the cold 512-step figure that bench/e2e reports.
 *
 * Scenario: bench/e2e's (scenarios/paper/base/lm.yaml as decode: 1 node of 8 V100, static batches of 64 requests,
 * 8 per GPU, context 1024), run for `--steps N` decode steps (default 4,096: ~109 s simulated), with the flow network
 * model and the analytic one. Start-up is left out: the scenario is resolved (trace synthesis) outside the timing,
 * and a short run of the same scenario first compiles the hot code (JIT). Then simulateMoe runs alone: realtime
 * factor = simulated s per process CPU s (user + system; steadier on a shared machine) and per wall s. The cold
 * figure is also measured, in a fresh process (`--cold`, which bench/steady spawns itself): runScenario of the
 * 512-step run, start-up and JIT included, as bench/e2e's `realtime_factor`.
 * `--only flow|analytic` runs one model; `--no-cold` skips the cold runs (for profiling: `node --cpu-prof --import tsx
 * bench/steady.ts --only analytic --no-cold`). The last stdout line is the JSON result.
 */
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { performance } from "node:perf_hooks";
import type { LoadedScenario } from "../src/scenario/load.js";
import { lmDecodeScenario } from "./_lm-decode.js";
import { resolveScenario } from "../src/scenario/resolve.js";
import { runScenario } from "../src/scenario/run.js";
import { simulateMoe } from "../src/moe/simulate.js";

const ROOT = resolve(import.meta.dirname, "..");
function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}
const STEPS = Number(arg("--steps") ?? 4096);
const COLD_STEPS = 512;
const only = arg("--only") as Model | undefined;
const withCold = !process.argv.includes("--no-cold");

type Model = "flow" | "analytic";

/** bench/e2e's scenario on 1 node (bench/_lm-decode.ts), `steps` decode steps. */
function scenario(steps: number, model: Model): LoadedScenario {
  return lmDecodeScenario({ name: `bench-steady-${model}`, nodes: 1, steps, networkModel: model });
}

if (process.argv.includes("--cold")) {
  // A fresh process: runScenario of the cold 512-step run, start-up and JIT included (bench/e2e's figure).
  const model = (arg("--model") ?? "flow") as Model;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const run = await runScenario(scenario(COLD_STEPS, model), { outDir: "/tmp/moesim-bench-steady" });
  const wallS = (performance.now() - t0) / 1000;
  const cu = process.cpuUsage(c0);
  console.log(JSON.stringify({ simS: run.result.simulatedNs / 1e9, wallS, cpuS: (cu.user + cu.system) / 1e6 }));
  process.exit(0);
}

interface Steady {
  steps: number;
  simS: number;
  wallS: number;
  cpuS: number;
  startupS: number;
  events: number;
}

async function steady(model: Model): Promise<Steady> {
  simulateMoe((await resolveScenario(scenario(64, model), { outDir: "/tmp/moesim-bench-steady" })).config); // JIT
  const t0 = performance.now();
  const resolved = await resolveScenario(scenario(STEPS, model), { outDir: "/tmp/moesim-bench-steady" });
  const startupS = (performance.now() - t0) / 1000;
  const c0 = process.cpuUsage();
  const s0 = performance.now();
  const r = simulateMoe(resolved.config);
  const wallS = (performance.now() - s0) / 1000;
  const cu = process.cpuUsage(c0);
  if (r.oom) throw new Error(`${model}: out of memory at step ${r.oom.step}`);
  return {
    steps: r.completedSteps,
    simS: r.simulatedNs / 1e9,
    wallS,
    cpuS: (cu.user + cu.system) / 1e6,
    startupS,
    events: r.events,
  };
}

function cold(model: Model): { simS: number; wallS: number; cpuS: number } {
  const r = spawnSync(
    process.execPath,
    ["--import", "tsx", resolve(import.meta.dirname, "steady.ts"), "--cold", "--model", model],
    { cwd: ROOT, encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(`cold run (${model}) failed: ${r.stderr}`);
  const lines = r.stdout.trim().split("\n");
  return JSON.parse(lines[lines.length - 1]) as { simS: number; wallS: number; cpuS: number };
}

const out: Record<string, number> = {};
for (const model of ["flow", "analytic"] as const) {
  if (only && model !== only) continue;
  const s = await steady(model);
  const c = withCold ? cold(model) : { simS: NaN, wallS: NaN, cpuS: NaN };
  const k = model === "flow" ? "" : "_analytic";
  console.log(
    `${model.padEnd(8)} steady: steps=${s.steps} simulated_s=${s.simS.toFixed(2)} cpu_s=${s.cpuS.toFixed(3)} ` +
      `wall_s=${s.wallS.toFixed(3)} x_real_time_cpu=${(s.simS / s.cpuS).toFixed(1)} ` +
      `x_real_time_wall=${(s.simS / s.wallS).toFixed(1)} us_per_step_cpu=${((1e6 * s.cpuS) / s.steps).toFixed(1)} ` +
      `startup_s=${s.startupS.toFixed(2)} | cold ${COLD_STEPS} steps (runScenario, fresh process): ` +
      `simulated_s=${c.simS.toFixed(2)} wall_s=${c.wallS.toFixed(3)} x_real_time_wall=${(c.simS / c.wallS).toFixed(1)} ` +
      `x_real_time_cpu=${(c.simS / c.cpuS).toFixed(1)}`,
  );
  out[`steady_realtime_factor_cpu${k}`] = Number((s.simS / s.cpuS).toFixed(1));
  out[`steady_realtime_factor_wall${k}`] = Number((s.simS / s.wallS).toFixed(1));
  out[`steady_simulated_s${k}`] = Number(s.simS.toFixed(3));
  out[`steady_us_per_step_cpu${k}`] = Number(((1e6 * s.cpuS) / s.steps).toFixed(1));
  out[`startup_s${k}`] = Number(s.startupS.toFixed(2));
  out[`cold_realtime_factor${k}`] = Number((c.simS / c.wallS).toFixed(1));
  out[`cold_realtime_factor_cpu${k}`] = Number((c.simS / c.cpuS).toFixed(1));
}
console.log(
  JSON.stringify({
    bench: "steady",
    scenario: "paper LM 52B (lm.yaml) as decode on 8 V100: 64 requests, context 1024",
    steps: STEPS,
    cold_steps: COLD_STEPS,
    ...out,
  }),
);
