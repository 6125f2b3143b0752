import { Command, CommanderError } from "commander";
import { UserError, EXIT_INTERNAL, EXIT_OK, EXIT_USER } from "../util/errors.js";
import { commands } from "./commands/index.js";

export function buildProgram(): Command {
  const program = new Command();
  program
    .name("moesim")
    .description(
      "Discrete-event simulator of Mixture-of-Experts inference clusters.\n" +
        "Example: moesim run scenarios/quickstart.yaml",
    )
    .version("0.1.0")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  for (const register of commands) register(program);
  for (const c of program.commands) c.exitOverride();
  return program;
}

/** Runs the CLI and returns the exit code (0 ok, 1 internal error, 2 user error). */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : EXIT_OK;
  } catch (e) {
    return reportError(e);
  }
}

export function reportError(e: unknown): number {
  if (e instanceof CommanderError) {
    // help and version exit with code 0; commander already printed its message.
    if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help") return EXIT_OK;
    return EXIT_USER;
  }
  if (e instanceof UserError) {
    process.stderr.write(`moesim: error: ${e.message}\n`);
    return EXIT_USER;
  }
  const err = e as Error;
  process.stderr.write(`moesim: internal error: ${err?.stack ?? String(e)}\n`);
  return EXIT_INTERNAL;
}
