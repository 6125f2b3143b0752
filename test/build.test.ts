import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";

describe("a compiled build (tsc + scripts/copy-assets.mjs, as npm run build)", () => {
  it("runs its workers from the compiled point runner beside it (no bundling, no TypeScript loader), and synthesises from fitted parameters", () => {
    const root = resolve(import.meta.dirname, "..");
    // compiled under node_modules so that the build resolves the project's packages, as dist/ does
    const out = join(root, "node_modules", ".cache", "moesim-test-build");
    rmSync(out, { recursive: true, force: true });
    const tsc = spawnSync(
      process.execPath,
      [
        join(root, "node_modules", "typescript", "bin", "tsc"),
        "-p",
        join(root, "tsconfig.build.json"),
        "--outDir",
        out,
      ],
      { encoding: "utf8" },
    );
    expect(tsc.status, tsc.stdout + tsc.stderr).toBe(0);
    // what `npm run build` does after tsc: the data files beside their modules
    const assets = spawnSync(process.execPath, [join(root, "scripts", "copy-assets.mjs"), out], { encoding: "utf8" });
    expect(assets.status, assets.stderr).toBe(0);
    const results = mkdtempSync(join(tmpdir(), "moesim-built-sweep-"));
    const trace = join(root, "scenarios", "traces", "quickstart.mtrace");
    const script = `
      const { parseSweep, runSweep, mergeSweeps } = await import(${JSON.stringify(pathToFileURL(join(out, "sweep", "index.js")).href)});
      const spec = parseSweep(${JSON.stringify(
        `name: built\nbase:\n  cluster: { preset: dgx-h100 }\n  model: { preset: olmoe-1b-7b }\n  trace: { file: ${JSON.stringify(trace)} }\n` +
          `  workload: { phase: decode, batching: { kind: static, batch_size: 8 }, max_steps: 2 }\n  outputs: { timelines: false }\n` +
          `grid:\n  policies.gating.policy: [dynamic, static]\n`,
      )}, "built.yaml");
      const r = await runSweep(spec, { workers: 2, out: ${JSON.stringify(results)} });
      // and a scenario synthesised from fitted parameters (a data file the build must carry)
      const { parseScenario } = await import(${JSON.stringify(pathToFileURL(join(out, "scenario", "load.js")).href)});
      const { runScenario } = await import(${JSON.stringify(pathToFileURL(join(out, "scenario", "run.js")).href)});
      const fitted = await runScenario(parseScenario(${JSON.stringify(
        "name: f\nseed: 1\ncluster: { preset: dgx-h100 }\nmodel: { preset: olmoe-1b-7b }\n" +
          "trace: { synthetic: { fitted: olmoe-1b-7b, sequences: 8, tokens_per_sequence: 2 } }\nworkload: { phase: decode, batching: { kind: static, batch_size: 8 } }\n",
      )}, ${JSON.stringify(join(root, "scenarios", "inline.yaml"))}), { files: false });
      console.log(JSON.stringify({ ran: r.ran, entry: r.entry, merged: mergeSweeps([${JSON.stringify(results)}]).files.has("sweep.json"), fittedTokens: fitted.summary.tokens }));`;
    try {
      // a plain node: no TypeScript loader inherited (vitest's would otherwise be on)
      const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
        encoding: "utf8",
        env: { ...process.env, NODE_OPTIONS: "" },
      });
      expect(run.status, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout.trim().split("\n").pop()!)).toEqual({
        ran: 2,
        entry: "bundle",
        merged: true,
        fittedTokens: 16,
      });
    } finally {
      rmSync(results, { recursive: true, force: true });
      rmSync(out, { recursive: true, force: true });
    }
  }, 120_000);
});
