import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseSweep, runSweep } from "../src/sweep/index.js";
import { workerEntry } from "../src/sweep/bundle.js";
const root = "/work/main";
const gatings = ["static", "tutel", "fastmoe", "megablocks", "dynamic"];
const seeds = Array.from({ length: 40 }, (_, i) => i + 1);
const trace = join(root, "scenarios/traces/quickstart.mtrace");
const STEPS = Number(process.env.STEPS ?? 4);
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
(await workerEntry()).cleanup();
for (const workers of [1, 2]) {
  const out = mkdtempSync(join(tmpdir(), "sw2-"));
  const times: number[] = [];
  let first = 0;
  const t0 = performance.now();
  await runSweep(spec, { workers, out, progress: { start() {}, point(_d: number, _n: number, _w: string, s: number) { if (!first) first = performance.now() - t0; times.push(s * 1000); }, stop() {} } as any });
  const tot = performance.now() - t0;
  rmSync(out, { recursive: true, force: true });
  const sum = times.reduce((a, b) => a + b, 0);
  const chunk = (a: number, b: number) => (times.slice(a, b).reduce((x, y) => x + y, 0) / (b - a)).toFixed(1);
  console.log(`${workers} workers: total ${tot.toFixed(0)} ms, first point done at ${first.toFixed(0)} ms, sum of point times ${sum.toFixed(0)} ms; ms/pt 0-10 ${chunk(0,10)} 10-50 ${chunk(10,50)} 50-100 ${chunk(50,100)} 100-200 ${chunk(100,200)}`);
}
