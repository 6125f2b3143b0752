import type { Command } from "commander";

export function register(program: Command): void {
  program
    .command("run")
    .description("simulate a scenario YAML: print a summary, write results (and a report)")
    .argument("<scenario>", "scenario YAML file")
    .option("--json", "print the summary as one JSON document on stdout")
    .option("-o, --out <dir>", "results directory (default: outputs.dir or results/<name>)")
    .option("--no-report", "do not render the report")
    .option("-q, --quiet", "print no progress on stderr (it is silent anyway when stderr is not a terminal, or in CI)")
    .option(
      "--force",
      "also replace a results directory of an older moesim (only its files, no marker); never " +
        "a folder holding anything else",
    )
    .addHelpText(
      "after",
      "\nExample:\n  moesim run scenarios/quickstart.yaml\n  moesim run " +
        "scenarios/quickstart.yaml --json --no-report --out results/quickstart-json",
    )
    .action(
      async (
        file: string,
        opts: { json?: boolean; out?: string; report: boolean; force?: boolean; quiet?: boolean },
      ) => {
        // Heavy modules load only when the command runs, so `moesim --help` stays fast.
        const { loadScenarioFile } = await import("../../scenario/load.js");
        const { runScenario } = await import("../../scenario/run.js");
        const { writeResultsDir, checkResultsTarget, RESULTS_FORMAT } = await import("../../moe/results.js");
        const { formatSummary } = await import("../format.js");
        const { writeReportFor } = await import("../report-hook.js");
        const { progress } = await import("../../util/progress.js");
        const p = progress("moesim run", { quiet: opts.quiet });
        p.stage(`reading ${file}`);
        const loaded = loadScenarioFile(file);
        const { SimulationError } = await import("../../sim/errors.js");
        const { UserError } = await import("../../util/errors.js");
        const run = await runScenario(loaded, {
          outDir: opts.out,
          beforeSimulate: (r) => {
            checkResultsTarget(r.outputsDir, RESULTS_FORMAT, opts.force);
            p.stage(
              `simulating ${r.config.steps?.length ?? "continuous-batching"} steps ` +
                `on ${r.config.gpus} GPUs (${r.trace.tokens} tokens)`,
            );
          },
        }).catch((e: unknown) => {
          // The engine's checks (whole ns times below 2^53, ...) fail on inputs out of range: the scenario's fault.
          if (e instanceof SimulationError) {
            throw new UserError(
              `the simulation cannot run with these inputs: ${e.message} (a time, rate or size out of ` +
                `range: check cluster.profile, workload and trace)`,
              file,
            );
          }
          throw e;
        });
        p.stage(`writing ${run.resolved.outputsDir}`);
        const dir = writeResultsDir(run.resolved.outputsDir, run.files, opts.force);
        let reportPath: string | null = null;
        if (opts.report && run.resolved.scenario.outputs.report) {
          p.stage("drawing the report");
          reportPath = await writeReportFor(dir);
        }
        p.done();
        if (opts.json) {
          process.stdout.write(JSON.stringify({ ...run.summary, results_dir: dir, report: reportPath }) + "\n");
        } else {
          const notes = run.summary.notes.map((n) => `note: ${n}\n`).join("");
          process.stdout.write(
            formatSummary(run.summary) + `\n${notes}results: ${dir}\n` + (reportPath ? `report:  ${reportPath}\n` : ""),
          );
        }
      },
    );
}
