import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runCli } from "../cli-runner.js";
import { parseScenario } from "../../src/scenario/load.js";
import { EXAMPLE_SCENARIO } from "../../src/cli/commands/init.js";
import { FIXTURES, tempDir } from "./helpers.js";

/** Runs the CLI in-process; returns exit code, stdout and stderr. */
const cli = (...args: string[]) => runCli(args);

describe("report, sweep, merge and init on the command line", () => {
  beforeEach(() => {
    process.exitCode = undefined;
  });
  afterEach(() => {
    process.exitCode = undefined;
  });

  it("moesim init writes a commented scenario that validates, and never overwrites without --force", async () => {
    const dir = tempDir();
    const path = join(dir, "s.yaml");
    const first = await cli("init", path, "--json");
    expect(first.code).toBe(0);
    expect(JSON.parse(first.out).path).toBe(path);
    const text = readFileSync(path, "utf8");
    expect(text).toBe(EXAMPLE_SCENARIO);
    expect(text.split("\n").filter((l) => l.includes("#")).length).toBeGreaterThan(20);
    expect(parseScenario(text, path).scenario.cluster.preset).toBe("dgx-h100");
    writeFileSync(path, "mine");
    const again = await cli("init", path);
    expect(again.code).toBe(2);
    expect(again.err).toMatch(/already exists; pass --force/);
    expect(readFileSync(path, "utf8")).toBe("mine");
    expect((await cli("init", path, "--force")).code).toBe(0);
    expect(readFileSync(path, "utf8")).toBe(EXAMPLE_SCENARIO);
  });

  it("moesim report --json prints one document and writes the files", async () => {
    const out = tempDir();
    const r = await cli("report", FIXTURES.cache, "--out", out, "--no-png", "--json");
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out);
    expect(doc.charts.map((c: { id: string }) => c.id)).toEqual(["missrate"]);
    expect(existsSync(join(out, "missrate.svg"))).toBe(true);
    expect(existsSync(join(out, "missrate.png"))).toBe(false);
  });

  it("bad flags and values are clear errors with exit code 2", async () => {
    const missing = await cli("report", join(tempDir(), "nope"));
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/does not exist/);
    const workers = await cli("sweep", "x.yaml", "--workers", "0");
    expect(workers.code).toBe(2);
    expect(workers.err).toMatch(/--workers: expected a whole number from 1 to 1024/);
    const shard = await cli(
      "sweep",
      join(FIXTURES.run, "..", "..", "sweep", "small.sweep.yaml"),
      "--shard",
      "3/2",
      "--dry-run",
    );
    expect(shard.code).toBe(2);
    expect(shard.err).toMatch(/0 <= i < n/);
    const unknown = await cli("merge", "--bogus");
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/unknown option '--bogus'/);
  });

  it("moesim sweep --dry-run --json lists the points of a shard", async () => {
    const r = await cli(
      "sweep",
      join(FIXTURES.run, "..", "..", "sweep", "small.sweep.yaml"),
      "--dry-run",
      "--shard",
      "1/2",
      "--out",
      tempDir(),
      "--json",
    );
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out);
    expect(doc.total).toBe(6);
    expect(doc.points.map((p: { index: number }) => p.index)).toEqual([1, 3, 5]);
    expect(doc.points.every((p: { done: boolean }) => !p.done)).toBe(true);
  });
});
