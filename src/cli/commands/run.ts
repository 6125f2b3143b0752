import type { Command } from "commander";

export function register(program: Command): void {
  program
    .command("run")
    .description("simulate a scenario YAML: print a summary, write results (and a report)")
    .argument("<scenario>", "scenario YAML file")
    .option("--json", "print the summary as one JSON document on stdout")
    .option("-o, --out <dir>", "results directory (default: outputs.dir or results/<name>)")
    .option("--no-report", "do not render the report")
    .option("--force", "also replace a results directory of an older moesim (only its files, no marker); never a folder holding anything else")
    .addHelpText("after", "\nExample:\n  moesim run scenarios/quickstart.yaml\n  moesim run scenarios/paper/lm-gating.yaml --json --out results/lm")
    .action(async (file: string, opts: { json?: boolean; out?: string; report: boolean; force?: boolean }) => {
      // Heavy modules load only when the command runs, so `moesim --help` stays fast.
      const { loadScenarioFile } = await import("../../scenario/load.js");
      const { runScenario } = await import("../../moe/run.js");
      const { writeResultsDir, checkResultsTarget, RESULTS_FORMAT } = await import("../../moe/results.js");
      const { formatSummary } = await import("../format.js");
      const { writeReportFor } = await import("../report-hook.js");
      const loaded = loadScenarioFile(file);
      const run = await runScenario(loaded, { outDir: opts.out, beforeSimulate: (r) => void checkResultsTarget(r.outputsDir, RESULTS_FORMAT, opts.force) });
      const dir = writeResultsDir(run.resolved.outputsDir, run.files, opts.force);
      let reportPath: string | null = null;
      if (opts.report && run.resolved.scenario.outputs.report) reportPath = await writeReportFor(dir);
      if (opts.json) {
        process.stdout.write(JSON.stringify({ ...run.summary, results_dir: dir, report: reportPath }) + "\n");
      } else {
        process.stdout.write(formatSummary(run.summary) + `\nresults: ${dir}\n` + (reportPath ? `report:  ${reportPath}\n` : ""));
      }
    });
}
