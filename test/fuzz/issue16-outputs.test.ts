/**
 * Issue 16, in-process: every output-path, data-loss and limit case of the issue by name. Each ends
 * in exit 2 with exactly one stderr line naming the file or key (badOutcome), or in the documented
 * success; nothing outside the case's temporary folder changes; memory stays bounded.
 * The kill -9 case spawns a process and lives in test/reliability/data-loss.test.ts.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { badOutcome, runCliCaptured, tempDir, type CliResult } from "./helpers.js";

const ROOT = resolve(import.meta.dirname, "..", "..");
const TRACE = join(ROOT, "scenarios", "traces", "quickstart.mtrace");

const cli = (...args: string[]): Promise<CliResult> => runCliCaptured(args);

function scenario(
  extra = "",
  name = "t",
  cluster = "{ preset: dgx-h100, nodes: 1 }",
  workload = "{ phase: decode, batching: { kind: static, batch_size: 8 } }",
): string {
  return (
    `name: ${name}\nseed: 3\ncluster: ${cluster}\nmodel: { preset: olmoe-1b-7b }\n` +
    `trace: { synthetic: { fitted: olmoe-1b-7b, sequences: 8, tokens_per_sequence: 4 } }\nworkload: ${workload}\n${extra}`
  );
}

/** Names and sizes of everything under a folder, for "nothing changed" checks. */
function listing(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(`${p.slice(dir.length)} ${e.isFile() ? readFileSync(p).length : "special"}`);
    }
  };
  walk(dir);
  return out.sort();
}

const cwd0 = process.cwd();
let work = "";
let rootBefore: string[] = [];
let gitBefore = "";
const gitStatus = (): string =>
  execFileSync("git", ["status", "--porcelain", "--untracked-files=all"], { cwd: ROOT, encoding: "utf8" });

beforeAll(() => {
  work = tempDir("moesim-issue16-");
  rootBefore = readdirSync("/").sort();
  gitBefore = gitStatus();
  // Relative paths of every case land in the temporary folder.
  process.chdir(work);
});

afterAll(() => {
  process.chdir(cwd0);
});

/** One case: exit 2, one clear line naming `names`, and the folder `dir` unchanged. */
async function userError(r: Promise<CliResult>, names: string | RegExp, dir = work): Promise<CliResult> {
  const before = listing(dir);
  const res = await r;
  expect(badOutcome(res), res.err).toBeNull();
  expect(res.err).toMatch(names);
  expect(listing(dir)).toEqual(before);
  return res;
}

function file(name: string, text: string): string {
  const p = join(work, name);
  mkdirSync(join(p, ".."), { recursive: true });
  writeFileSync(p, text);
  return p;
}

describe("issue 16: output paths that are a file, a device or unwritable", () => {
  it("outputs.dir on a device (a FIFO stands in for /dev/null, which a regression must not replace)", async () => {
    const fifo = join(work, "fifo");
    execFileSync("mkfifo", [fifo]);
    const s = file("dev.yaml", scenario(`outputs: { dir: ${JSON.stringify(fifo)} }`, "dev"));
    await userError(cli("run", s, "--no-report"), /fifo.*not a folder/);
  });

  it("outputs.dir: /dev/null/x (below a device)", async () => {
    const s = file("devnull.yaml", scenario(`outputs: { dir: /dev/null/x }`, "devnull"));
    await userError(cli("run", s, "--no-report"), /\/dev\/null.*not a folder/);
  });

  it("--out on a file", async () => {
    const s = file("f.yaml", scenario("", "f"));
    const f = file("taken.txt", "mine\n");
    await userError(cli("run", s, "--no-report", "--out", f), /taken\.txt: it is a file/);
  });

  it("--out in a missing folder outside ./results: names the missing folder, creates nothing", async () => {
    const s = file("m.yaml", scenario("", "m"));
    await userError(
      cli("run", s, "--no-report", "--out", join(work, "typo", "deep", "r")),
      /folder .*typo does not exist/,
    );
    expect(existsSync(join(work, "typo"))).toBe(false);
  });

  it("--out ''", async () => {
    const s = file("e.yaml", scenario("", "e"));
    await userError(cli("run", s, "--no-report", "--out", ""), /path is empty/);
  });

  it("trace convert IN /tmp (a folder)", async () => {
    await userError(cli("trace", "convert", TRACE, work), /it is a folder/);
  });

  it("trace convert IN into a missing folder: no folder is made", async () => {
    await userError(
      cli("trace", "convert", TRACE, join(work, "nope", "sub", "x.mtrace")),
      /folder .*nope does not exist/,
    );
    expect(existsSync(join(work, "nope"))).toBe(false);
  });

  it("trace fit -o DIR", async () => {
    mkdirSync(join(work, "fitdir"));
    await userError(cli("trace", "fit", TRACE, "-o", join(work, "fitdir")), /fitdir: it is a folder/);
  });

  it("trace synth -o DIR", async () => {
    await userError(cli("trace", "synth", "--params", "olmoe-1b-7b", "-o", work), /it is a folder/);
  });

  it("schema --out DIR, and --out below a file", async () => {
    await userError(cli("schema", "--out", work), /schema file .*it is a folder/);
    const f = file("plain.txt", "x");
    await userError(cli("schema", "--out", join(f, "s.json")), /plain\.txt is a file, not a folder/);
  });

  it("merge --out FILE", async () => {
    const f = file("merged.txt", "x");
    await userError(cli("merge", work, "--out", f), /merged\.txt: it is a file/);
  });

  it("init DIR --force", async () => {
    mkdirSync(join(work, "initdir"));
    file("initdir/keep.txt", "keep");
    await userError(cli("init", join(work, "initdir"), "--force"), /initdir: it is a folder/);
  });

  it("a sweep's out: on a file", async () => {
    const f = file("sweep-out.txt", "x");
    const base = file("sw-base.yaml", scenario("", "swb"));
    const sw = file(
      "s.sweep.yaml",
      `name: sw\nbase: ${JSON.stringify(base)}\ngrid:\n  seed: [1, 2]\nout: ${JSON.stringify(f)}\n`,
    );
    await userError(cli("sweep", sw, "--workers", "1", "--quiet"), /sweep-out\.txt: it is a file/);
  });

  it("report --out FILE, and a file where RESULTS_DIR/report would go", async () => {
    const s = file("rep.yaml", scenario("", "rep"));
    expect((await cli("run", s, "--no-report", "--out", "results/rep")).code).toBe(0);
    const f = file("rep-out.txt", "x");
    await userError(cli("report", "results/rep", "--out", f), /rep-out\.txt: it is a file/);
    file("results/rep/report", "not a folder");
    await userError(cli("report", "results/rep"), /report: it is a file/);
  });

  it("documented success: --out inside ./results creates the missing folders there", async () => {
    const s = file("ok.yaml", scenario("", "ok"));
    const r = await cli("run", s, "--no-report", "--json", "--out", "results/a/b/ok");
    expect(r.code, r.err).toBe(0);
    expect(existsSync(join(work, "results", "a", "b", "ok", ".moesim-results"))).toBe(true);
  });
});

describe("issue 16: data loss (see test/reliability/data-loss.test.ts for the kill -9 case)", () => {
  it("name: .. with --force", async () => {
    const s = file("dotdot.yaml", scenario("", ".."));
    await userError(cli("run", s, "--no-report", "--force"), /dotdot\.yaml:\d+:\d+: name: .*'\.\.'/);
  });

  it("name: . with --force", async () => {
    const s = file("dot.yaml", scenario("", "."));
    await userError(cli("run", s, "--no-report", "--force"), /dot\.yaml:\d+:\d+: name:/);
  });

  it("run --out DIR holding the user's summary.json and notes.txt", async () => {
    const s = file("u.yaml", scenario("", "u"));
    file("user/summary.json", "{}");
    file("user/notes.txt", "notes");
    await userError(
      cli("run", s, "--no-report", "--out", join(work, "user")),
      /user exists and was not written by moesim/,
    );
    await userError(
      cli("run", s, "--no-report", "--force", "--out", join(work, "user")),
      /user exists and was not written by moesim/,
    );
  });

  it("--out . (the working directory)", async () => {
    const s = file("w.yaml", scenario("", "w"));
    await userError(cli("run", s, "--no-report", "--force", "--out", "."), /holds the working directory/);
  });
});

describe("issue 16: limits that work", () => {
  it("cluster.nodes: 4096 (and 256) is refused with the limit and its reason", async () => {
    for (const n of [4096, 256]) {
      const s = file(`n${n}.yaml`, scenario("", `n${n}`, `{ preset: dgx-h100, nodes: ${n} }`));
      await userError(cli("run", s, "--no-report"), /cluster\.nodes: too big: expected <=128, got \d+ \(.*GPU-pair/);
    }
  });

  it("cluster.overrides.gpusPerNode x nodes above the GPU limit", async () => {
    const s = file("gpn.yaml", scenario("", "gpn", "{ preset: dgx-h100, nodes: 2, overrides: { gpusPerNode: 4096 } }"));
    await userError(cli("run", s, "--no-report"), /cluster\.overrides\.gpusPerNode: .*at most 1024 GPUs/);
  });

  it("Poisson rate_per_s: 1e-7, 0, -1, 1e300", async () => {
    for (const rate of ["1e-7", "0", "-1", "1e300"]) {
      const w = `{ phase: decode, batching: { kind: continuous, max_batch: 8, arrival: { kind: poisson, rate_per_s: ${rate} } } }`;
      const s = file(`rate${rate}.yaml`, scenario("", "rate", undefined, w));
      await userError(cli("run", s, "--no-report"), /workload\.batching\.arrival\.rate_per_s: too (small|big)/);
    }
  });

  it("a profile knot of 1e300 ns: exit 2, one line naming the profile and the key", async () => {
    const prof = JSON.parse(readFileSync(join(ROOT, "profiles", "lavapipe.json"), "utf8")) as {
      ops: Record<string, { fit: { kind: string; knots?: number[][] } }>;
    };
    for (const op of Object.values(prof.ops))
      if (op.fit.kind === "piecewise-linear") op.fit.knots = op.fit.knots!.map(([x]) => [x, 1e300]);
    const pf = file("huge.json", JSON.stringify(prof));
    const s = file("knot.yaml", scenario("", "knot", `{ preset: dgx-h100, nodes: 1, profile: ${JSON.stringify(pf)} }`));
    await userError(
      cli("run", s, "--no-report"),
      /huge\.json: invalid cost profile at key ops\.\w+\.fit\.knots\[0\]\[1\]: expected at most 1000000000000 ns/,
    );
  });

  it("batch_size: 1000000 is clamped to the sequences there are, and the summary says so", async () => {
    const s = file(
      "clamp.yaml",
      scenario("", "clamp", undefined, "{ phase: decode, batching: { kind: static, batch_size: 1000000 } }"),
    );
    const j = await cli("run", s, "--no-report", "--json", "--out", "results/clamp");
    expect(j.code, j.err).toBe(0);
    const summary = JSON.parse(j.out) as { batch_size: { requested: number; used: number }; notes: string[] };
    expect(summary.batch_size).toEqual({ requested: 1000000, used: 8 });
    expect(summary.notes.join(" ")).toMatch(/batch_size: 1000000 asked, but the trace holds 8 sequences/);
    const t = await cli("run", s, "--no-report", "--out", "results/clamp");
    expect(t.code, t.err).toBe(0);
    expect(t.out).toMatch(/^note: workload\.batching\.batch_size: 1000000 asked/m);
  });
});

describe("issue 16: nothing outside the temporary folder changed, memory bounded", () => {
  it("the repository and / are as before; peak memory under 3 GB", () => {
    expect(gitStatus()).toBe(gitBefore);
    expect(readdirSync("/").sort()).toEqual(rootBefore);
    expect(process.resourceUsage().maxRSS * 1024).toBeLessThan(3 * 2 ** 30);
  });
});
