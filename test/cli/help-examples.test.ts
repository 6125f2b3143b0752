/**
 * Issue 16: every example printed by `--help` runs as printed, in a temporary folder holding a copy
 * of scenarios/ and profiles/, and the repository is unchanged afterwards.
 */
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildProgram } from "../../src/cli/main.js";
import { runCli } from "../cli-runner.js";
import { sharedPaperRun } from "../paper/shared.js";
import type { Command } from "commander";

const ROOT = resolve(import.meta.dirname, "..", "..");

/** Examples that cannot run here, each with why. */
const SKIP: Record<string, string> = {
  "moesim calibrate --out mine.json --quick": "times WebGPU kernels for up to a minute (test/calibrate covers it)",
  "moesim calibrate --validate --profile profiles/lavapipe.json --json": "runs kernels on the WebGPU adapter",
  "moesim calibrate --validate --quick": "times WebGPU kernels for up to a minute",
  "moesim calibrate --model olmoe-1b-7b --max-seconds 120 --out olmoe.json --validate":
    "times a model's shapes on the WebGPU adapter for minutes (test/calibrate/model-sweep.test.ts covers it)",
  "moesim trace convert records.jsonl out.mtrace --map seq=problem_id,token=token_idx --experts 64":
    "names the user's own records file (marked so in the help)",
  "moesim calibrate import all_to_all_perf.log kernels.csv --preset hgx-h200 --out profiles/my-cluster.json":
    "names the user's own nccl-tests log and kernel CSV (test/calibrate/import.test.ts runs it on fixtures)",
  "moesim validate imported --profile my-cluster.json":
    "reads the profile the import example writes (test/calibrate/import.test.ts covers it)",
};

function commandPaths(c: Command, prefix: string[] = []): string[][] {
  return [prefix, ...c.commands.flatMap((s) => commandPaths(s, [...prefix, s.name()]))];
}

/** The `moesim ...` lines of every command's --help, comments and `&&` chains split off. */
async function examples(): Promise<string[]> {
  const out = new Set<string>();
  for (const path of commandPaths(buildProgram())) {
    const r = await runCli([...path, "--help"]);
    expect(r.code, path.join(" ")).toBe(0);
    for (const line of r.out.split("\n")) {
      const m = /^\s+(moesim .*)$/.exec(line);
      if (!m) continue;
      for (const part of m[1].replace(/\s+#.*$/, "").split("&&")) out.add(part.trim());
    }
  }
  return [...out];
}

/** Splits an example into arguments (no quoting is used in the examples). */
const argv = (line: string): string[] => line.split(/\s+/).slice(1);

const gitStatus = (): string =>
  execFileSync("git", ["status", "--porcelain", "--untracked-files=all"], { cwd: ROOT, encoding: "utf8" });

const cwd0 = process.cwd();
afterAll(() => process.chdir(cwd0));

describe("help examples (issue 16)", () => {
  it("each runs in a temporary folder (exit 0) and the repository is unchanged afterwards", async () => {
    const before = gitStatus();
    const list = await examples();
    expect(list.length).toBeGreaterThan(20);
    const work = mkdtempSync(join(tmpdir(), "moesim-help-"));
    cpSync(join(ROOT, "scenarios"), join(work, "scenarios"), { recursive: true });
    cpSync(join(ROOT, "profiles"), join(work, "profiles"), { recursive: true });
    // The example sweep as shipped, at 2 steps per point instead of 24 (its 18 points run three times).
    const sweep = join(work, "scenarios", "examples", "gating-x-batch.sweep.yaml");
    const text = readFileSync(sweep, "utf8");
    expect(text).toContain("workload.max_steps: 24");
    writeFileSync(sweep, text.replace("workload.max_steps: 24", "workload.max_steps: 2"));
    // The `moesim paper` examples find the paper's points already run (the table test's run, shared
    // per test run): they still read every point and build the table, but do not rerun ~100 scenarios.
    const paper = (await sharedPaperRun()).out;
    for (const dir of ["paper", "paper-json"]) cpSync(paper, join(work, "results", dir), { recursive: true });
    process.chdir(work);
    const failed: string[] = [];
    let ran = 0;
    try {
      for (const ex of list) {
        if (ex in SKIP) continue;
        const r = await runCli(argv(ex));
        ran++;
        if (r.code !== 0) failed.push(`${ex}\n    exit ${r.code}: ${r.err.trim().slice(0, 400)}`);
      }
    } finally {
      process.chdir(cwd0);
    }
    expect(failed, failed.join("\n")).toEqual([]);
    expect(ran).toBe(list.length - Object.keys(SKIP).filter((k) => list.includes(k)).length);
    expect(gitStatus()).toBe(before);
  }, 400_000);
});
