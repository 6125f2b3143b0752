import type { Command } from "commander";
import { UserError, listValues } from "../../util/errors.js";
import { formatValidationTable, networkValidation, type ValidationRow } from "../../hardware/validate.js";

/** What `moesim validate` can check, each against measured reference figures. */
const TARGETS: Record<string, { summary: string; rows: () => ValidationRow[] }> = {
  network: {
    summary:
      "all-to-all on the 8x H100 preset vs nccl-tests, the paper's V100 node vs its NVLink figure, host->device copies vs PCIe figures",
    rows: networkValidation,
  },
  imported: {
    summary:
      "the all-to-all curve a profile imported (moesim calibrate import) vs the network model with its fitted overrides (--profile FILE)",
    rows: () => [],
  },
};

export function register(program: Command): void {
  program
    .command("validate")
    .description("compare the models against measured reference figures (size, measured, simulated, relative error)")
    .argument("<target>", `what to validate: ${listValues(Object.keys(TARGETS))}`)
    .option("--profile <path>", "for 'imported': the profile written by moesim calibrate import")
    .option(
      "--json",
      'print one JSON array of {"case","size_bytes","measured_us","simulated_us","error"} (error = (simulated - measured) / measured)',
    )
    .addHelpText(
      "after",
      "\nTargets:\n" +
        Object.entries(TARGETS)
          .map(([k, v]) => `  ${k}: ${v.summary}`)
          .join("\n") +
        "\n\nExample:\n  moesim validate network\n  moesim validate network --json\n  moesim validate imported --profile my-cluster.json",
    )
    .action(async (target: string, opts: { json?: boolean; profile?: string }) => {
      const t = Object.prototype.hasOwnProperty.call(TARGETS, target) ? TARGETS[target] : undefined;
      if (t === undefined)
        throw new UserError(`unknown validation target '${target}'; expected ${listValues(Object.keys(TARGETS))}`);
      let rows = t.rows();
      if (target === "imported") {
        if (!opts.profile) throw new UserError("validate imported: --profile <path> is required", "moesim validate");
        const { readImported, importedValidation } = await import("../../calibrate/import.js");
        rows = importedValidation(readImported(opts.profile));
      }
      if (opts.json) process.stdout.write(JSON.stringify(rows) + "\n");
      else process.stdout.write(formatValidationTable(rows) + "\n");
    });
}
