/**
 * bench/e2e: the seed paper's LM 52B scenario (scenarios/paper/base/lm.yaml: 512 experts, top-2,
 * dynamic gating, paper-v100 nodes) run end to end through runScenario, as the serving case:
 * phase decode (one token per request per step), static batches of 8 requests per GPU, context
 * 1024 tokens, many steps. Two cases, each with the flow network model (the default) and again
 * with the analytic one (fields *_analytic): 1 node (8 GPUs, 64 requests) and 4 nodes (32 GPUs, 256
 * requests, fabric over EDR InfiniBand). Per case: wall time of runScenario, simulated seconds per
 * wall second (realtime factor; also per second of process CPU time, steadier on a shared machine)
 * and engine events per wall second. The wall time covers all of runScenario: resolving the
 * scenario (synthesising the routing trace), the simulation, and the summary.
 * Reference, measured in the same run: the 8-GPU case's wall time per event; ratio =
 * wall-per-event(32 GPUs) / wall-per-event(8 GPUs), so ~1 means the cost of an event does not grow
 * with the cluster (the network solver's per-event cost grows with the flows in flight).
 * Also per case: the simulation alone (simulateMoe on the resolved config, best of 3 runs), i.e.
 * without resolving (trace synthesis) and the summary/results files: realtime_factor_sim.
 * The last stdout line is the JSON result. `--steps N` sets the decode steps: default 512 (the
 * batch of 64 requests generates 512 tokens each, ~4 s simulated), long enough that the JIT's
 * warm-up and the fixed costs (resolving, summary) do not dominate; `--steps 64` (the default
 * until 2026-11-25) mostly measures a cold start.
 */
import { performance } from "node:perf_hooks";
import { lmDecodeScenario } from "./_lm-decode.js";
import { runScenario } from "../src/scenario/run.js";
import { simulateMoe } from "../src/moe/simulate.js";

const argSteps = process.argv.indexOf("--steps");
const STEPS = argSteps > 0 ? Number(process.argv[argSteps + 1]) : 512;

interface Case {
  label: string;
  nodes: number;
  wallS: number;
  cpuS: number;
  simS: number;
  events: number;
  steps: number;
  tokens: number;
  /** Best wall time of simulateMoe alone on the resolved config (3 runs; 1 when a run takes > 5 s). */
  simOnlyS: number;
}

async function runCase(
  label: string,
  nodes: number,
  steps: number,
  networkModel: "flow" | "analytic" = "flow",
): Promise<Case> {
  const loaded = lmDecodeScenario({ name: `bench-e2e-${label}`, nodes, steps, networkModel });
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const run = await runScenario(loaded, { outDir: "/tmp/moesim-bench-e2e" });
  const wallS = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  const cpuS = (c.user + c.system) / 1e6;
  const r = run.result;
  if (r.oom) throw new Error(`${label}: out of memory at step ${r.oom.step}`);
  let simOnlyS = Infinity;
  for (let i = 0; i < (wallS > 5 ? 1 : 3); i++) {
    const s0 = performance.now();
    simulateMoe(run.resolved.config);
    simOnlyS = Math.min(simOnlyS, (performance.now() - s0) / 1000);
  }
  return {
    label,
    nodes,
    wallS,
    cpuS,
    simS: r.simulatedNs / 1e9,
    events: r.events,
    steps: r.completedSteps,
    tokens: r.tokens,
    simOnlyS,
  };
}

function line(c: Case): void {
  console.log(
    `${c.label.padEnd(8)} gpus=${String(c.nodes * 8).padStart(2)} steps=${c.steps} tokens=${c.tokens} events=${c.events} ` +
      `wall_s=${c.wallS.toFixed(3)} cpu_s=${c.cpuS.toFixed(3)} simulated_s=${c.simS.toFixed(4)} realtime_factor=${(c.simS / c.wallS).toFixed(2)} ` +
      `events_per_s=${Math.round(c.events / c.wallS)} sim_only_s=${c.simOnlyS.toFixed(4)} realtime_factor_sim=${(c.simS / c.simOnlyS).toFixed(2)}`,
  );
}

await runCase("warmup", 1, 4); // JIT and module loading
const one = await runCase("1node", 1, STEPS);
line(one);
const four = await runCase("4nodes", 4, STEPS);
line(four);
// The analytic network model (cluster.network_model: analytic): collectives alone on the network
// come out within ~1% of the flow model (test/hardware/network-analytic.test.ts).
const oneA = await runCase("1node-an", 1, STEPS, "analytic");
line(oneA);
const fourA = await runCase("4nodes-an", 4, STEPS, "analytic");
line(fourA);

const perEvent1 = one.wallS / one.events;
const perEvent4 = four.wallS / four.events;
console.log(
  JSON.stringify({
    bench: "e2e",
    scenario: "paper LM 52B (lm.yaml) as decode: 8 requests/GPU, context 1024",
    steps: STEPS,
    realtime_factor: Number((one.simS / one.wallS).toFixed(2)),
    events_per_s: Math.round(one.events / one.wallS),
    realtime_factor_4nodes: Number((four.simS / four.wallS).toFixed(2)),
    events_per_s_4nodes: Math.round(four.events / four.wallS),
    realtime_factor_sim: Number((one.simS / one.simOnlyS).toFixed(2)),
    realtime_factor_sim_4nodes: Number((four.simS / four.simOnlyS).toFixed(2)),
    realtime_factor_cpu: Number((one.simS / one.cpuS).toFixed(2)),
    realtime_factor_4nodes_cpu: Number((four.simS / four.cpuS).toFixed(2)),
    realtime_factor_analytic: Number((oneA.simS / oneA.wallS).toFixed(2)),
    realtime_factor_4nodes_analytic: Number((fourA.simS / fourA.wallS).toFixed(2)),
    simulated_s_4nodes_analytic: fourA.simS,
    wall_s: Number(one.wallS.toFixed(3)),
    wall_s_4nodes: Number(four.wallS.toFixed(3)),
    simulated_s: one.simS,
    simulated_s_4nodes: four.simS,
    reference: "wall time per event of the 8-gpu case, same run",
    reference_us_per_event: Number((perEvent1 * 1e6).toFixed(3)),
    ratio: Number((perEvent4 / perEvent1).toFixed(3)),
  }),
);
