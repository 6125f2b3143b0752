import type { Command } from "commander";
import { resolve } from "node:path";
import { UserError } from "../../util/errors.js";
import { writeJsonAtomic } from "../../util/fs.js";
import { formatValidationTable } from "../../hardware/validate.js";

/** `moesim calibrate import FILES... --out PROFILE`: measurements from the user's own cluster into a profile. */
export function registerImport(calibrate: Command): void {
  calibrate
    .command("import")
    .description(
      "read nccl-tests logs (all_to_all_perf, all_reduce_perf, all_gather_perf), DeepEP test output and a CSV of\n" +
        "kernel times (op,shape,dtype,ns) into a profile: kernel curves for the cost model, and " +
        "the all-to-all curve\n" +
        "fitted to the preset node's collective overhead and NVLink efficiency (cluster.overrides)",
    )
    .argument("<files...>", "measurement files (the format is recognised from the content)")
    .option("--out <path>", "write the profile here (JSON, moesim-profile/v1 with a 'measured' section)")
    .option("--preset <node>", "the node preset the all-to-all is fitted to", "dgx-h100")
    .option("--json", "print the fit as one JSON document")
    .addHelpText(
      "after",
      "\nExample:\n  moesim calibrate import all_to_all_perf.log kernels.csv --preset " +
        "hgx-h200 --out profiles/my-cluster.json\n" +
        "  then: cluster.profile: profiles/my-cluster.json and cluster.overrides as printed; " +
        "moesim validate imported --profile ...",
    )
    .action(async (files: string[], opts: { out?: string; preset: string; json?: boolean }) => {
      // (the root command reads options before handing over, so `calibrate` may have taken --out)
      const out = opts.out ?? calibrate.opts<{ out?: string }>().out;
      if (out === undefined)
        throw new UserError("calibrate import: --out <path> is required", "moesim calibrate import");
      const { importMeasurements, importedValidation } = await import("../../calibrate/import.js");
      const p = importMeasurements(
        files.map((f) => resolve(f)),
        opts.preset,
      );
      writeJsonAtomic(resolve(out), p);
      if (opts.json) {
        process.stdout.write(JSON.stringify({ profile: out, ...p.measured }) + "\n");
        return;
      }
      const lines: string[] = [];
      for (const [op, c] of Object.entries(p.ops)) lines.push(`kernels: ${op}, ${c.points.length} shapes`);
      for (const c of p.measured.collectives)
        lines.push(`nccl-tests: ${c.collective} over ${c.ranks} ranks, ${c.points.length} sizes (${c.source})`);
      for (const d of p.measured.deepep)
        lines.push(`DeepEP: ${d.kind} ${d.dtype} ${d.nvlGBs} GB/s (NVL), ${d.us} us (${d.source})`);
      const fit = p.measured.network_fit;
      if (fit) {
        lines.push(`all-to-all fitted to ${fit.preset}: cluster.overrides ${JSON.stringify(fit.overrides)}`);
        lines.push(formatValidationTable(importedValidation(p)));
      }
      lines.push(`wrote ${out}`);
      process.stdout.write(lines.join("\n") + "\n");
    });
}
