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
};

export function register(program: Command): void {
  program
    .command("validate")
    .description("compare the models against measured reference figures (size, measured, simulated, relative error)")
    .argument("<target>", `what to validate: ${listValues(Object.keys(TARGETS))}`)
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
        "\n\nExample:\n  moesim validate network\n  moesim validate network --json",
    )
    .action((target: string, opts: { json?: boolean }) => {
      const t = Object.prototype.hasOwnProperty.call(TARGETS, target) ? TARGETS[target] : undefined;
      if (t === undefined)
        throw new UserError(`unknown validation target '${target}'; expected ${listValues(Object.keys(TARGETS))}`);
      const rows = t.rows();
      if (opts.json) process.stdout.write(JSON.stringify(rows) + "\n");
      else process.stdout.write(formatValidationTable(rows) + "\n");
    });
}
