import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "../cli-runner.js";
import { repoRoot, tempDir } from "./helpers.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A two-point sweep on the test base whose swept value is a mapping (as in scenarios/paper/placement.yaml). */
function mappingSweep(): { file: string; out: string } {
  const dir = tempDir();
  dirs.push(dir);
  const file = join(dir, "m.sweep.yaml");
  const base = join(repoRoot, "test/fixtures/sweep/base.yaml");
  writeFileSync(
    file,
    `name: m\nbase: ${base}\npoints:\n  - { policies.gating: { policy: static } }\n  - { policies.gating: { policy: dynamic } }\n`,
  );
  return { file, out: join(dir, "out") };
}

describe("sweep and merge on the command line", () => {
  it("prints a mapping-valued parameter as JSON in the points table, never [object Object]", async () => {
    const { file, out } = mappingSweep();
    const r = await runCli(["sweep", file, "--workers", "1", "--quiet", "--no-report", "--out", out]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).not.toContain("[object Object]");
    expect(r.out).toContain('{"policy":"static"}');
    expect(r.out).toContain('{"policy":"dynamic"}');
  });

  it("sweep --json and merge --json list the same points, of the same type", async () => {
    const { file, out } = mappingSweep();
    const sweep = await runCli(["sweep", file, "--workers", "1", "--quiet", "--no-report", "--out", out, "--json"]);
    expect(sweep.code).toBe(0);
    const merge = await runCli(["merge", out, "--no-report", "--json"]);
    expect(merge.code).toBe(0);
    const s = JSON.parse(sweep.out) as {
      total: number;
      points: { index: number; params: unknown; tokens_per_s: number }[];
    };
    const m = JSON.parse(merge.out) as { total: number; missing: number; points: unknown };
    expect(s.points.map((p) => p.index)).toEqual([0, 1]);
    expect(s.points[0].params).toEqual({ "policies.gating": { policy: "static" } });
    expect(s.points.every((p) => p.tokens_per_s > 0)).toBe(true);
    expect(m.points).toEqual(s.points);
    expect([m.total, m.missing]).toEqual([s.total, 0]);
  });
});
