import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
  loadSweepFile,
  mergeSweeps,
  runSweep,
  simulatorBuild,
  writeMerged,
  type SweepSpec,
} from "../../src/sweep/index.js";
import { mergedFiles, repoRoot, SMALL_SWEEP, tempDir } from "./helpers.js";
import { UserError } from "../../src/util/errors.js";

/** Runs a sweep (or its shards) into fresh folders and merges them into a new one. */
async function sweepAndMerge(
  spec: SweepSpec,
  runs: { workers: number; shard?: { index: number; count: number } }[],
): Promise<string> {
  const dirs: string[] = [];
  for (const r of runs) {
    const out = tempDir();
    await runSweep(spec, { workers: r.workers, shard: r.shard ?? null, out });
    dirs.push(out);
  }
  const m = mergeSweeps(dirs);
  expect(m.missing).toBe(0);
  return writeMerged(tempDir("moesim-merged-"), m.files);
}

/** Lines that differ between two texts (empty when equal), for readable failures. */
function diffLines(a: string, b: string): string[] {
  const x = a.split("\n");
  const y = b.split("\n");
  const out: string[] = [];
  for (let i = 0; i < Math.max(x.length, y.length); i++)
    if (x[i] !== y[i]) out.push(`${i + 1}: ${x[i]} | expected ${y[i]}`);
  return out;
}

const pointFiles = (dir: string): string[] =>
  existsSync(join(dir, "points")) ? readdirSync(join(dir, "points")).filter((f) => /^[0-9a-f]{16}\.json$/.test(f)) : [];

describe("sweep runs", () => {
  let spec: SweepSpec;
  let reference: { json: string; csv: string };
  let referenceDir: string;

  beforeAll(async () => {
    spec = loadSweepFile(SMALL_SWEEP);
    referenceDir = await sweepAndMerge(spec, [{ workers: 1 }]);
    reference = mergedFiles(referenceDir);
  });

  it("merges every point with its parameters and a real simulation summary", () => {
    const s = JSON.parse(reference.json);
    expect(s.points).toHaveLength(6);
    expect(s.points.map((p: { index: number }) => p.index)).toEqual([0, 1, 2, 3, 4, 5]);
    for (const p of s.points) {
      expect(p.summary.format).toBe("moesim-results/v1");
      expect(p.summary.policies.gating).toBe(p.params["policies.gating.policy"]);
      expect(p.summary.results_dir).toBeUndefined();
      expect(p.summary.steps).toBe(3);
    }
    // A bigger batch puts more tokens through each step.
    const dyn = s.points.filter(
      (p: { params: Record<string, unknown> }) => p.params["policies.gating.policy"] === "dynamic",
    );
    expect(dyn.map((p: { summary: { tokens: number } }) => p.summary.tokens)).toEqual([12, 24, 48]);
    expect(reference.csv.split("\n")[0]).toMatch(
      /^policies\.gating\.policy,workload\.batching\.batch_size,tokens_per_s,/,
    );
  });

  it("1 worker, 2 workers and 2 shards give byte-identical merged results", async () => {
    const two = mergedFiles(await sweepAndMerge(spec, [{ workers: 2 }]));
    const shards = mergedFiles(
      await sweepAndMerge(spec, [
        { workers: 1, shard: { index: 1, count: 2 } },
        { workers: 1, shard: { index: 0, count: 2 } },
      ]),
    );
    expect(two.json).toBe(reference.json);
    expect(two.csv).toBe(reference.csv);
    expect(shards.json).toBe(reference.json);
    expect(shards.csv).toBe(reference.csv);
  });

  it("a sweep killed mid-way resumes, skips finished points and merges to the same bytes", async () => {
    const out = tempDir();
    // Kill a real `moesim sweep` process once it has finished some points.
    const child = spawn(
      process.execPath,
      [join(repoRoot, "bin/moesim.js"), "sweep", SMALL_SWEEP, "--workers", "1", "--quiet", "--no-report", "--out", out],
      { stdio: "ignore" },
    );
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    await new Promise<void>((resolveWait, reject) => {
      const timer = setInterval(() => {
        if (pointFiles(out).length >= 2) {
          clearInterval(timer);
          child.kill("SIGKILL");
          resolveWait();
        }
      }, 20);
      void exited.then(() => {
        clearInterval(timer);
        reject(new Error("the sweep finished before it could be killed"));
      });
    });
    await exited;
    const before = pointFiles(out).length;
    expect(before).toBeGreaterThanOrEqual(2);
    expect(before).toBeLessThan(6);
    // A leftover temporary file of an interrupted write must not count as a point.
    writeFileSync(join(out, "points", `.deadbeefdeadbeef.json.999.0.tmp`), "{half");
    const resumed = await runSweep(spec, { workers: 2, out });
    expect(resumed.skipped).toBe(before);
    expect(resumed.ran).toBe(6 - before);
    const again = await runSweep(spec, { workers: 2, out });
    expect(again.ran).toBe(0);
    const m = mergeSweeps([out]);
    expect(m.files.get("sweep.json")).toBe(reference.json);
    expect(m.files.get("sweep.csv")).toBe(reference.csv);
  });

  it("the bundled worker entry and the tsx fallback give the same bytes", async () => {
    const out = tempDir();
    const bundled = await runSweep(spec, { workers: 1, out, shard: { index: 0, count: 3 } });
    expect(bundled.entry).toBe("bundle");
    const out2 = tempDir();
    process.env.MOESIM_SWEEP_BUNDLE = "0";
    try {
      const viaTsx = await runSweep(spec, { workers: 1, out: out2, shard: { index: 0, count: 3 } });
      expect(viaTsx.entry).toBe("tsx");
    } finally {
      delete process.env.MOESIM_SWEEP_BUNDLE;
    }
    expect(mergeSweeps([out2]).files.get("sweep.json")).toBe(mergeSweeps([out]).files.get("sweep.json"));
    // And both agree with the reference's points.
    const ref = JSON.parse(reference.json).points.filter((p: { index: number }) => p.index % 3 === 0);
    expect(JSON.parse(mergeSweeps([out]).files.get("sweep.json")!).points).toEqual(ref);
  });

  it("stops after some points (as if interrupted) and the in-process resume matches too", async () => {
    const out = tempDir();
    const first = await runSweep(spec, { workers: 2, out, stopAfter: 3 });
    expect(first.ran).toBe(3);
    expect(pointFiles(out)).toHaveLength(3);
    const rest = await runSweep(spec, { workers: 1, out });
    expect(rest.skipped).toBe(3);
    expect(diffLines(mergeSweeps([out]).files.get("sweep.json")!, reference.json)).toEqual([]);
  });

  it("re-runs a point whose file came from another base scenario, and merge reports missing shards", async () => {
    const out = tempDir();
    await runSweep(spec, { workers: 1, out, shard: { index: 0, count: 3 } });
    const m = mergeSweeps([out]);
    expect(m.sweep.points).toHaveLength(2);
    expect(m.missing).toBe(4);
    const f = join(out, "points", pointFiles(out)[0]);
    const p = JSON.parse(readFileSync(f, "utf8"));
    writeFileSync(f, JSON.stringify({ ...p, base_hash: "0000000000000000" }));
    const r = await runSweep(spec, { workers: 1, out, shard: { index: 0, count: 3 } });
    expect(r.ran).toBe(1);
    expect(r.skipped).toBe(1);
  });

  it("re-runs a point made by another simulator build (a changed model), and keeps the build out of sweep.json", async () => {
    const out = tempDir();
    await runSweep(spec, { workers: 1, out, shard: { index: 0, count: 3 } });
    const files = pointFiles(out);
    const f = join(out, "points", files[1]);
    const p = JSON.parse(readFileSync(f, "utf8"));
    expect(p.build).toBe(simulatorBuild());
    expect(p.build).toMatch(/^[0-9a-f]{16}$/);
    writeFileSync(f, JSON.stringify({ ...p, build: "0000000000000000" }));
    const r = await runSweep(spec, { workers: 1, out, shard: { index: 0, count: 3 } });
    expect(r.ran).toBe(1);
    expect(r.skipped).toBe(1);
    expect(JSON.parse(readFileSync(f, "utf8")).build).toBe(simulatorBuild());
    expect(mergeSweeps([out]).files.get("sweep.json")).not.toContain('"build"');
  });

  it("an error found while a worker resolves a point names the sweep file and the point, once, and stops the sweep", async () => {
    const dir = tempDir();
    const file = join(dir, "bad.sweep.yaml");
    const trace = join(repoRoot, "scenarios/traces/quickstart.mtrace");
    writeFileSync(
      file,
      `name: bad\nbase:\n  cluster: { preset: dgx-h100 }\n  model: { preset: olmoe-1b-7b }\n  trace: { file: ${JSON.stringify(trace)} }\n` +
        `  workload: { phase: decode, batching: { kind: static, batch_size: 8 }, max_steps: 1 }\ngrid:\n  model.preset: [olmoe-1b-7b, no-such-model]\n`,
    );
    const bad = loadSweepFile(file);
    const err = await runSweep(bad, { workers: 1, out: join(dir, "out") }).then(
      () => null,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(UserError);
    expect(err!.message).toMatch(
      /point 1 \(model\.preset=no-such-model\): model\.preset: unknown model preset 'no-such-model'; expected paper-lm-52b, /,
    );
    expect(err!.message.split(file).length - 1).toBeLessThanOrEqual(1);
    // Placed at the grid value that set it (line 8, the second value of the list).
    const col = "  model.preset: [olmoe-1b-7b, ".length + 1;
    expect(err!.message.startsWith(`${file}:8:${col}: point 1 (model.preset=no-such-model): model.preset: `)).toBe(
      true,
    );
  });

  it("a missing trace file named by a grid value or a points entry is one line at that value, with the point and key path", async () => {
    const dir = tempDir();
    const trace = JSON.stringify(join(repoRoot, "scenarios/traces/quickstart.mtrace"));
    const base =
      `name: nofile\nbase:\n  cluster: { preset: dgx-h100 }\n  model: { preset: olmoe-1b-7b }\n  trace: { file: ${trace} }\n` +
      `  workload: { phase: decode, batching: { kind: static, batch_size: 8 }, max_steps: 1 }\n`;
    const failure = async (text: string): Promise<UserError> => {
      const file = join(dir, "s.sweep.yaml");
      writeFileSync(file, text);
      const e = await runSweep(loadSweepFile(file), { workers: 1, out: join(dir, `out-${text.length}`) }).then(
        () => null,
        (x: Error) => x,
      );
      expect(e).toBeInstanceOf(UserError);
      expect(e!.message.split("\n")).toHaveLength(1);
      return e as UserError;
    };
    const missing = join(dir, "missing.mtrace");
    // Line 8: the grid axis; its second value is the missing file.
    const g = await failure(
      `${base}grid:\n  seed: [1]\n  trace.file:\n    - ${trace}\n    - ${JSON.stringify(missing)}\n`,
    );
    expect(g.where).toBe(`${join(dir, "s.sweep.yaml")}:11:7`);
    expect(g.message).toContain(`:11:7: point 1 (seed=1, trace.file=${missing}): trace.file: no such file ${missing}`);
    // A points entry setting the whole trace mapping: placed at that entry's value.
    const p = await failure(`${base}points:\n  - { seed: 1 }\n  - { trace: { file: missing.mtrace } }\n`);
    expect(p.where).toBe(`${join(dir, "s.sweep.yaml")}:9:14`);
    expect(p.message).toMatch(/:9:14: point 1 \(trace=\{"file":"missing\.mtrace"\}\): trace\.file: no such file /);
  });

  it("a point with a calibrated profile runs in the bundled workers (the profile schema is loaded on demand there)", async () => {
    const dir = tempDir();
    const file = join(dir, "prof.sweep.yaml");
    const trace = join(repoRoot, "scenarios/traces/quickstart.mtrace");
    const profile = join(repoRoot, "profiles/lavapipe.json");
    writeFileSync(
      file,
      `name: prof\nbase:\n  cluster: { preset: dgx-h100, profile: ${JSON.stringify(profile)} }\n  model: { preset: olmoe-1b-7b }\n  trace: { file: ${JSON.stringify(trace)} }\n` +
        `  workload: { phase: decode, batching: { kind: static, batch_size: 8 }, max_steps: 1 }\ngrid:\n  seed: [1]\n`,
    );
    const out = join(dir, "out");
    const r = await runSweep(loadSweepFile(file), { workers: 1, out });
    expect(r.entry).toBe("bundle");
    expect(r.ran).toBe(1);
    const point = JSON.parse(readFileSync(join(out, "points", pointFiles(out)[0]), "utf8")) as {
      summary: { cluster: { cost_model: string } };
    };
    expect(point.summary.cluster.cost_model).toMatch(/calibrated/i);
  });

  it("refuses to merge folders of different sweeps", async () => {
    const other = tempDir();
    writeFileSync(
      join(other, "s.yaml"),
      readFileSync(SMALL_SWEEP, "utf8")
        .replace("name: small", "name: other")
        .replace("base: base.yaml", `base: ${join(repoRoot, "test/fixtures/sweep/base.yaml")}`),
    );
    const o = loadSweepFile(join(other, "s.yaml"));
    const out = tempDir();
    await runSweep(o, { workers: 1, out, shard: { index: 0, count: 6 } });
    const mine = tempDir();
    await runSweep(spec, { workers: 1, out: mine, shard: { index: 1, count: 6 } });
    expect(() => mergeSweeps([mine, out])).toThrow(/holds sweep 'other'.*not 'small'/);
    expect(() => mergeSweeps([referenceDir])).toThrow(/not a sweep folder/);
  });
});
