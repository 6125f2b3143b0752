/**
 * The shared way tests get a WebGPU device: with no adapter, tests FAIL when process.env.CI is
 * set (CI must have lavapipe) and skip with a visible reason otherwise.
 */
import { afterAll, beforeAll } from "vitest";
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

/**
 * Opens the test device once for the file (beforeAll) and destroys it afterwards; `gpu.ctx` is null
 * (outside CI only) with `gpu.reason` saying why.
 */
export function useTestGpu(): AdapterCheck {
  const gpu: AdapterCheck = { ctx: null, reason: "" };
  beforeAll(async () => {
    Object.assign(gpu, await getTestGpu());
  }, 60_000);
  afterAll(() => gpu.ctx?.device.destroy());
  return gpu;
}
