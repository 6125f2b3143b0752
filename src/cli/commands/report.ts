import type { Command } from "commander";

export function register(program: Command): void {
  program
    .command("report")
    .description("render Vega-Lite charts (SVG, PNG, .vl.json) and one offline HTML page from a results directory")
    .argument("<results_dir>", "a results directory of moesim run, moesim cache, or a merged sweep")
    .option("-o, --out <dir>", "output folder (default: RESULTS_DIR/report)")
    .option("--no-png", "skip the PNG files")
    .option("--force", "replace an output folder that moesim did not write")
    .option("--json", "print one JSON document {report, dir, charts} on stdout")
    .addHelpText(
      "after",
      "\nExamples:\n  moesim report results/quickstart\n  moesim report results/quickstart " +
        "--out quickstart-report --no-png",
    )
    .action(async (dir: string, opts: { out?: string; png: boolean; force?: boolean; json?: boolean }) => {
      const { writeReport } = await import("../../report/index.js");
      const r = await writeReport(dir, { out: opts.out, png: opts.png, force: opts.force });
      if (opts.json) {
        process.stdout.write(JSON.stringify({ report: r.html, dir: r.dir, charts: r.charts }) + "\n");
      } else {
        process.stdout.write(
          `report: ${r.html}\ncharts: ${r.charts.map((c) => c.id).join(", ") || "(none for this results set)"}\n`,
        );
      }
    });
}
