// examples/slurm/sweep.sbatch as a real Slurm job array: a private single-node cluster (munged,
// slurmctld, slurmd; test/sweep/slurm-cluster.ts) runs the example as two shard tasks plus the
// dependent merge job its comments describe, and the merged results must be the bytes of one
// local `moesim sweep`. Skips with a visible reason where Slurm and MUNGE are not installed or not
// startable (scripts/install-slurm.sh installs them); under CI that is a failure, never a skip.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../cli-runner.js";
import { mergedFiles, repoRoot, SMALL_SWEEP, tempDir } from "./helpers.js";
import { slurmUnavailable, startSlurm, type SlurmCluster } from "./slurm-cluster.js";

const SBATCH_SCRIPT = "examples/slurm/sweep.sbatch";

async function setUp(): Promise<SlurmCluster | null> {
  let why = slurmUnavailable();
  if (why === null) {
    try {
      return await startSlurm();
    } catch (e) {
      why = `could not start a private Slurm cluster: ${(e as Error).message}`;
    }
  }
  if (process.env.CI) throw new Error(`CI: ${why}; scripts/install-slurm.sh should have installed slurm-wlm and munge`);
  console.warn(`skipping the Slurm job-array test: ${why}`);
  return null;
}

const cluster = await setUp();
afterAll(async () => cluster?.stop());

/** What a run could leave in the checkout: git's view of it, its top-level names, a default results folder. */
function repoState(): { git: string; top: string[]; results: boolean } {
  const git = existsSync(join(repoRoot, ".git"))
    ? execFileSync("git", ["status", "--porcelain=v1", "--untracked-files=all"], { cwd: repoRoot, encoding: "utf8" })
    : "";
  return { git, top: readdirSync(repoRoot).sort(), results: existsSync(join(repoRoot, "results/sweeps/small")) };
}

/** Every point file of the given sweep folders: name -> text. */
function points(dirs: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const d of dirs)
    for (const f of readdirSync(join(d, "points"))
      .filter((n) => n.endsWith(".json"))
      .sort())
      m.set(f, readFileSync(join(d, "points", f), "utf8"));
  return new Map([...m].sort(([a], [b]) => a.localeCompare(b)));
}

/** Waits until the private cluster has no job left pending or running. */
async function drained(c: SlurmCluster, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (c.run("squeue", ["-h", "-o", "%i"]).trim() !== "") {
    if (Date.now() > end) throw new Error(`jobs still queued after ${ms / 1000} s:\n${c.run("squeue", [])}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** JobState and ExitCode of every task of the given jobs, from slurmctld (no accounting database here). */
function finalStates(c: SlurmCluster, ids: string[]): string[] {
  return ids.flatMap((id) =>
    c
      .run("scontrol", ["-o", "show", "job", id])
      .trim()
      .split("\n")
      .map((l) => `${/ JobName=(\S+)/.exec(l)?.[1]} ${/JobState=(\S+)/.exec(l)?.[1]} ${/ExitCode=(\S+)/.exec(l)?.[1]}`),
  );
}

function jobLogs(c: SlurmCluster, dir: string): string {
  const files = existsSync(dir) ? readdirSync(dir).sort() : [];
  return files.map((f) => `--- ${f}\n${readFileSync(join(dir, f), "utf8")}`).join("\n") + "\n" + c.logs();
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe.skipIf(cluster === null)(`${SBATCH_SCRIPT} under a private single-node Slurm`, () => {
  it("a 2-task array job and its afterok merge job give the bytes of one local sweep", async () => {
    const c = cluster!;
    const before = repoState();
    const tmp = tempDir("moesim-slurm-sweep-");
    dirs.push(tmp);
    const out = join(tmp, "slurm");
    const logs = join(tmp, "logs");
    mkdirSync(logs);
    // As documented (docs/sweeps.md), submitted from the checkout; the command line overrides the
    // script's 32 CPUs and 2 h, which a 2-core test machine could never grant.
    const jobId = (s: string) => s.trim().split(";")[0];
    const shardArgs = ["--parsable", "--array=0-1", "--cpus-per-task=1", "--time=00:05:00"];
    shardArgs.push(`--output=${join(logs, "shard-%a.log")}`, SBATCH_SCRIPT, SMALL_SWEEP, out);
    const array = jobId(c.run("sbatch", shardArgs, repoRoot));
    const mergeCmd = `npx moesim merge '${out}'/shard-* --out '${out}/merged' --no-report`;
    const mergeArgs = ["--parsable", `--dependency=afterok:${array}`, "--kill-on-invalid-dep=yes", "--time=00:05:00"];
    mergeArgs.push("--job-name=moesim-merge", `--output=${join(logs, "merge.log")}`, "--wrap", mergeCmd);
    const merge = jobId(c.run("sbatch", mergeArgs, repoRoot));

    // Meanwhile the reference: one local sweep of the same file.
    const local = join(tmp, "local");
    const ref = await runCli(["sweep", SMALL_SWEEP, "--workers", "1", "--quiet", "--no-report", "--out", local]);
    expect(ref.code, ref.err).toBe(0);

    await drained(c, 120_000);
    const states = finalStates(c, [array, merge]);
    const done = ["moesim-sweep COMPLETED 0:0", "moesim-sweep COMPLETED 0:0", "moesim-merge COMPLETED 0:0"];
    expect(states, jobLogs(c, logs)).toEqual(done);

    expect(readdirSync(out).sort()).toEqual(["merged", "shard-0", "shard-1"]);
    expect(mergedFiles(join(out, "merged"))).toEqual(mergedFiles(local));
    // Each shard wrote its half of the points, and together they are the local sweep's, byte for byte.
    const shards = [0, 1].map((i) => points([join(out, `shard-${i}`)]));
    expect(shards.map((s) => s.size)).toEqual([3, 3]);
    expect(points([join(out, "shard-0"), join(out, "shard-1")])).toEqual(points([local]));

    // The resubmission the script documents for a preempted task: shard 1 alone, with its shard
    // count named, redoes only its missing point, in its own folder.
    const shard1 = join(out, "shard-1", "points");
    const lost = readdirSync(shard1).filter((f) => f.endsWith(".json"))[0];
    rmSync(join(shard1, lost));
    const resume = ["--parsable", "--array=1", "--cpus-per-task=1", "--time=00:05:00"];
    resume.push(`--output=${join(logs, "resume-%a.log")}`, SBATCH_SCRIPT, SMALL_SWEEP, out);
    const again = jobId(c.run("sbatch", resume, repoRoot, { MOESIM_SHARDS: "2" }));
    // Without the count, a one-task array cannot know its shard count and says so instead of
    // running the whole sweep as shard 0 of 1.
    const bare = ["--parsable", "--array=1", "--cpus-per-task=1", "--time=00:05:00"];
    bare.push(`--output=${join(logs, "bare-%a.log")}`, SBATCH_SCRIPT, SMALL_SWEEP, out);
    const refused = jobId(c.run("sbatch", bare, repoRoot));
    await drained(c, 120_000);
    expect(finalStates(c, [again, refused]), jobLogs(c, logs)).toEqual([
      "moesim-sweep COMPLETED 0:0",
      "moesim-sweep FAILED 2:0",
    ]);
    expect(readFileSync(join(logs, "resume-1.log"), "utf8")).toContain("1 points run, 2 already done");
    expect(readFileSync(join(logs, "bare-1.log"), "utf8")).toContain("MOESIM_SHARDS=N");
    expect(points([join(out, "shard-0"), join(out, "shard-1")])).toEqual(points([local]));
    expect(readdirSync(out).sort()).toEqual(["merged", "shard-0", "shard-1"]);

    expect(repoState()).toEqual(before);
  }, 180_000);
});
