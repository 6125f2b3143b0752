import type { Command } from "commander";
import { UserError, listValues } from "../../util/errors.js";
import { formatValidationTable, networkValidation } from "../../hardware/validate.js";
import { deepepValidation, formatDeepepTable } from "../../hardware/deepep-validate.js";

interface Target {
  summary: string;
  /** The rows, from the command's options where the target reads any. */
  rows: (opts: { profile?: string }) => unknown[] | Promise<unknown[]>;
  table: (rows: never[]) => string;
}

/** What `moesim validate` can check, each against measured reference figures: its rows and their table. */
const TARGETS: Record<string, Target> = {
  network: {
    summary:
      "all-to-all on the 8x H100 preset vs nccl-tests, the paper's V100 node vs its NVLink " +
      "figure, host->device copies vs PCIe figures",
    rows: () => networkValidation(),
    table: formatValidationTable,
  },
  deepep: {
    summary:
      "DeepEP V1's published H800 figures (normal kernels' bottleneck bandwidth EP8-EP64, " +
      "low-latency kernels' latency " +
      "EP8-EP256) vs the deepep-normal and deepep-low-latency algorithms; JSON rows: " +
      '{"case","kernel","op","ep","unit","published","simulated","error","fitted"}',
    rows: () => deepepValidation(),
    table: formatDeepepTable,
  },
  imported: {
    summary:
      "the all-to-all curve a profile imported (moesim calibrate import) vs the network model " +
      "with its fitted overrides (--profile FILE)",
    rows: async (opts) => {
      if (!opts.profile) throw new UserError("validate imported: --profile <path> is required", "moesim validate");
      const { readImported, importedValidation } = await import("../../calibrate/import.js");
      return importedValidation(readImported(opts.profile));
    },
    table: formatValidationTable,
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
      'print one JSON array of rows (network: {"case","size_bytes","measured_us","simulated_us","error"}; ' +
        "deepep: see below); error = (simulated - measured) / measured",
    )
    .addHelpText(
      "after",
      "\nTargets:\n" +
        Object.entries(TARGETS)
          .map(([k, v]) => `  ${k}: ${v.summary}`)
          .join("\n") +
        "\n\nExample:\n  moesim validate network\n  moesim validate network --json\n  moesim validate deepep\n" +
        "  moesim validate imported --profile my-cluster.json",
    )
    .action(async (target: string, opts: { json?: boolean; profile?: string }) => {
      const t = Object.prototype.hasOwnProperty.call(TARGETS, target) ? TARGETS[target] : undefined;
      if (t === undefined)
        throw new UserError(`unknown validation target '${target}'; expected ${listValues(Object.keys(TARGETS))}`);
      const rows = await t.rows(opts);
      if (opts.json) process.stdout.write(JSON.stringify(rows) + "\n");
      else process.stdout.write(t.table(rows as never[]) + "\n");
    });
}
