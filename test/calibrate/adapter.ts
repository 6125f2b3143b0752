/**
 * The shared way tests get a WebGPU device: with no adapter, tests FAIL when process.env.CI is
 * set (CI must have lavapipe) and skip with a visible reason otherwise.
 */
import { findAdapter, openGpu, type GpuContext } from "../../src/calibrate/gpu.js";

export interface AdapterCheck {
  ctx: GpuContext | null;
  reason: string;
}

export async function getTestGpu(): Promise<AdapterCheck> {
  const adapter = await findAdapter();
  if (adapter === null) {
    const reason = "no WebGPU adapter (install Mesa lavapipe: scripts/install-lavapipe.sh)";
    if (process.env.CI) throw new Error(`CI is set and ${reason}: calibration tests must run in CI`);
    console.warn(`SKIPPING calibrate tests: ${reason}`);
    return { ctx: null, reason };
  }
  return { ctx: await openGpu(), reason: "" };
}
