import type { Command } from "commander";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { UserError } from "../../util/errors.js";
import { writeJsonAtomic, writeOutputFile } from "../../util/fs.js";
import { checkOutputFile } from "../../util/output.js";
import { choiceFlag, optionalIntFlag } from "../flags.js";
import { registerImport } from "./calibrate-import.js";
import { getModelPreset } from "../../workload/model.js";

interface Opts {
  out?: string;
  quick?: boolean;
  json?: boolean;
  validate?: boolean;
  profile?: string;
  stat?: string;
  reps?: string;
  model?: string;
  maxSeconds?: string;
}

type Cal = typeof import("../../calibrate/index.js");
type Ctx = Awaited<ReturnType<Cal["openGpu"]>>;
type Validation = Awaited<ReturnType<Cal["validate"]>>;

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

type Transfer = Awaited<ReturnType<(typeof import("../../calibrate/index.js"))["transferValidate"]>>;

/** The shape-transfer result: the in-sample fit, each held-out shape, the layer at an unfitted shape. */
function printTransfer(r: Transfer): void {
  const w = (s: string) => process.stdout.write(s + "\n");
  const m = r.in_sample.model;
  const rate = (v: number | null, unit: string, div: number) => (v ? `${(v / div).toFixed(3)} ${unit}` : "not bound");
  w(
    `\nexpert FFN shape model (tiled roofline, ${r.timing}, median of ${r.reps} reps): ` +
      `fixed ${(m.fixedNs / 1e3).toFixed(1)} us, compute ${rate(m.computePerS, "GFLOP/s", 1e9)}, ` +
      `re-reads beyond ${m.cacheBytes} B ${rate(m.spillPerS, "GB/s", 1e9)}, memory ${rate(m.memoryPerS, "GB/s", 1e9)}`,
  );
  w(
    `in-sample (fit on all ${m.fittedOn.length} shapes): median |error| ${fmtPct(r.in_sample.median_abs_error)}, ` +
      `max ${fmtPct(r.in_sample.max_abs_error)}`,
  );
  w(`held-out (leave one shape out: fit on the others, predict it):`);
  for (const f of r.held_out.folds)
    w(`  ${f.held_out.padEnd(10)} ${f.errors.map((e) => `${e.tokens} tok ${fmtPct(e.error)}`).join(", ")}`);
  w(`  held-out median |error| ${fmtPct(r.held_out.median_abs_error)}, max ${fmtPct(r.held_out.max_abs_error)}`);
  const L = r.layer;
  w(
    `held-out layer ${L.shape.dModel}x${L.shape.dFf} (${L.shape.experts} experts, top-${L.shape.topK}; ` +
      `not a fitted shape): ` +
      L.points.map((p) => `${p.tokens} tok ${fmtPct(p.error)}`).join(", "),
  );
  w(`  layer median |error| ${fmtPct(L.median_abs_error)}, max ${fmtPct(L.max_abs_error)}`);
}

export function register(program: Command): void {
  const cmd = program.command("calibrate").enablePositionalOptions();
  registerImport(cmd);
  cmd
    .description(
      "time WebGPU kernels (expert FFN, gating, token shuffle, copies) on the local adapter " +
        "and fit a cost-model profile, with a tiled FFN model over several expert shapes;\n" +
        "with --validate, run a real MoE layer for 1..256 tokens and compare it with the profile's prediction, " +
        "and report the FFN model's in-sample and held-out (leave-one-shape-out) errors;\n" +
        "with --model PRESET, time that model's own shapes at token counts that fit --max-seconds",
    )
    .option("-o, --out <path>", "write the fitted profile here (JSON, moesim-profile/v1)")
    .option("--quick", "a short sweep (about a minute on lavapipe)")
    .option(
      "--validate",
      "run the MoE-layer validation of --profile, or of the profile just measured (written to " +
        "--out, or to a temporary file), and the shape-transfer test",
    )
    .option("--profile <path>", "profile to validate (default: the one just measured)")
    .option("--model <preset>", "time this model preset's expert, gating and attention shapes")
    .option("--max-seconds <s>", "time budget of --model's measurements (default 120)")
    .option("--stat <stat>", "statistic of the repetitions used by fits and validation: min or median", "min")
    .option("--reps <n>", "timed repetitions per point")
    .option("--json", "print one JSON document on stdout")
    .addHelpText(
      "after",
      "\nExamples:\n  moesim calibrate --out mine.json --quick\n  moesim calibrate --validate " +
        "--profile profiles/lavapipe.json --json\n" +
        "  moesim calibrate --validate --quick   # measure, then validate the fresh profile (not kept)\n" +
        "  moesim calibrate --model olmoe-1b-7b --max-seconds 120 --out olmoe.json --validate",
    )
    .action(async (opts: Opts) => {
      if (!opts.out && !opts.validate)
        throw new UserError(
          "give --out <path> to calibrate, or --validate [--profile <path>] to validate",
          "moesim calibrate",
        );
      if (opts.out !== undefined && opts.profile !== undefined)
        throw new UserError("give --out (measure a new profile) or --profile (validate a profile), not both");
      if (opts.model !== undefined && opts.profile !== undefined)
        throw new UserError("give --model (measure a model's shapes) or --profile (validate a profile), not both");
      if (opts.maxSeconds !== undefined && opts.model === undefined)
        throw new UserError("--max-seconds is the budget of --model; give --model <preset> too");
      const stat = choiceFlag("--stat", opts.stat ?? "min", ["min", "median"] as const);
      const reps = optionalIntFlag("--reps", opts.reps, { min: 1, max: 100_000 });
      const maxSeconds = optionalIntFlag("--max-seconds", opts.maxSeconds, { min: 1, max: 86_400 }) ?? 120;
      const spec = opts.model !== undefined ? getModelPreset(opts.model) : undefined;
      if (opts.out !== undefined) checkOutputFile(opts.out, "profile file");
      const cal = await import("../../calibrate/index.js");
      const profileIn = opts.profile ? cal.loadProfile(resolve(opts.profile)) : undefined;
      const ctx = await cal.openGpu();
      const log = (s: string) => process.stderr.write(s + "\n");
      log(
        `moesim calibrate: adapter ${ctx.info.description || ctx.info.device} ` +
          `(${ctx.info.vendor}${ctx.info.isFallbackAdapter ? ", software fallback" : ""}); timing ` +
          `${ctx.software ? "the driver threads' CPU time (software adapter)" : "on the GPU"}`,
      );
      const result: Record<string, unknown> =
        spec !== undefined
          ? await runModel(cal, ctx, spec, { ...opts, maxSeconds }, log)
          : await runProfile(cal, ctx, opts, profileIn, { stat, reps }, log);
      if (opts.json) process.stdout.write(JSON.stringify(result) + "\n");
      ctx.device.destroy();
    });
}

function writeProfile(out: string, profile: unknown, log: (s: string) => void): void {
  writeOutputFile(out, JSON.stringify(profile, null, 2) + "\n", "profile file");
  log(`moesim calibrate: wrote ${out}`);
}

/** The generic sweep (and/or the validation of a profile) plus the shape-transfer test. */
async function runProfile(
  cal: Cal,
  ctx: Ctx,
  opts: Opts,
  profileIn: ReturnType<Cal["loadProfile"]> | undefined,
  o: { stat: "min" | "median"; reps: number | undefined },
  log: (s: string) => void,
): Promise<Record<string, unknown>> {
  const result: Record<string, unknown> = {};
  // --validate alone measures a profile and validates it from a temporary file, as --profile would read it.
  // (the temporary folder is made only once there is a profile to write, so a failed measurement leaves none)
  const measure = !profileIn;
  let profile = profileIn;
  let validated: Validation | undefined;
  let transfer: Transfer | undefined;
  if (measure) {
    const bar = await progressBar("calibrate");
    let measured: Awaited<ReturnType<Cal["calibrate"]>>;
    try {
      // With --validate too, the layer points run in the calibration's interleaved rounds.
      const co = { quick: opts.quick, reps: o.reps, stat: o.stat, onProgress: bar.update };
      if (opts.validate) {
        const both = await cal.calibrateAndValidate(ctx, co);
        measured = both.profile;
        validated = both.validation;
      } else measured = await cal.calibrate(ctx, co);
      transfer = await cal.transferValidate(ctx, { quick: opts.quick, onProgress: bar.update });
    } finally {
      bar.stop();
    }
    // the FFN shape model fitted on every transfer shape travels with the profile
    const withModel = { ...measured, shapeModels: [transfer.in_sample.model] };
    profile = withModel;
    if (opts.out) {
      writeProfile(opts.out, withModel, log);
      result.profile = opts.out;
    } else {
      const tmp = mkdtempSync(join(tmpdir(), "moesim-calibrate-"));
      try {
        const path = join(tmp, "profile.json");
        writeJsonAtomic(path, withModel);
        profile = cal.loadProfile(path);
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    }
    if (!opts.json) printOps(profile);
  }
  if (opts.validate) {
    if (!profile) throw new UserError("--validate needs --profile <path> or --out <path>");
    const bar = await progressBar("validate");
    let v = validated;
    try {
      v ??= await cal.validate(ctx, profile, { quick: opts.quick, reps: o.reps, stat: o.stat, onProgress: bar.update });
      transfer ??= await cal.transferValidate(ctx, { quick: opts.quick, onProgress: bar.update });
    } finally {
      bar.stop();
    }
    Object.assign(result, v, { transfer });
    if (!opts.json) {
      printValidation(v, `in-sample layer (${v.layer.dModel}x${v.layer.dFf}, the profile's own FFN points)`);
      printTransfer(transfer);
    }
  }
  return result;
}

function printOps(profile: ReturnType<Cal["loadProfile"]>): void {
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

function printValidation(
  v: {
    points: Array<{ tokens: number; measured_us: number; predicted_us: number; error: number; active_experts: number }>;
    median_abs_error: number;
    max_abs_error: number;
  },
  title: string,
  tail = "",
): void {
  process.stdout.write(`${title}\ntokens  measured_us  predicted_us   error  active_experts\n`);
  for (const p of v.points)
    process.stdout.write(
      `${String(p.tokens).padStart(6)}  ${p.measured_us.toFixed(0).padStart(11)} ` +
        ` ${p.predicted_us.toFixed(0).padStart(12)}  ${fmtPct(p.error).padStart(6)} ` +
        ` ${String(p.active_experts).padStart(14)}\n`,
    );
  process.stdout.write(`median |error| ${fmtPct(v.median_abs_error)}, max |error| ${fmtPct(v.max_abs_error)}${tail}\n`);
}

/** `--model PRESET`: the model's own shapes within the time budget, optionally its layer validated. */
async function runModel(
  cal: Cal,
  ctx: Ctx,
  spec: ReturnType<typeof getModelPreset>,
  opts: Omit<Opts, "maxSeconds"> & { maxSeconds: number },
  log: (s: string) => void,
): Promise<Record<string, unknown>> {
  const bar = await progressBar(`calibrate ${spec.name}`);
  let r: Awaited<ReturnType<Cal["modelSweep"]>>;
  try {
    r = await cal.modelSweep(ctx, spec, {
      maxSeconds: opts.maxSeconds,
      validate: opts.validate,
      onProgress: bar.update,
    });
  } finally {
    bar.stop();
  }
  for (const n of r.notes) log(`moesim calibrate: ${n}`);
  const result: Record<string, unknown> = { model: spec.name, notes: r.notes, covers: r.profile.sweep.covers };
  if (opts.out) {
    writeProfile(opts.out, r.profile, log);
    result.profile = opts.out;
  }
  if (r.validation) result.validation = r.validation;
  if (!opts.json) {
    printOps(r.profile);
    process.stdout.write(`covers: ${JSON.stringify(r.profile.sweep.covers)}\n`);
    if (r.validation)
      printValidation(
        r.validation,
        `layer ${spec.dModel}x${spec.dFf} (${r.validation.layer.note}), FFN from the fitted shape model`,
      );
  }
  return result;
}
