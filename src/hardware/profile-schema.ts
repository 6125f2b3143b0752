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
const pointSchema = z.object({
  x: finite.nonnegative(),
  shape: z.record(z.string(), z.union([z.number(), z.string()])).optional(),
  medianNs: finite.nonnegative(),
  p10Ns: finite.nonnegative().optional(),
  p90Ns: finite.nonnegative().optional(),
  reps: z.number().int().positive(),
});
const fitSchema = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("piecewise-linear"),
    knots: z
      .array(z.tuple([finite, finite.nonnegative()]))
      .min(1)
      .refine((k) => k.every((p, i) => i === 0 || p[0] >= k[i - 1][0]), "knots must be sorted by x"),
  }),
  z.object({ kind: z.literal("affine"), fixedNs: finite, ratePerS: finite.positive() }),
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
});

/** Checks an already-parsed value against the profile format; UserError naming `where` and the key path. */
export function parseProfile(value: unknown, where: string): CostProfile {
  const r = costProfileSchema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0];
    const key = issue.path.length > 0 ? issue.path.map(String).join(".") : "(top level)";
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
