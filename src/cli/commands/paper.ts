import { resolve } from "node:path";
import type { Command } from "commander";
import { optionalIntFlag } from "../flags.js";

interface PaperOpts {
  json?: boolean;
  out: string;
  workers?: string;
  doc?: string;
  quiet?: boolean;
}

/** The seed paper's scenarios, shipped with the package. */
export const PAPER_DIR = resolve(import.meta.dirname, "..", "..", "..", "scenarios", "paper");

export function register(program: Command): void {
  program
    .command("paper")
    .description(
      "run the seed paper's scenarios (scenarios/paper/) and print every numeric finding " +
        "beside moesim's: paper | moesim | relative error | status",
    )
    .option("--json", "print one JSON document: {rows, tally}")
    .option("-o, --out <dir>", "folder for the scenarios' points (finished points there are reused)", "results/paper")
    .option("--workers <n>", "worker threads (default: all cores)")
    .option("--doc <file>", "also write the reproduction page (docs/paper-reproduction.md) from the table")
    .option("-q, --quiet", "print no progress on stderr")
    .addHelpText(
      "after",
      "\nExample:\n  moesim paper\n  moesim paper --json --out results/paper-json\n  moesim paper " +
        "--doc docs/paper-reproduction.md",
    )
    .action(async (opts: PaperOpts) => {
      const { runPaper, paperTable, textTable, tally, renderPaperDoc } = await import("../../paper/index.js");
      const { progressFor } = await import("../../sweep/index.js");
      const { writeFileAtomic } = await import("../../util/fs.js");
      const workers = optionalIntFlag("--workers", opts.workers, { min: 1, max: 1024 });
      const results = await runPaper({
        dir: PAPER_DIR,
        out: resolve(opts.out),
        workers,
        progress: (sweep) => {
          if (!opts.quiet) process.stderr.write(`paper: ${sweep}\n`);
          return progressFor({ quiet: opts.quiet });
        },
      });
      const rows = paperTable(results);
      if (opts.doc) writeFileAtomic(opts.doc, renderPaperDoc(rows));
      if (opts.json) process.stdout.write(JSON.stringify({ rows, tally: tally(rows) }) + "\n");
      else process.stdout.write(textTable(rows) + "\n");
    });
}
