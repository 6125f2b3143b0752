/**
 * workload.routing: load (workload/load-routing.ts): the accuracy guard of issue 20 (step-time mean and p99 within
 * 2% of per-token routing on the same scenario) and the refusals where a policy needs token identity.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseScenario } from "../../src/scenario/load.js";
import { resolveScenario } from "../../src/scenario/resolve.js";
import { simulateMoe } from "../../src/moe/simulate.js";
import { runCli } from "../cli-runner.js";
import { deepseekDecodeYaml, stepTimeStats, type Routing } from "../../bench/_scale-scenario.js";

/** bench/scale's scenario (DeepSeek-V3 decode, 128 tokens per GPU per step) with the analytic network. */
async function stepTimes(
  routing: Routing,
  gpus: number,
  steps: number,
): Promise<{ mean: number; p99: number; dropped: number }> {
  const yaml = deepseekDecodeYaml({ gpus, steps, network: "analytic", routing });
  const r = simulateMoe((await resolveScenario(parseScenario(yaml, "<inline>"), { outDir: "/tmp/moesim-lr" })).config);
  return { ...stepTimeStats(r.steps), dropped: r.steps.reduce((a, s) => a + s.dropped, 0) };
}

describe("load-level routing: accuracy guard", () => {
  it("DeepSeek-V3 decode on 16 GPUs, 32 steps: step-time mean and p99 within 2% of per-token routing", async () => {
    const tok = await stepTimes("tokens", 16, 32);
    const load = await stepTimes("load", 16, 32);
    const dMean = load.mean / tok.mean - 1;
    const dP99 = load.p99 / tok.p99 - 1;
    console.log(`load vs tokens, 16 GPUs: mean ${(100 * dMean).toFixed(2)}%, p99 ${(100 * dP99).toFixed(2)}%`);
    expect(Math.abs(dMean)).toBeLessThan(0.02);
    expect(Math.abs(dP99)).toBeLessThan(0.02);
    expect(load.dropped).toBe(0);
  }, 120_000);
});

const cwd0 = process.cwd();
afterEach(() => process.chdir(cwd0));

/** A small OLMoE scenario with load-level routing, plus `extra` lines. */
function small(extra: string, workload = ""): string {
  return (
    "seed: 3\ncluster: { preset: dgx-h100, nodes: 1 }\nmodel: { preset: olmoe-1b-7b }\n" +
    "trace: { synthetic: { fitted: olmoe-1b-7b, sequences: 8, tokens_per_sequence: 4 } }\n" +
    `workload: { phase: decode, batching: { kind: static, batch_size: 8 }, routing: load${workload} }\n` +
    "outputs: { timelines: false }\n" +
    extra
  );
}

async function run(text: string) {
  const dir = mkdtempSync(join(tmpdir(), "moesim-loadroute-"));
  writeFileSync(join(dir, "s.yaml"), text);
  process.chdir(dir);
  try {
    return await runCli(["run", "s.yaml", "--no-report"]);
  } finally {
    process.chdir(cwd0);
  }
}

describe("load-level routing: where it runs and where it is refused", () => {
  it.each([
    ["the default policies (dynamic gating, contiguous placement, no buffering)", "", ""],
    [
      "megablocks gating, round-robin placement",
      "policies: { gating: { policy: megablocks }, placement: { policy: round-robin } }\n",
      "",
    ],
    ["fastmoe gating, two-batch overlap", "policies: { gating: { policy: fastmoe } }\n", ", overlap: two-batch"],
    ["continuous batching", "", ", batching: { kind: continuous, max_batch: 4 }"],
  ])("runs with %s", async (_what, extra, workload) => {
    let text = small(extra, workload);
    if (workload.includes("batching")) text = text.replace("batching: { kind: static, batch_size: 8 }, ", "");
    const r = await run(text);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
  });

  it.each([
    ["policies.gating.policy", "policies: { gating: { policy: static } }\n"],
    ["policies.gating.policy", "policies: { gating: { policy: tutel } }\n"],
    ["policies.buffering.policy", "policies: { buffering: { policy: lru, slots: 4 } }\n"],
    ["policies.placement.policy", "policies: { placement: { policy: greedy } }\n"],
    ["policies.placement.policy", "policies: { placement: { policy: eplb } }\n"],
    ["policies.placement.policy", "policies: { placement: { policy: anti-correlation } }\n"],
    ["policies.placement.replicate_hot", "policies: { placement: { policy: contiguous, replicate_hot: 2 } }\n"],
    ["policies.placement.rebalance_every", "policies: { placement: { policy: contiguous, rebalance_every: 2 } }\n"],
    ["cluster.dispatch", "", "cluster: { preset: dgx-h100, nodes: 1, dispatch: deepep-low-latency }"],
  ])("refuses it where %s needs token identity: exit 2, one line naming the key path", async (key, extra, cluster?) => {
    let text = small(extra);
    if (cluster) text = text.replace("cluster: { preset: dgx-h100, nodes: 1 }", cluster);
    const r = await run(text);
    expect(r.code).toBe(2);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(r.err).toContain("workload.routing: 'load'");
    expect(r.err).toContain(`but ${key} needs them`);
    expect(r.err).toMatch(/s\.yaml:\d+/);
  });

  it("refuses a trace file: its picks are per token", async () => {
    const text = small("").replace(
      "trace: { synthetic: { fitted: olmoe-1b-7b, sequences: 8, tokens_per_sequence: 4 } }",
      "trace: { file: t.jsonl }",
    );
    const r = await run(text);
    expect(r.code).toBe(2);
    expect(r.err).toContain("but trace.file needs them");
  });
});
