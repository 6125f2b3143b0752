import type { Command } from "commander";
import { UserError } from "../../util/errors.js";
import { register as run } from "./run.js";
import { register as report } from "./report.js";
import { register as calibrate } from "./calibrate.js";
import { register as sweep } from "./sweep.js";
import { register as merge } from "./merge.js";
import { register as init } from "./init.js";
import { register as trace } from "./trace.js";
import { register as cache } from "./cache.js";
import { register as placement } from "./placement.js";
import { register as validate } from "./validate.js";
import { register as schema } from "./schema.js";
import { register as paper } from "./paper.js";

export type RegisterCommand = (program: Command) => void;

/** A command that a later milestone delivers: a clear message and exit code 2, never a silent no-op. */
export function notYet(name: string, summary: string): RegisterCommand {
  return (program) =>
    program
      .command(name)
      .description(`${summary} (not yet available)`)
      .allowUnknownOption(true)
      .allowExcessArguments(true)
      .action(() => {
        throw new UserError(`'moesim ${name}' is not yet available in this version`);
      });
}

export const commands: RegisterCommand[] = [
  run,
  cache,
  placement,
  trace,
  report,
  sweep,
  merge,
  calibrate,
  validate,
  init,
  schema,
  paper,
];
