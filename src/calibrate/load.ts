import { readFileSync } from "node:fs";
import { PROFILE_OPS } from "../hardware/profile.js";
import { UserError } from "../util/errors.js";
import type { CalibratedProfile } from "./profile-ext.js";

/** Reads a profile written by `moesim calibrate`, with a clear error for a wrong file. */
export function loadProfile(path: string): CalibratedProfile {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    throw new UserError(`cannot read the profile file`, path);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new UserError(`not valid JSON (${(e as Error).message})`, path);
  }
  const p = v as CalibratedProfile;
  if (!p || p.format !== "moesim-profile/v1")
    throw new UserError(`key "format": expected "moesim-profile/v1"`, path);
  if (typeof p.ops !== "object" || p.ops === null) throw new UserError(`key "ops": expected an object of op curves`, path);
  for (const k of Object.keys(p.ops))
    if (!(PROFILE_OPS as readonly string[]).includes(k))
      throw new UserError(`key "ops.${k}": unknown op; valid ops are ${PROFILE_OPS.join(", ")}`, path);
  return p;
}
