// Sweep throughput: 200 small scenarios run with 1 worker thread (the reference) and with one
// worker per core, in the same run. Prints the speed-up; goal: speedup >= 0.8 x cores on a sweep
// with >= 60 s of serial work (e.g. --points 400 --steps 96 on the 2-core VM).
// Usage: npm run bench -- sweep [--points N] [--steps S] (decode steps per point, default 4)
//        [--workers W] (the parallel run's workers, default one per core)
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { mergeSweeps, parseSweep, runSweep } from "../src/sweep/index.js";
import { workerEntry } from "../src/sweep/bundle.js";

const root = resolve(fileURLToPath(import.meta.url), "../..");
const arg = process.argv.indexOf("--points");
const target = arg > 0 ? Number(process.argv[arg + 1]) : 200;
const argSteps = process.argv.indexOf("--steps");
const STEPS = argSteps > 0 ? Number(process.argv[argSteps + 1]) : 4;
const gatings = ["static", "tutel", "fastmoe", "megablocks", "dynamic"];
const seeds = Array.from({ length: Math.ceil(target / gatings.length) }, (_, i) => i + 1);
const trace = join(root, "scenarios/traces/quickstart.mtrace");

// A small scenario: the quick-start model and trace, 4 decode steps of 8 requests.
const text = `name: bench-sweep
base:
  cluster: { preset: dgx-h100 }
  model: { preset: olmoe-1b-7b }
  trace: { file: ${JSON.stringify(trace)} }
  workload: { phase: decode, batching: { kind: static, batch_size: 8 }, max_steps: ${STEPS} }
  outputs: { timelines: false }
grid:
  seed: [${seeds.join(", ")}]
  policies.gating.policy: [${gatings.join(", ")}]
`;
const spec = parseSweep(text, join(root, "bench/sweep.ts"));
spec.points = spec.points.slice(0, target);
const argWorkers = process.argv.indexOf("--workers");
const cores = argWorkers > 0 ? Number(process.argv[argWorkers + 1]) : availableParallelism();

async function timed(workers: number): Promise<{ seconds: number; json: string }> {
  const out = mkdtempSync(join(tmpdir(), "moesim-bench-sweep-"));
  try {
    const t0 = performance.now();
    await runSweep(spec, { workers, out });
    const seconds = (performance.now() - t0) / 1000;
    return { seconds, json: mergeSweeps([out]).files.get("sweep.json")! };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

console.log(`sweep bench: ${spec.points.length} points, ${cores} cores`);
// Build (or find) the kept worker bundle before timing, so neither run pays for it alone.
await workerEntry();
const one = await timed(1);
console.log(`1 worker:   ${one.seconds.toFixed(2)} s (${(spec.points.length / one.seconds).toFixed(1)} points/s)`);
const all = await timed(cores);
console.log(
  `${cores} workers: ${all.seconds.toFixed(2)} s (${(spec.points.length / all.seconds).toFixed(1)} points/s)`,
);
if (all.json !== one.json) throw new Error("merged results differ between 1 and all workers");
const speedup = one.seconds / all.seconds;
console.log(
  `speed-up ${speedup.toFixed(2)}x on ${cores} cores (goal >= ${(0.8 * cores).toFixed(1)}x); merged results identical`,
);
console.log(
  JSON.stringify({
    bench: "sweep",
    points: spec.points.length,
    steps_per_point: STEPS,
    cores,
    seconds_1_worker: Math.round(one.seconds * 1000) / 1000,
    seconds_all_workers: Math.round(all.seconds * 1000) / 1000,
    speedup: Math.round(speedup * 1000) / 1000,
    reference: "1 worker",
    ratio: Math.round((speedup / cores) * 1000) / 1000,
  }),
);
