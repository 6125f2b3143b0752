import { readProfileFile } from "../hardware/profile-schema.js";
import type { CalibratedProfile } from "./profile-ext.js";

/**
 * Reads a profile written by `moesim calibrate`: validated against moesim-profile/v1 by the same
 * schema as `moesim run` uses (one clear error naming the key), with calibrate's extra fields
 * (extraOps, ffnTileTokens, layer) kept.
 */
export function loadProfile(path: string): CalibratedProfile {
  return readProfileFile(path).raw as CalibratedProfile;
}
