import { Command, CommanderError } from "commander";
import { UserError, EXIT_INTERNAL, EXIT_OK, EXIT_USER } from "../util/errors.js";
import { SimulationError } from "../sim/errors.js";
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
    .exitOverride()
    // Commander's own errors (unknown option, missing argument) are printed by reportError, in
    // the one-line form of every user error; help and version still go to stdout.
    .configureOutput({ writeErr: (s) => process.stderr.write(s), outputError: () => {} });
  for (const register of commands) register(program);
  for (const c of program.commands) c.exitOverride();
  return program;
}

/** The command whose arguments commander was parsing (the deepest one named in argv), for messages. */
let parsing = "moesim";

/** A commander error as a user error: which command, what is wrong, where the valid options are listed. */
function commanderMessage(e: CommanderError): string {
  const msg = e.message.replace(/^error: /, "");
  return `${parsing}: ${msg} (see '${parsing} --help' for the valid options and arguments)`;
}

/** Names the deepest subcommand of `program` given in argv (before any option), for error messages. */
function commandPath(program: Command, argv: string[]): string {
  let cmd = program;
  let path = "moesim";
  for (const a of argv.slice(2)) {
    if (a.startsWith("-")) break;
    const sub = cmd.commands.find((c) => c.name() === a || c.aliases().includes(a));
    if (!sub) break;
    cmd = sub;
    path += ` ${sub.name()}`;
  }
  return path;
}

let pipeHandlers = false;

/**
 * When the reader of stdout goes away (`moesim schema | head`), writing to it fails with EPIPE:
 * the process ends quietly (exit 0) instead of printing an unhandled-error stack trace, as a Unix
 * tool killed by SIGPIPE would. A closed stderr is ignored, so work in progress (a results folder
 * being written) still finishes. Installed once, by bin/moesim.js.
 */
export function exitQuietlyOnClosedPipe(): void {
  if (pipeHandlers) return;
  pipeHandlers = true;
  const closed = (e: NodeJS.ErrnoException): boolean => e.code === "EPIPE" || e.code === "ERR_STREAM_DESTROYED";
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (!closed(e)) throw e;
    process.exit(EXIT_OK);
  });
  process.stderr.on("error", (e: NodeJS.ErrnoException) => {
    if (!closed(e)) throw e;
  });
}

/** Runs the CLI and returns the exit code (0 ok, 1 internal error, 2 user error). */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  parsing = commandPath(program, argv);
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : EXIT_OK;
  } catch (e) {
    return reportError(e);
  }
}

/**
 * A user error is one line: control characters (newlines, NUL, ...) that a message may quote from
 * a bad input file are shown escaped, and a very long message is shortened.
 */
export function oneLine(message: string): string {
  // eslint-disable-next-line no-control-regex
  const s = message.replace(/[\u0000-\u0008\u000a-\u001f\u007f\u2028\u2029]/g, (c) =>
    c === "\n" ? "\\n" : c === "\r" ? "\\r" : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  return s.length > 2000 ? `${s.slice(0, 2000)}...` : s;
}

export function reportError(e: unknown): number {
  if (e instanceof CommanderError) {
    // help and version exit with code 0; commander already printed them.
    if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help")
      return EXIT_OK;
    process.stderr.write(`moesim: error: ${oneLine(commanderMessage(e))}\n`);
    return EXIT_USER;
  }
  if (e instanceof UserError) {
    process.stderr.write(`moesim: error: ${oneLine(e.message)}\n`);
    return EXIT_USER;
  }
  if (e instanceof SimulationError) {
    // The engine's checks (integer ns times below 2^53, positive capacities) fail on inputs out of
    // range that no earlier check caught: a huge profile time, a near-zero rate. One line, exit 2.
    process.stderr.write(
      `moesim: error: the simulation cannot run with these inputs: ${oneLine(e.message)} (an ` +
        `input time, rate or size out of range)\n`,
    );
    return EXIT_USER;
  }
  const err = e as Error;
  process.stderr.write(`moesim: internal error: ${err?.stack ?? String(e)}\n`);
  return EXIT_INTERNAL;
}
