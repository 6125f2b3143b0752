/**
 * Issue 16, data loss in `moesim cache`: its results folder is built in a temporary sibling with
 * moesim's marker and renamed into place, like `moesim run`'s. Before, cache wrote cache.csv,
 * cache.json and the chart spec one at a time into whatever folder --out named: a user's folder
 * got its files overwritten, and a process killed between two files left a half-written folder.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../cli-runner.js";
import { snapshot } from "./snapshot.js";

const ROOT = resolve(import.meta.dirname, "..", "..");
const BIN = join(ROOT, "bin", "moesim.js");
const TRACE = join(ROOT, "scenarios", "traces", "quickstart.mtrace");
const FILES = ["cache.csv", "cache.json", "cache-missrate.vl.json"];

/** A quick cache comparison into `out`, plus any extra flags. */
const cacheArgs = (out: string, ...extra: string[]): string[] => [
  "cache",
  "--trace",
  TRACE,
  "--policies",
  "lru,lifo-paper",
  "--slots",
  "2",
  "--out",
  out,
  "--no-report",
  "--quiet",
  ...extra,
];

const workDir = (): string => mkdtempSync(join(tmpdir(), "moesim-cacheout-"));

describe("moesim cache results folder (issue 16)", () => {
  it("writes its files with moesim's marker (kind cache); a re-run replaces the folder it wrote", async () => {
    const work = workDir();
    const out = join(work, "c");
    const r = await runCli(cacheArgs(out));
    expect(r.code, r.err).toBe(0);
    for (const f of FILES) expect(existsSync(join(out, f)), f).toBe(true);
    const marker = JSON.parse(readFileSync(join(out, ".moesim-results"), "utf8")) as { format: string; kind: string };
    expect(marker).toMatchObject({ format: "moesim-results/v1", kind: "cache" });
    writeFileSync(join(out, "cache.json"), "[]\n"); // stale content the re-run must replace
    expect((await runCli(cacheArgs(out))).code).toBe(0);
    expect((JSON.parse(readFileSync(join(out, "cache.json"), "utf8")) as unknown[]).length).toBe(2);
    expect(readdirSync(work)).toEqual(["c"]); // no temporary sibling left
  });

  it("a user's folder holding their own files: exit 2 with one line, nothing touched, with or without --force", async () => {
    const work = workDir();
    const out = join(work, "mine");
    mkdirSync(out);
    writeFileSync(join(out, "cache.json"), JSON.stringify([{ mine: true }]));
    writeFileSync(join(out, "notes.txt"), "my notes\n");
    const before = snapshot(work);
    for (const extra of [[], ["--force"]]) {
      const r = await runCli(cacheArgs(out, ...extra));
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/^moesim: error: .*mine.*not written by moesim/);
      expect(r.err.trim().split("\n")).toHaveLength(1);
      expect(snapshot(work)).toEqual(before);
    }
  });

  it("an older moesim's cache folder (its files only, no marker) is replaced only with --force", async () => {
    const work = workDir();
    const out = join(work, "old");
    mkdirSync(out);
    for (const f of FILES) writeFileSync(join(out, f), f.endsWith(".csv") ? "policy\n" : "[]\n");
    const before = snapshot(work);
    const r = await runCli(cacheArgs(out));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/older moesim: pass --force/);
    expect(snapshot(work)).toEqual(before);
    const f = await runCli(cacheArgs(out, "--force"));
    expect(f.code, f.err).toBe(0);
    expect(existsSync(join(out, ".moesim-results"))).toBe(true);
  });

  it("a cache that fails (a bad trace) leaves no folder and no temporary sibling", async () => {
    const work = workDir();
    const bad = join(work, "bad.jsonl");
    writeFileSync(bad, JSON.stringify({ seq: 0, token: 0, layer: 0, experts: [1, 2] }) + "\n{not json\n");
    const out = join(work, "c");
    const r = await runCli(["cache", "--trace", bad, "--out", out, "--no-report"]);
    expect(r.code).toBe(2);
    expect(readdirSync(work)).toEqual(["bad.jsonl"]);
  });

  it("kill -9 while the folder is written: the folder is absent or complete, and a re-run succeeds", async () => {
    const work = workDir();
    const out = join(work, "killed");
    const child = spawn(process.execPath, [BIN, ...cacheArgs(out)], { stdio: "ignore" });
    const exited = new Promise<void>((res) => child.on("exit", () => res()));
    // Kill it as soon as anything of the folder appears on disk (a temporary sibling or the folder).
    let seen = false;
    for (let i = 0; i < 6000 && !seen && child.exitCode === null; i++) {
      seen = readdirSync(work).length > 0;
      if (!seen) await new Promise((res) => setTimeout(res, 2));
    }
    child.kill("SIGKILL");
    await exited;
    if (existsSync(out)) {
      for (const f of [...FILES, ".moesim-results"]) expect(existsSync(join(out, f)), f).toBe(true);
      expect((JSON.parse(readFileSync(join(out, "cache.json"), "utf8")) as unknown[]).length).toBe(2);
    }
    const r = await runCli(cacheArgs(out));
    expect(r.code, r.err).toBe(0);
    expect(readdirSync(work)).toEqual(["killed"]); // the killed process's temporary sibling is gone
    rmSync(work, { recursive: true, force: true });
  });
});
