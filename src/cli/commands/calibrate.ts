import type { Command } from "commander";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { UserError } from "../../util/errors.js";
import { writeJsonAtomic, writeOutputFile } from "../../util/fs.js";
import { checkOutputFile } from "../../util/output.js";
import { choiceFlag, optionalIntFlag } from "../flags.js";
import { registerImport } from "./calibrate-import.js";

interface Opts {
  out?: string;
  quick?: boolean;
  json?: boolean;
  validate?: boolean;
  profile?: string;
  stat?: string;
  reps?: string;
}

/** A progress bar on stderr, only when stderr is a TTY (and not with --json's machine readers in mind). */
async function progressBar(
  label: string,
): Promise<{ update: (done: number, total: number, what: string) => void; stop: () => void }> {
  if (!process.stderr.isTTY) return { update: () => {}, stop: () => {} };
  const { default: cliProgress } = await import("cli-progress");
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${label} [{bar}] {value}/{total} {what}`,
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update: (done, total, what) => {
      if (!started) {
        bar.start(total, 0, { what: "" });
        started = true;
      }
      bar.setTotal(total);
      bar.update(done, { what });
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}

function fmtPct(v: number): string {
  return `${(v * 100).toFixed(1)}%`;
}

export function register(program: Command): void {
  const cmd = program.command("calibrate").enablePositionalOptions();
  registerImport(cmd);
  cmd
    .description(
      "time WebGPU kernels (expert FFN, gating, token shuffle, copies) on the local adapter " +
        "and fit a cost-model profile;\n" +
        "with --validate, run a real MoE layer for 1..256 tokens and compare it with the profile's prediction",
    )
    .option("-o, --out <path>", "write the fitted profile here (JSON, moesim-profile/v1)")
    .option("--quick", "a short sweep (under a minute on lavapipe)")
    .option(
      "--validate",
      "run the MoE-layer validation of --profile, or of the profile just measured (written to " +
        "--out, or to a temporary file)",
    )
    .option("--profile <path>", "profile to validate (default: the one just measured)")
    .option("--stat <stat>", "statistic of the repetitions used by fits and validation: min or median", "min")
    .option("--reps <n>", "timed repetitions per point")
    .option("--json", "print one JSON document on stdout")
    .addHelpText(
      "after",
      "\nExamples:\n  moesim calibrate --out mine.json --quick\n  moesim calibrate --validate " +
        "--profile profiles/lavapipe.json --json\n" +
        "  moesim calibrate --validate --quick   # measure, then validate the fresh profile (not kept)",
    )
    .action(async (opts: Opts) => {
      if (!opts.out && !opts.validate)
        throw new UserError(
          "give --out <path> to calibrate, or --validate [--profile <path>] to validate",
          "moesim calibrate",
        );
      if (opts.out !== undefined && opts.profile !== undefined)
        throw new UserError("give --out (measure a new profile) or --profile (validate a profile), not both");
      const stat = choiceFlag("--stat", opts.stat ?? "min", ["min", "median"] as const);
      const reps = optionalIntFlag("--reps", opts.reps, { min: 1, max: 100_000 });
      if (opts.out !== undefined) checkOutputFile(opts.out, "profile file");
      const cal = await import("../../calibrate/index.js");
      const profileIn = opts.profile ? cal.loadProfile(resolve(opts.profile)) : undefined;
      // --validate alone measures a profile and validates it from a temporary file, as --profile would read it.
      const tmp = !opts.out && !profileIn ? mkdtempSync(join(tmpdir(), "moesim-calibrate-")) : null;
      const outPath = opts.out ?? (tmp ? join(tmp, "profile.json") : undefined);
      const ctx = await cal.openGpu();
      const log = (s: string) => process.stderr.write(s + "\n");
      log(
        `moesim calibrate: adapter ${ctx.info.description || ctx.info.device} ` +
          `(${ctx.info.vendor}${ctx.info.isFallbackAdapter ? ", software fallback" : ""})`,
      );
      const result: Record<string, unknown> = {};
      let profile = profileIn;
      let validated: Awaited<ReturnType<typeof cal.validate>> | undefined;
      if (outPath && !profileIn) {
        const bar = await progressBar("calibrate");
        try {
          // With --validate too, the layer points run in the calibration's interleaved rounds.
          if (opts.validate) {
            const both = await cal.calibrateAndValidate(ctx, { quick: opts.quick, reps, stat, onProgress: bar.update });
            profile = both.profile;
            validated = both.validation;
          } else profile = await cal.calibrate(ctx, { quick: opts.quick, reps, stat, onProgress: bar.update });
        } finally {
          bar.stop();
        }
        if (opts.out) {
          writeOutputFile(opts.out, JSON.stringify(profile, null, 2) + "\n", "profile file");
          log(`moesim calibrate: wrote ${opts.out}`);
          result.profile = opts.out;
        } else {
          writeJsonAtomic(outPath, profile);
          profile = cal.loadProfile(outPath);
          rmSync(tmp!, { recursive: true, force: true });
        }
        if (!opts.json) {
          for (const [op, c] of Object.entries(profile.ops)) {
            const pts = c?.points ?? [];
            const last = pts[pts.length - 1];
            const rate = last ? (last.x / Math.max(1, last.medianNs)) * 1e9 : 0;
            const unit = c?.unit === "flops" ? "GFLOP/s" : c?.unit === "bytes" ? "GB/s" : "Mtokens/s";
            const div = c?.unit === "tokens" ? 1e6 : 1e9;
            process.stdout.write(
              `${op.padEnd(11)} ${pts.length} points, at x=${last?.x}: ${(rate / div).toFixed(3)} ${unit}\n`,
            );
          }
        }
      }
      if (opts.validate) {
        if (!profile) throw new UserError("--validate needs --profile <path> or --out <path>");
        const bar = await progressBar("validate");
        let v = validated;
        try {
          v ??= await cal.validate(ctx, profile, { quick: opts.quick, reps, stat, onProgress: bar.update });
        } finally {
          bar.stop();
        }
        Object.assign(result, v);
        if (!opts.json) {
          process.stdout.write(`tokens  measured_us  predicted_us   error  active_experts\n`);
          for (const p of v.points)
            process.stdout.write(
              `${String(p.tokens).padStart(6)}  ${p.measured_us.toFixed(0).padStart(11)} ` +
                ` ${p.predicted_us.toFixed(0).padStart(12)}  ${fmtPct(p.error).padStart(6)} ` +
                ` ${String(p.active_experts).padStart(14)}\n`,
            );
          process.stdout.write(
            `median |error| ${fmtPct(v.median_abs_error)}, max |error| ${fmtPct(v.max_abs_error)} ` +
              `(${v.statistic} of reps, ${v.timing})\n`,
          );
        }
      }
      if (opts.json) process.stdout.write(JSON.stringify(result) + "\n");
      ctx.device.destroy();
    });
}
