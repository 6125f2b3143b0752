/**
 * Issue 16, data loss: no user file is ever lost. Each case here lost files before the results
 * folders carried moesim's marker (.moesim-results) and before reports were built in a temporary
 * sibling: `name: ..` with --force deleted the working directory, `name: .` every other run,
 * `--out DIR` replaced a user's folder holding a summary.json, and a report killed half-way was
 * then refused by `moesim report`.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "../cli-runner.js";
import { snapshot } from "./snapshot.js";

const ROOT = resolve(import.meta.dirname, "..", "..");
const BIN = join(ROOT, "bin", "moesim.js");

/** A small scenario that runs in well under a second. */
function scenarioText(name: string | null, extra = ""): string {
  return (
    `${name === null ? "" : `name: ${JSON.stringify(name)}\n`}seed: 3\ncluster: { preset: dgx-h100, nodes: 1 }\nmodel: { preset: olmoe-1b-7b }\n` +
    `trace: { synthetic: { fitted: olmoe-1b-7b, sequences: 8, tokens_per_sequence: 4 } }\n` +
    `workload: { phase: decode, batching: { kind: static, batch_size: 8 } }\n${extra}`
  );
}

const cwd0 = process.cwd();
afterEach(() => process.chdir(cwd0));

function workDir(): string {
  return mkdtempSync(join(tmpdir(), "moesim-dataloss-"));
}

describe("data loss (issue 16)", () => {
  it("name: '..' is rejected (exit 2) and --force deletes nothing: the working directory and its scenario survive", async () => {
    const top = workDir();
    const work = join(top, "work");
    mkdirSync(work);
    writeFileSync(join(work, "s.yaml"), scenarioText(".."));
    writeFileSync(join(work, "notes.txt"), "mine\n");
    const before = snapshot(top);
    process.chdir(work);
    const r = await runCli(["run", "s.yaml", "--no-report", "--force"]);
    process.chdir(cwd0);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^moesim: error: .*name.*'\.\.'/);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(snapshot(top)).toEqual(before);
  });

  it("name: '.' is rejected (exit 2) and --force leaves every other run under results/ in place", async () => {
    const work = workDir();
    writeFileSync(join(work, "s.yaml"), scenarioText("."));
    writeFileSync(join(work, "other.yaml"), scenarioText("other"));
    process.chdir(work);
    const ok = await runCli(["run", "other.yaml", "--no-report"]);
    expect(ok.code).toBe(0);
    const before = snapshot(work);
    const r = await runCli(["run", "s.yaml", "--no-report", "--force"]);
    process.chdir(cwd0);
    expect(r.code).toBe(2);
    expect(r.err.trim().split("\n")).toHaveLength(1);
    expect(snapshot(work)).toEqual(before);
    expect(existsSync(join(work, "results", "other", "summary.json"))).toBe(true);
  });

  it("run --out DIR over a user's folder holding summary.json and notes.txt: exit 2, nothing touched, with or without --force", async () => {
    const work = workDir();
    const s = join(work, "s.yaml");
    writeFileSync(s, scenarioText("mine"));
    const dir = join(work, "mine");
    mkdirSync(dir);
    writeFileSync(join(dir, "summary.json"), JSON.stringify({ format: "moesim-results/v1", mine: true }));
    writeFileSync(join(dir, "notes.txt"), "my notes\n");
    const before = snapshot(work);
    for (const extra of [[], ["--force"]]) {
      const r = await runCli(["run", s, "--no-report", "--out", dir, ...extra]);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/^moesim: error: .*mine.*not written by moesim/);
      expect(r.err.trim().split("\n")).toHaveLength(1);
      expect(snapshot(work)).toEqual(before);
    }
  });

  it("a folder moesim wrote (its marker) is replaced by a re-run; a folder whose marker has another format tag is not", async () => {
    const work = workDir();
    const s = join(work, "s.yaml");
    writeFileSync(s, scenarioText("again"));
    const dir = join(work, "again");
    expect((await runCli(["run", s, "--no-report", "--out", dir])).code).toBe(0);
    const marker = JSON.parse(readFileSync(join(dir, ".moesim-results"), "utf8")) as { format: string };
    expect(marker.format).toBe("moesim-results/v1");
    expect((await runCli(["run", s, "--no-report", "--out", dir])).code).toBe(0);
    writeFileSync(join(dir, ".moesim-results"), JSON.stringify({ format: "something-else" }));
    const r = await runCli(["run", s, "--no-report", "--out", dir, "--force"]);
    expect(r.code).toBe(2);
    expect(existsSync(join(dir, "summary.json"))).toBe(true);
  });

  it("a report left half-written by a killed process (no report.json) does not stop `moesim report` or a re-run", async () => {
    const work = workDir();
    const s = join(work, "s.yaml");
    writeFileSync(s, scenarioText("half"));
    const dir = join(work, "half");
    expect((await runCli(["run", s, "--out", dir])).code).toBe(0);
    const rep = join(dir, "report");
    // What a kill -9 during the report's drawing left behind before reports were built aside:
    // some chart files, no report.html, no report.json.
    for (const f of readdirSync(rep))
      if (f === "report.json" || f === "report.html" || f.endsWith(".png")) rmSync(join(rep, f));
    const r = await runCli(["report", dir, "--no-png"]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(existsSync(join(rep, "report.json"))).toBe(true);
    expect(existsSync(join(rep, "report.html"))).toBe(true);
    // Leftovers of killed runs beside the folder (dead process ids) do not stop a re-run, and go.
    mkdirSync(join(work, ".half.tmp-999999"));
    writeFileSync(join(work, ".half.tmp-999999", "summary.json"), "{");
    mkdirSync(join(dir, ".report.tmp-999999"));
    expect((await runCli(["run", s, "--out", dir, "--no-report"])).code).toBe(0);
    expect(readdirSync(work).filter((e) => e.startsWith(".half."))).toEqual([]);
    const again = await runCli(["report", dir, "--no-png"]);
    expect(again.code).toBe(0);
    expect(readdirSync(dir).filter((e) => e.startsWith(".report."))).toEqual([]);
  });

  it("kill -9 while the report is drawn: report/ is absent or complete, and `moesim report` then succeeds", async () => {
    const work = workDir();
    const s = join(work, "s.yaml");
    writeFileSync(s, scenarioText("killed"));
    const dir = join(work, "killed");
    expect((await runCli(["run", s, "--out", dir, "--no-report"])).code).toBe(0);
    const child = spawn(process.execPath, [BIN, "report", dir], { stdio: "ignore" });
    const exited = new Promise<void>((res) => child.on("exit", () => res()));
    // Kill it as soon as anything of the report appears on disk (a temporary sibling or report/).
    let seen = false;
    for (let i = 0; i < 6000 && !seen && child.exitCode === null; i++) {
      seen = readdirSync(dir).some((e) => e === "report" || e.startsWith(".report"));
      if (!seen) await new Promise((res) => setTimeout(res, 5));
    }
    child.kill("SIGKILL");
    await exited;
    const rep = join(dir, "report");
    if (existsSync(rep)) {
      const manifest = JSON.parse(readFileSync(join(rep, "report.json"), "utf8")) as { files: string[] };
      for (const f of manifest.files) expect(existsSync(join(rep, f)), f).toBe(true);
    }
    const r = await runCli(["report", dir, "--no-png"]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(readdirSync(dir).filter((e) => e.startsWith(".report"))).toEqual([]);
  });
});
