import type { Command } from "commander";
import { UserError } from "../../util/errors.js";
import { register as run } from "./run.js";
import { register as trace } from "./trace.js";
import { register as cache } from "./cache.js";
import { register as placement } from "./placement.js";

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
  notYet("report", "render Vega-Lite charts from a results directory"),
  notYet("sweep", "run a grid of scenarios on all cores"),
  notYet("merge", "merge sharded sweep results"),
  notYet("calibrate", "time WebGPU kernels and fit a cost-model profile"),
  notYet("validate", "compare the models against measured reference figures"),
  notYet("init", "write a commented example scenario"),
];
