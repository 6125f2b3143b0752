import { join, resolve } from "node:path";
import type { Command } from "commander";
import { optionalIntFlag } from "../flags.js";

interface SweepOpts {
  workers?: string;
  shard?: string;
  out?: string;
  dryRun?: boolean;
  report: boolean;
  quiet?: boolean;
  json?: boolean;
}

/** moesim sweep FILE: runs (or with --dry-run lists) the points, merges and reports unless sharded. */
async function sweepCommand(file: string, opts: SweepOpts): Promise<void> {
  const {
    loadSweepFile,
    parseShard,
    runSweep,
    mergeSweeps,
    writeMerged,
    progressFor,
    readPoint,
    simulatorBuild,
    pointsDir,
    shardPoints,
    pointText,
    pointRows,
    paramText,
  } = await import("../../sweep/index.js");
  const { table } = await import("../format.js");
  const workers = optionalIntFlag("--workers", opts.workers, { min: 1, max: 1024 });
  const spec = loadSweepFile(file);
  const shard = opts.shard ? parseShard(opts.shard) : null;
  const out = resolve(opts.out ?? spec.out);
  if (opts.dryRun) {
    const pts = shardPoints(spec.points, shard).map((p) => {
      pointText(spec, p); // validates
      return {
        index: p.index,
        key: p.key,
        params: p.params,
        done: readPoint(join(pointsDir(out), `${p.key}.json`), spec.baseHash, simulatorBuild()) !== null,
      };
    });
    if (opts.json)
      process.stdout.write(
        JSON.stringify({ name: spec.name, out, total: spec.points.length, shard, points: pts }) + "\n",
      );
    else {
      const rows = [
        ["#", ...spec.paramKeys, "key", "done"],
        ...pts.map((p) => [
          String(p.index),
          ...spec.paramKeys.map((k) => paramText(p.params[k])),
          p.key,
          p.done ? "yes" : "no",
        ]),
      ];
      process.stdout.write(`${spec.name}: ${pts.length} of ${spec.points.length} points -> ${out}\n${table(rows)}\n`);
    }
    return;
  }
  const run = await runSweep(spec, {
    workers,
    shard,
    out,
    progress: progressFor({ quiet: opts.quiet }),
  });
  let merged: string | null = null;
  let report: string | null = null;
  let rows: ReturnType<typeof pointRows> = [];
  if (!shard) {
    const m = mergeSweeps([out]);
    merged = join(writeMerged(out, m.files), "sweep.json");
    rows = pointRows(m.sweep);
    if (opts.report) {
      const { renderReport } = await import("../../report/index.js");
      report = await renderReport(out);
    }
  }
  if (opts.json) {
    process.stdout.write(
      JSON.stringify({
        name: spec.name,
        out,
        total: run.total,
        shard,
        selected: run.selected,
        ran: run.ran,
        skipped: run.skipped,
        workers: run.workers,
        seconds: Math.round(run.seconds * 1000) / 1000,
        merged,
        report,
        points: rows,
      }) + "\n",
    );
    return;
  }
  const lines = [
    `sweep ${spec.name}: ${run.ran} points run, ${run.skipped} already ` +
      `done${shard ? ` (shard ${shard.index}/${shard.count}: ${run.selected} of ${run.total} points)` : ""} ` +
      `on ${run.workers} workers in ${run.seconds.toFixed(1)} s`,
  ];
  if (rows.length) {
    lines.push(
      table([
        [...spec.paramKeys, "tokens/s", "p50 step ms"],
        ...rows.map((r) => [
          ...spec.paramKeys.map((k) => paramText(r.params[k])),
          r.oom ? "OOM" : r.tokens_per_s.toFixed(1),
          r.step_ms_p50.toFixed(3),
        ]),
      ]),
    );
  }
  lines.push(`points:  ${pointsDir(out)}`);
  if (merged) lines.push(`merged:  ${merged}`);
  else lines.push(`merge the shards with: moesim merge ${out} <other shard folders> --out <dir>`);
  if (report) lines.push(`report:  ${report}`);
  process.stdout.write(lines.join("\n") + "\n");
}

export function register(program: Command): void {
  program
    .command("sweep")
    .description("run a grid (or list) of scenario variants on all cores; resumable and shardable")
    .argument("<sweep>", "sweep YAML: base scenario plus grid/points of key-path overrides")
    .option("-w, --workers <n>", "worker threads (default: all cores)")
    .option(
      "--shard <i/n>",
      "run only shard i of n (0 <= i < n), e.g. from SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX",
    )
    .option("-o, --out <dir>", "sweep folder (default: the sweep's out, or results/sweeps/NAME)")
    .option("--dry-run", "list the points (and which are done) without running anything")
    .option("--no-report", "do not render the report after merging")
    .option("-q, --quiet", "no progress output (progress goes to stderr: a bar on a terminal, lines otherwise)")
    .option("--json", "print one JSON document on stdout")
    .addHelpText(
      "after",
      "\nExamples:\n  moesim sweep scenarios/examples/gating-x-batch.sweep.yaml\n" +
        "  moesim sweep scenarios/examples/gating-x-batch.sweep.yaml --workers 2 --shard 0/2 --out sweep-0\n" +
        "  moesim sweep scenarios/examples/gating-x-batch.sweep.yaml --workers 2 --shard 1/2 --out sweep-1\n" +
        "  moesim merge sweep-0 sweep-1 --out results/sweeps/merged\n\n" +
        "Each point is written as OUT/points/<hash>.json when it finishes, so an interrupted sweep resumes\n" +
        "where it stopped and a re-run skips finished points. Without --shard, the finished sweep is merged\n" +
        "into OUT/sweep.json + sweep.csv and its report is written to OUT/report/.",
    )
    .action(sweepCommand);
}
