/**
 * bench/network-guard: the accuracy guards of issue 20, measured on every validation and deployment scenario.
 *
 * Scenarios: scenarios/quickstart.yaml, scenarios/deployments/*.yaml, the paper's base scenarios
 * (scenarios/paper/base/*.yaml) and every point of the paper's sweeps (scenarios/paper/*.yaml, what `moesim paper`
 * validates against the paper's figures). Each runs with `cluster.network_model: flow` and `analytic` (resolve, then
 * simulateMoe), its steps capped at `--steps N` (default 4; a scenario with fewer steps runs them all), so the whole
 * bench takes ~8.5 min of CPU, one core. Per scenario: step-time (latency) mean and nearest-rank p99 per model and the
 * analytic model's relative difference to the flow model's; then the worst. Guard: |difference| <= 2%.
 *
 * Load-level routing (`workload.routing: load`) is run beside per-token routing, both with the analytic model, on
 * every scenario where it is allowed (synthetic trace, no policy that needs token identity: the scenario resolves with
 * it); its step-time mean and p99 relative to per-token routing's. Guard: |difference| <= 2%. The load mode's counts
 * are drawn, not the trace's, so part of the difference is sampling: beside it, per-token routing with another seed
 * (`reseeded`: another draw of the same routing) against the first is the noise floor of the comparison on that
 * scenario; a difference well beyond it is a bias of the load mode (e.g. correlation it does not model).
 *
 * Last, one all-to-all alone on the DGX-1 cube mesh (fairseq-v100) with random sizes, analytic against flow: the
 * per-collective spread behind the step-level figures (`cube_mesh_all_to_all`).
 *
 * `--only deployments|paper|quickstart` (comma list) restricts the scenarios; `--match TEXT` keeps those whose label
 * contains it; `--no-load` skips the routing comparison, `--no-flow` the network one. CPU time per scenario is printed
 * (process.cpuUsage).
 * The last stdout line is one JSON object.
 */
import { UserError } from "../src/util/errors.js";
import { Simulation } from "../src/sim/engine.js";
import { rootStream } from "../src/sim/rng.js";
import { Cluster } from "../src/hardware/cluster.js";
import { clusterSpecFrom } from "../src/hardware/presets.js";
import { guardEntries, guardRun, type GuardEntry, type GuardRun } from "./_guard-scenarios.js";

const GUARD = 0.02;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}
const STEPS = Number(arg("--steps") ?? 4);
const only = arg("--only")?.split(",");
const match = arg("--match");
const withLoad = !process.argv.includes("--no-load");
const withFlow = !process.argv.includes("--no-flow");

const entries = (): GuardEntry[] =>
  guardEntries().filter((e) => (!only || only.includes(e.group)) && (!match || e.label.includes(match)));
const run = (
  e: GuardEntry,
  model: "flow" | "analytic",
  routing: "tokens" | "load",
  reseed = false,
): Promise<GuardRun> => guardRun(e, { model, routing, maxSteps: STEPS, reseed });

const rel = (a: number, b: number): number => Number((a / b - 1).toFixed(5));
const pct = (x: number): string => `${x >= 0 ? "+" : ""}${(100 * x).toFixed(2)}%`;
const ms = (ns: number): string => (ns / 1e6).toFixed(3);

interface Row {
  label: string;
  steps: number;
  flow: { mean: number; p99: number };
  analytic: { mean: number; p99: number };
  mean: number;
  p99: number;
  cpu_s: { flow: number; analytic: number };
}
interface LoadRow {
  label: string;
  steps: number;
  /** Load-level routing's step-time mean and p99 relative to per-token routing's. */
  mean: number;
  p99: number;
  /** The noise floor: per-token routing with another seed (another draw of the same routing) against the first. */
  reseeded: { mean: number; p99: number };
}

const rows: Row[] = [];
const loadRows: LoadRow[] = [];
const refused: string[] = [];
/** Scenarios that run out of GPU memory (with either model: the same memory model): no step time to compare. */
const oom: string[] = [];
const c0 = process.cpuUsage();
for (const e of entries()) {
  const an = await run(e, "analytic", "tokens");
  const flow = withFlow ? await run(e, "flow", "tokens") : an;
  if (flow.oom !== null || an.oom !== null) {
    oom.push(e.label);
    console.log(`${e.label}: out of GPU memory at step ${flow.oom ?? an.oom} (flow ${flow.oom}, analytic ${an.oom})`);
    continue;
  }
  const row: Row = {
    label: e.label,
    steps: an.steps,
    flow: { mean: flow.mean, p99: flow.p99 },
    analytic: { mean: an.mean, p99: an.p99 },
    mean: rel(an.mean, flow.mean),
    p99: rel(an.p99, flow.p99),
    cpu_s: { flow: Number(flow.cpuS.toFixed(3)), analytic: Number(an.cpuS.toFixed(3)) },
  };
  if (withFlow) rows.push(row);
  if (withFlow)
    console.log(
      `${e.label}: steps=${row.steps} flow mean/p99 ms=${ms(flow.mean)}/${ms(flow.p99)} ` +
        `analytic=${ms(an.mean)}/${ms(an.p99)} diff mean ${pct(row.mean)} p99 ${pct(row.p99)} ` +
        `cpu_s flow=${flow.cpuS.toFixed(2)} analytic=${an.cpuS.toFixed(2)}`,
    );
  if (!withLoad) continue;
  let load: GuardRun;
  try {
    load = await run(e, "analytic", "load");
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    refused.push(e.label);
    continue;
  }
  if (load.oom !== null) {
    oom.push(`${e.label} (load routing)`);
    continue;
  }
  const re = await run(e, "analytic", "tokens", true);
  const lr: LoadRow = {
    label: e.label,
    steps: load.steps,
    mean: rel(load.mean, an.mean),
    p99: rel(load.p99, an.p99),
    reseeded: re.oom === null ? { mean: rel(re.mean, an.mean), p99: rel(re.p99, an.p99) } : { mean: NaN, p99: NaN },
  };
  loadRows.push(lr);
  console.log(
    `  ${e.label}: load vs tokens (analytic): mean ${pct(lr.mean)} p99 ${pct(lr.p99)}; ` +
      `tokens reseeded vs tokens: mean ${pct(lr.reseeded.mean)} p99 ${pct(lr.reseeded.p99)}`,
  );
}
const cu = process.cpuUsage(c0);

/**
 * One all-to-all alone on the fairseq-v100 node (the DGX-1's cube mesh, pairs without a link relayed through a GPU,
 * which every paper scenario runs), random sizes per pair (uniform up to `scale`, 30% of pairs up to 5 x scale), 100
 * per scale: the analytic model's completion time against the flow model's (relative, and the largest excess in ns).
 */
function meshAllToAll(): { scale: number; min: number; max: number; max_excess_ns: number }[] {
  const once = (sizes: Float64Array, model: "flow" | "analytic"): number => {
    const sim = new Simulation();
    const cluster = new Cluster(sim, clusterSpecFrom({ preset: "fairseq-v100", nodes: 1 }), {
      recordTimeline: false,
      networkModel: model,
    });
    let done = -1;
    cluster.allToAll([0, 1, 2, 3, 4, 5, 6, 7], sizes, () => void (done = sim.now));
    sim.run();
    return done;
  };
  const rng = rootStream("bench-network-guard-mesh");
  const out = [];
  for (const scale of [1e3, 1e4, 1e5, 1e6, 1e7, 1e8]) {
    let min = Infinity;
    let max = -Infinity;
    let excess = 0;
    for (let i = 0; i < 100; i++) {
      const m = new Float64Array(64);
      for (let k = 0; k < 64; k++) m[k] = Math.floor(rng.next() * scale * (rng.next() < 0.3 ? 5 : 1));
      const f = once(m, "flow");
      const a = once(m, "analytic");
      min = Math.min(min, a / f - 1);
      max = Math.max(max, a / f - 1);
      excess = Math.max(excess, a - f);
    }
    out.push({ scale, min: Number(min.toFixed(5)), max: Number(max.toFixed(5)), max_excess_ns: excess });
    console.log(
      `one all-to-all on fairseq-v100, bytes per pair up to ${5 * scale}: analytic vs flow ${pct(min)} .. ${pct(max)}, ` +
        `analytic later by at most ${excess} ns`,
    );
  }
  return out;
}
const mesh = meshAllToAll();

const worstOf = <T extends { mean: number; p99: number }>(xs: T[]): T | undefined =>
  xs.reduce<T | undefined>(
    (w, x) => (!w || Math.max(Math.abs(x.mean), Math.abs(x.p99)) > Math.max(Math.abs(w.mean), Math.abs(w.p99)) ? x : w),
    undefined,
  );
const worst = worstOf(rows);
const worstLoad = worstOf(loadRows);
const over = rows.filter((r) => Math.max(Math.abs(r.mean), Math.abs(r.p99)) > GUARD).map((r) => r.label);
const overLoad = loadRows.filter((r) => Math.max(Math.abs(r.mean), Math.abs(r.p99)) > GUARD).map((r) => r.label);
if (worst) console.log(`worst analytic vs flow: ${worst.label}: mean ${pct(worst.mean)} p99 ${pct(worst.p99)}`);
if (worstLoad)
  console.log(`worst load vs tokens: ${worstLoad.label}: mean ${pct(worstLoad.mean)} p99 ${pct(worstLoad.p99)}`);
console.log(
  JSON.stringify({
    bench: "network-guard",
    steps_cap: STEPS,
    guard: GUARD,
    scenarios: rows.length,
    worst_analytic_vs_flow: worst ? { label: worst.label, mean: worst.mean, p99: worst.p99 } : null,
    over_guard: over,
    load_vs_tokens_scenarios: loadRows.length,
    worst_load_vs_tokens: worstLoad ?? null,
    load_over_guard: overLoad,
    load_refused: refused.length,
    oom,
    cpu_s: Number(((cu.user + cu.system) / 1e6).toFixed(1)),
    cube_mesh_all_to_all: mesh,
    rows,
    load_rows: loadRows,
  }),
);
