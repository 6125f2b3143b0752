/**
 * The cost-profile format as a zod schema, and reading a profile file with it. Apart from
 * cost.ts so that the simulator proper (a sweep worker, say) does not load zod unless a scenario
 * names a profile.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { UserError } from "../util/errors.js";
import { PROFILE_OPS, type CostProfile, type ProfileOp } from "./profile.js";

const finite = z.number().refine(Number.isFinite, "expected a finite number");
/**
 * Times of one op in ns: at most 1e12 (1000 s), far above any kernel, so that the simulated clock
 * (whole ns below 2^53) never overflows on a profile's figure.
 */
export const MAX_OP_NS = 1e12;
const ns = finite.nonnegative().max(MAX_OP_NS, `expected at most ${MAX_OP_NS} ns (1000 s)`);
const pointSchema = z.object({
  x: finite.nonnegative(),
  shape: z.record(z.string(), z.union([z.number(), z.string()])).optional(),
  medianNs: ns,
  p10Ns: ns.optional(),
  p90Ns: ns.optional(),
  minNs: ns.optional(),
  fitNs: ns.positive().optional(),
  reps: z.number().int().positive(),
});
const fitSchema = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("piecewise-linear"),
    knots: z
      .array(z.tuple([finite, ns]))
      .min(1)
      .refine((k) => k.every((p, i) => i === 0 || p[0] >= k[i - 1][0]), "knots must be sorted by x"),
    perTileNs: ns.optional(),
    fixedNs: ns.optional(),
  }),
  z.object({
    kind: z.literal("affine"),
    fixedNs: finite.min(-MAX_OP_NS).max(MAX_OP_NS),
    ratePerS: finite.positive().min(1e-9, "expected a rate of at least 1e-9 per second"),
  }),
]);
const curveSchema = z.object({
  unit: z.enum(["flops", "bytes", "tokens"]),
  dtype: z.string().optional(),
  points: z.array(pointSchema),
  fit: fitSchema,
});
const opsShape = Object.fromEntries(PROFILE_OPS.map((op) => [op, curveSchema.optional()])) as Record<
  ProfileOp,
  z.ZodOptional<typeof curveSchema>
>;
const extraCurveSchema = z.object({
  unit: z.enum(["bytes", "dispatches"]),
  points: z.array(pointSchema),
  fit: fitSchema,
});
const rate = finite.positive().min(1e-3, "expected a rate of at least 1e-3 per second");
/** A fitted tiled FFN model (cost-shape.ts TiledFfnModel), one per dtype measured. */
const tiledFfnSchema = z.object({
  kind: z.literal("tiled-ffn"),
  dtype: z.enum(["fp32", "fp16", "bf16", "fp8"]),
  tileTokens: z.number().int().positive().max(65536),
  tileCols: z.number().int().positive().max(65536),
  cacheBytes: finite.nonnegative(),
  fixedNs: ns,
  computePerS: rate,
  spillPerS: rate.nullable(),
  memoryPerS: rate.nullable(),
  fittedOn: z.array(
    z.object({
      d_model: z.number().int().positive(),
      d_ff: z.number().int().positive(),
      act: z.enum(["swiglu", "gelu", "relu"]),
      tokens: z.array(z.number().int().positive()),
    }),
  ),
  medianAbsError: finite.nonnegative(),
  maxAbsError: finite.nonnegative(),
});
export const costProfileSchema = z.object({
  format: z.literal("moesim-profile/v1"),
  adapter: z.object({
    vendor: z.string(),
    architecture: z.string(),
    device: z.string(),
    description: z.string(),
    isFallbackAdapter: z.boolean(),
    features: z.array(z.string()).optional(),
  }),
  createdAt: z.string(),
  sweep: z.record(z.string(), z.unknown()),
  ops: z.object(opsShape).strict(),
  // What `moesim calibrate` adds (calibrate/profile-ext.ts): checked as strictly as the ops.
  extraOps: z.object({ combine: extraCurveSchema.optional(), launch: extraCurveSchema.optional() }).strict().optional(),
  ffnTileTokens: z.number().int().positive().max(65536).optional(),
  layer: z.record(z.string(), z.union([z.number(), z.string()])).optional(),
  shapeModels: z.array(tiledFfnSchema).optional(),
});

/** Checks an already-parsed value against the profile format; UserError naming `where` and the key path. */
export function parseProfile(value: unknown, where: string): CostProfile {
  const r = costProfileSchema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0];
    const key =
      issue.path.length > 0
        ? issue.path.map((k, i) => (typeof k === "number" ? `[${k}]` : `${i > 0 ? "." : ""}${String(k)}`)).join("")
        : "(top level)";
    throw new UserError(`invalid cost profile at key ${key}: ${issue.message}`, where);
  }
  return r.data;
}

/** Reads and validates a profile JSON file (moesim-profile/v1): the fields of the format. */
export function loadProfile(path: string): CostProfile {
  return readProfileFile(path).profile;
}

/**
 * Reads a profile JSON file and validates it against the format; `raw` is the whole parsed value,
 * with any extra fields a writer added (`moesim calibrate` adds extraOps, ffnTileTokens, layer).
 */
export function readProfileFile(path: string): { profile: CostProfile; raw: unknown } {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new UserError(`cannot read cost profile: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, path);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new UserError(`cost profile is not valid JSON: ${(e as Error).message}`, path);
  }
  return { profile: parseProfile(value, path), raw: value };
}
