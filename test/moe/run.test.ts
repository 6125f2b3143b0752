import { mkdtempSync, readFileSync, readdirSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { parseScenario, loadScenarioFile } from "../../src/scenario/load.js";
import { runScenario } from "../../src/scenario/run.js";
import { writeResultsDir } from "../../src/moe/results.js";
import { PHASES, simulateMoe } from "../../src/moe/simulate.js";
import { resolveScenario } from "../../src/scenario/resolve.js";
import { UserError } from "../../src/util/errors.js";

const ROOT = resolve(import.meta.dirname, "..", "..");
const QUICKSTART = resolve(ROOT, "scenarios", "quickstart.yaml");

function scenario(extra: string): ReturnType<typeof parseScenario> {
  const workload = extra.includes("workload:")
    ? ""
    : `workload: { phase: decode, batching: { kind: static, batch_size: 16 } }\n`;
  return parseScenario(
    `name: t\nseed: 7\ncluster: { preset: dgx-h100, nodes: 1 }\nmodel: { preset: olmoe-1b-7b }\n` +
      `trace: { synthetic: { fitted: olmoe-1b-7b, sequences: 32, tokens_per_sequence: 12 } }\n${workload}${extra}`,
    join(ROOT, "scenarios", "inline.yaml"),
  );
}

describe("network_model: analytic", () => {
  it("a 4-node decode scenario: the same tokens, throughput within 1% of the flow model (collectives alone on the network), summary says so", async () => {
    const yaml = (m: string): string =>
      `name: t\nseed: 7\ncluster: { preset: dgx-h100, nodes: 4, network_model: ${m} }\nmodel: { preset: olmoe-1b-7b }\n` +
      `trace: { synthetic: { fitted: olmoe-1b-7b, sequences: 64, tokens_per_sequence: 3 } }\nworkload: { phase: decode, batching: { kind: static, batch_size: 64 } }\n`;
    const at = join(ROOT, "scenarios", "inline.yaml");
    const f = await runScenario(parseScenario(yaml("flow"), at));
    const a = await runScenario(parseScenario(yaml("analytic"), at));
    expect(f.summary.cluster.network_model).toBe("flow");
    expect(a.summary.cluster.network_model).toBe("analytic");
    expect(a.summary.tokens).toBe(f.summary.tokens);
    expect(a.summary.tokens_per_s).toBeGreaterThanOrEqual(f.summary.tokens_per_s); // times are a lower bound
    expect(a.summary.tokens_per_s / f.summary.tokens_per_s).toBeLessThan(1.01);
    expect(a.result.links.map((l) => l.bytes)).toEqual(f.result.links.map((l) => l.bytes));
  });

  it("the quickstart (expert buffering: weight copies queue on shared PCIe links while all-to-alls run): within 1% of the flow model", async () => {
    const f = await runScenario(loadScenarioFile(QUICKSTART));
    const loaded = loadScenarioFile(QUICKSTART);
    loaded.scenario.cluster.network_model = "analytic";
    const a = await runScenario(loaded);
    expect(a.summary.cache).toEqual(f.summary.cache); // the same misses, so the same copies
    expect(Math.abs(a.summary.tokens_per_s / f.summary.tokens_per_s - 1)).toBeLessThan(0.01);
  });
});

describe("moesim run: the quickstart scenario", () => {
  it("runs, accounts every token and phase, and is byte-identical across two runs", async () => {
    const a = await runScenario(loadScenarioFile(QUICKSTART));
    const b = await runScenario(loadScenarioFile(QUICKSTART));
    const s = a.summary;
    expect(s.oom).toBe(false);
    expect(s.tokens).toBe(a.resolved.trace.tokens); // every token of the trace is served
    expect(s.tokens_per_s).toBeGreaterThan(0);
    expect(s.cache).not.toBeNull();
    expect(s.dense_baseline).not.toBeNull();
    // Per step the phases add up to the step's latency, and steps tile the simulated time.
    let end = 0;
    for (const st of a.result.steps) {
      const sum = PHASES.reduce((acc, p) => acc + st.phases_ns[p], 0);
      expect(sum).toBe(st.latency_ns);
      expect(st.start_ns).toBe(end);
      end = st.end_ns;
    }
    expect(end).toBe(a.result.simulatedNs);
    // Same scenario + seed: identical files, byte for byte.
    expect([...a.files.keys()]).toEqual([...b.files.keys()]);
    for (const [k, v] of a.files) expect(b.files.get(k), k).toBe(v);
  });

  it("a different seed changes the run; --json fields are present", async () => {
    const text = readFileSync(QUICKSTART, "utf8")
      .replace("seed: 42", "seed: 43")
      .replace(
        "file: traces/quickstart.mtrace",
        "synthetic: { fitted: olmoe-1b-7b, sequences: 16, tokens_per_sequence: 8 }",
      );
    const a = await runScenario(parseScenario(text, QUICKSTART));
    const b = await runScenario(parseScenario(text.replace("seed: 43", "seed: 44"), QUICKSTART));
    expect(a.files.get("steps.csv")).not.toBe(b.files.get("steps.csv"));
    for (const k of ["tokens_per_s", "oom", "results_dir", "step_latency_ms", "phase_breakdown_ms", "memory", "load"])
      expect(a.summary).toHaveProperty(k);
  });
});

describe("moesim run: simulation invariants", () => {
  it("every gating policy conserves token-expert assignments; only static drops", async () => {
    for (const g of ["static", "tutel", "fastmoe", "megablocks", "dynamic"]) {
      const r = await runScenario(scenario(`policies: { gating: { policy: ${g}, capacity_factor: 1 } }`));
      const dropped = r.result.steps.reduce((a, s) => a + s.dropped, 0);
      if (g !== "static") expect(dropped, g).toBe(0);
      const layers = r.resolved.trace.layers;
      const assignments = r.summary.tokens * r.resolved.trace.topK * layers;
      const computed = r.result.steps.reduce((a, s) => a + s.gpu_tokens.reduce((x, y) => x + y, 0), 0);
      expect(computed + dropped, g).toBe(assignments);
    }
  });

  it("a cache never holds more than its slots, and hits move no bytes", async () => {
    const r = await runScenario(scenario(`policies: { buffering: { policy: lifo-paper, slots: 3 } }`));
    const expertBytes = 12_582_912;
    for (const c of r.result.cache!) {
      expect(c.hits + c.misses).toBe(c.requests);
      expect(c.bytes_moved).toBe(c.misses * expertBytes);
    }
    for (const m of r.result.memory) expect(m.peak_by_category.expert_cache).toBe(3 * 16 * expertBytes);
  });

  it("reports OOM at the step it happens instead of crashing", async () => {
    // 80 GB of HBM cannot hold the KV cache of 2 requests per GPU x 1M tokens of context (256 GB).
    const r = await runScenario(
      scenario(`workload: { phase: decode, batching: { kind: static, batch_size: 16 }, context_tokens: 1000000 }`),
    );
    expect(r.summary.oom).toBe(true);
    const o = r.summary.oom_detail as {
      step: number;
      category: string;
      requestedBytes: number;
      freeBytes: number;
      gpu: string;
    };
    expect(o.step).toBe(0);
    expect(o.category).toBe("kv_cache");
    expect(o.requestedBytes).toBeGreaterThan(o.freeBytes);
    expect(r.summary.steps).toBe(0);
  });

  it("continuous batching with Poisson arrivals serves every request once", async () => {
    const r = await runScenario(
      scenario(
        `workload: { phase: decode, batching: { kind: continuous, max_batch: 8, arrival: { kind: poisson, rate_per_s: 500 } } }`,
      ),
    );
    expect(r.summary.tokens).toBe(r.resolved.trace.tokens);
    expect(r.result.requestLatencyNs.length).toBe(32);
    expect(Math.min(...r.result.steps.map((s) => s.tokens))).toBeGreaterThan(0);
    expect(Math.max(...r.result.steps.map((s) => s.tokens))).toBeLessThanOrEqual(8);
  });

  it("tensor parallelism shards the dense weights, adds its collectives, and keeps every token", async () => {
    const run = (t: number) => runScenario(scenario(`parallelism: { tensor: ${t} }`));
    const [a, b] = [await run(1), await run(2)];
    expect(b.summary.tokens).toBe(a.summary.tokens);
    // Dense weights are split over the 2 ranks of a group; experts are not.
    expect(b.summary.memory.peak_by_category_bytes.weights).toBeLessThan(
      a.summary.memory.peak_by_category_bytes.weights,
    );
    // Same routing, same expert work.
    expect(b.result.steps.map((s) => s.gpu_tokens.reduce((x, y) => x + y, 0))).toEqual(
      a.result.steps.map((s) => s.gpu_tokens.reduce((x, y) => x + y, 0)),
    );
    // The all-gathers after each combine take time on top of the all-to-alls.
    expect(b.summary.phase_breakdown_ms.all_to_all).toBeGreaterThan(a.summary.phase_breakdown_ms.all_to_all);
    for (const st of b.result.steps) expect(PHASES.reduce((acc, p) => acc + st.phases_ns[p], 0)).toBe(st.latency_ns);
    await expect(runScenario(scenario(`parallelism: { tensor: 3 }`))).rejects.toThrow(
      /parallelism\.tensor: 3 must divide/,
    );
  });

  it("unknown policy names fail with the valid values and the scenario location", async () => {
    const loaded = scenario(`policies: { buffering: { policy: belady2, slots: 2 } }`);
    await expect(runScenario(loaded)).rejects.toThrow(UserError);
    await expect(runScenario(loaded)).rejects.toThrow(
      /inline\.yaml:\d+:\d+: policies\.buffering\.policy: .*belady2.*lifo-paper/,
    );
  });
});

describe("results directory", () => {
  it("is written atomically and never replaces a folder moesim did not write", () => {
    const dir = mkdtempSync(join(tmpdir(), "moesim-res-"));
    const target = join(dir, "r");
    writeResultsDir(
      target,
      new Map([
        ["summary.json", "{}\n"],
        ["a.csv", "x\n"],
      ]),
    );
    expect(readdirSync(target).sort()).toEqual([".moesim-results", "a.csv", "summary.json"]);
    writeResultsDir(target, new Map([["summary.json", '{"v":2}\n']]));
    expect(readdirSync(target).sort()).toEqual([".moesim-results", "summary.json"]);
    expect(readdirSync(dir)).toEqual(["r"]); // no temporary folders left behind
    const mine = join(dir, "mine");
    mkdirSync(mine);
    writeFileSync(join(mine, "notes.txt"), "keep me");
    expect(() => writeResultsDir(mine, new Map([["summary.json", "{}"]]))).toThrow(/not written by moesim/);
    expect(readFileSync(join(mine, "notes.txt"), "utf8")).toBe("keep me");
  });
});

describe("expert compute without buffering", () => {
  it("the one-pass path gives the per-GPU lists' results (every gate, hot-expert copies, V100 and H100 nodes)", async () => {
    let checked = 0;
    // decode (few rows per expert: launch- and weight-bound, equal times) and encode of long
    // sequences (hundreds of rows per expert: compute-bound, times that differ by expert)
    const encode = "workload: { phase: encode, batching: { kind: static, batch_size: 8 } }\n";
    for (const preset of ["paper-v100", "dgx-h100"])
      for (const gating of ["static", "tutel", "fastmoe", "megablocks", "dynamic"])
        for (const [hot, work] of [
          [0, ""],
          [6, ""],
          [0, encode],
          [6, encode],
        ] as const) {
          const loaded = scenario(
            `policies: { gating: { policy: ${gating} }, placement: { policy: greedy, replicate_hot: ${hot} } }\n${work}`,
          );
          loaded.scenario.cluster.preset = preset;
          if (work)
            loaded.scenario.trace = {
              ...loaded.scenario.trace,
              synthetic: { ...loaded.scenario.trace.synthetic!, sequences: 8, tokens_per_sequence: 512 },
            };
          const cfg = (await resolveScenario(loaded)).config;
          const flat = simulateMoe(cfg);
          const lists = simulateMoe({ ...cfg, expertLists: true });
          expect(flat.steps.length).toBeGreaterThan(0);
          expect(JSON.stringify(flat)).toBe(JSON.stringify(lists));
          if (hot > 0)
            expect(flat.placement.some((p) => p.replicas && p.replicas.some((r) => r && r.length > 0))).toBe(true);
          checked++;
        }
    expect(checked).toBe(40);
  });
});
