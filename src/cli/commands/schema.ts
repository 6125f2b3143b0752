import type { Command } from "commander";

export function register(program: Command): void {
  program
    .command("schema")
    .description("print the JSON Schema of scenario files (for editor completion)")
    .option("-o, --out <file>", "write it to a file instead of stdout")
    .addHelpText(
      "after",
      "\nExample:\n  moesim schema --out scenarios/scenario.schema.json\n  # then in a " +
        "scenario: # yaml-language-server: $schema=scenario.schema.json",
    )
    .action(async (opts: { out?: string }) => {
      const { scenarioJsonSchema } = await import("../../scenario/schema.js");
      const text = JSON.stringify(scenarioJsonSchema(), null, 2) + "\n";
      if (opts.out) {
        const { writeOutputFile } = await import("../../util/fs.js");
        writeOutputFile(opts.out, text, "schema file");
        process.stderr.write(`wrote ${opts.out}\n`);
      } else process.stdout.write(text);
    });
}
