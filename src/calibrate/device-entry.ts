/**
 * Standalone calibration entry (no CLI), for machines where only a bundled file is carried:
 *   npx esbuild src/calibrate/device-entry.ts --bundle --platform=node --format=esm \
 *     --external:webgpu --outfile=.device/calibrate.mjs
 *   node .device/calibrate.mjs OUT_PROFILE.json [--quick] [--validation OUT_VALIDATION.json]
 * Runs calibrate + validate (interleaved rounds) on the local adapter, writes the profile (and the validation result),
 * prints the validation summary as one JSON line on stdout.
 */
import { openGpu } from "./gpu.js";
import { calibrateAndValidate } from "./validate.js";
import { writeJsonAtomic } from "../util/fs.js";

async function mainEntry(argv: string[]): Promise<number> {
  const out = argv.find((a) => !a.startsWith("--"));
  if (!out) {
    process.stderr.write("usage: calibrate.mjs OUT_PROFILE.json [--quick] [--validation OUT.json]\n");
    return 2;
  }
  const quick = argv.includes("--quick");
  const vi = argv.indexOf("--validation");
  const vOut = vi >= 0 ? argv[vi + 1] : out.replace(/\.json$/, "") + ".validation.json";
  const ctx = await openGpu();
  process.stderr.write(
    `adapter: ${ctx.info.description} (${ctx.info.vendor}), fallback ${ctx.info.isFallbackAdapter}\n`,
  );
  const log = (d: number, n: number, what: string) => process.stderr.write(`  ${d}/${n} ${what}\n`);
  const { profile, validation: v } = await calibrateAndValidate(ctx, { quick, onProgress: log });
  writeJsonAtomic(out, profile);
  writeJsonAtomic(vOut, v);
  process.stdout.write(
    JSON.stringify({
      profile: out,
      validation: vOut,
      median_abs_error: v.median_abs_error,
      max_abs_error: v.max_abs_error,
      points: v.points,
    }) + "\n",
  );
  ctx.device.destroy();
  return 0;
}

mainEntry(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`calibrate: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
