import { join } from "node:path";
import type { Command } from "commander";

export function register(program: Command): void {
  program
    .command("merge")
    .description(
      "join the points of sweep folders (shards, resumed runs) into one sweep.json + sweep.csv, sorted by key",
    )
    .argument("<dirs...>", "sweep folders (the --out of each moesim sweep shard)")
    .option("-o, --out <dir>", "where to write sweep.json and sweep.csv (default: the first folder)")
    .option("--allow-partial", "merge even when some points of the sweep are missing")
    .option("--no-report", "do not render the report")
    .option("--json", "print one JSON document on stdout")
    .addHelpText(
      "after",
      "\nExample:\n  moesim merge sweep-0 sweep-1 --out results/sweeps/all   # the shards of " +
        "moesim sweep --shard i/2 --out sweep-i",
    )
    .action(async (dirs: string[], opts: { out?: string; allowPartial?: boolean; report: boolean; json?: boolean }) => {
      const { mergeSweeps, writeMerged, pointRows } = await import("../../sweep/index.js");
      const { UserError } = await import("../../util/errors.js");
      const { checkOutputDir } = await import("../../util/output.js");
      if (opts.out !== undefined) checkOutputDir(opts.out, "merged sweep folder");
      const m = mergeSweeps(dirs);
      if (m.missing > 0 && !opts.allowPartial) {
        throw new UserError(
          `merge: ${m.missing} of ${m.missing + m.sweep.points.length} points are missing (a ` +
            `shard not run or not finished?); run the missing shards, or pass --allow-partial`,
        );
      }
      const out = writeMerged(opts.out ?? dirs[0], m.files);
      let report: string | null = null;
      if (opts.report && m.sweep.points.length > 0) {
        const { renderReport } = await import("../../report/index.js");
        report = await renderReport(out);
      }
      if (opts.json) {
        process.stdout.write(
          JSON.stringify({
            name: m.sweep.name,
            total: m.sweep.points.length + m.missing,
            missing: m.missing,
            points: pointRows(m.sweep),
            merged: join(out, "sweep.json"),
            csv: join(out, "sweep.csv"),
            report,
          }) + "\n",
        );
      } else {
        process.stdout.write(
          `merged ${m.sweep.points.length} points of ` +
            `sweep ${m.sweep.name}${m.missing ? ` (${m.missing} missing)` : ""}\nmerged: ` +
            ` ${join(out, "sweep.json")}\ncsv:    ` +
            ` ${join(out, "sweep.csv")}\n${report ? `report:  ${report}\n` : ""}`,
        );
      }
    });
}
