import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { runCli } from "../cli-runner.js";

// Every scenario under scenarios/deployments/ runs from the repository as shipped (shortened to two
// steps) and renders its report, the timeline, link heatmap and dispatch matrix included.
const DIR = resolve(import.meta.dirname, "..", "..", "scenarios", "deployments");
const FILES = readdirSync(DIR).filter((f) => f.endsWith(".yaml"));
const tmp = mkdtempSync(join(tmpdir(), "moesim-deployments-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("scenarios/deployments", () => {
  it("has the four deployments of issue 19", () => {
    expect(FILES.sort()).toEqual([
      "deepseek-v3-decode.yaml",
      "deepseek-v3-prefill.yaml",
      "gpt-oss-120b-h200.yaml",
      "kimi-k2-gb200-nvl72.yaml",
      "qwen3-235b-2x8-h100.yaml",
    ]);
  });

  for (const f of FILES) {
    it(`${f} runs (2 steps) and renders its report`, async () => {
      const s = parse(readFileSync(join(DIR, f), "utf8")) as {
        workload: Record<string, unknown>;
        cluster: Record<string, unknown>;
        trace: { synthetic: Record<string, unknown> };
      };
      // Shortened: two steps, and only the synthetic trace those two steps read.
      s.workload.max_steps = 2;
      const batch = (s.workload.batching as { batch_size: number }).batch_size;
      if (s.workload.phase === "prefill") s.trace.synthetic.sequences = 2 * batch;
      else s.trace.synthetic.tokens_per_sequence = 2;
      const file = join(tmp, f);
      writeFileSync(file, stringify(s));
      const out = join(tmp, f.replace(/\.yaml$/, ""));
      const r = await runCli(["run", file, "--json", "-q", "-o", out]);
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
      const summary = JSON.parse(r.out) as { steps: number; throughput_tokens_per_s: number; report: string };
      expect(summary.report).toBe(join(out, "report", "report.html"));
      // every deployment's report has these charts, with or without overlap
      const charts = ["latency", "load", "links", "straggler", "timeline", "link_heatmap", "dispatch"];
      for (const c of charts) expect(existsSync(join(out, "report", `${c}.svg`)), c).toBe(true);
      const dispatch = typeof s.cluster.dispatch === "string" ? s.cluster.dispatch : "";
      if (dispatch.startsWith("deepep")) {
        const resolved = JSON.parse(readFileSync(join(out, "scenario.json"), "utf8")) as object;
        expect(JSON.stringify(resolved)).toContain(dispatch);
      }
    });
  }
});
