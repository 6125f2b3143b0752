import { describe, expect, it } from "vitest";
import { runCli } from "../cli-runner.js";
import type { DeepepRow } from "../../src/hardware/deepep-validate.js";
import { DEEPEP_PUBLISHED } from "../../src/hardware/deepep-validate.js";

describe("moesim validate deepep --json", () => {
  it("prints every published DeepEP V1 point with its error, each within 15%, with the fitted point named", async () => {
    const { code, out } = await runCli(["validate", "deepep", "--json"]);
    expect(code).toBe(0);
    const rows = JSON.parse(out) as DeepepRow[];
    expect(rows.map((r) => [r.kernel, r.op, r.ep, r.published])).toEqual(
      DEEPEP_PUBLISHED.map((p) => [p.kernel, p.op, p.ep, p.value]),
    );
    expect(rows.length).toBe(20);
    // one constant fitted (the low-latency per-message cost); the normal kernels have none
    expect(rows.filter((r) => r.fitted).map((r) => r.case)).toEqual(["low-latency/dispatch/ep64"]);
    for (const r of rows) {
      expect(r.error).toBeCloseTo((r.simulated - r.published) / r.published, 12);
      expect(Math.abs(r.error), r.case).toBeLessThanOrEqual(0.15);
    }
  });
});
