/**
 * Load-level routing hands the analytic network its exchanges as factors (GatingPlan.sendFactors,
 * ProductSizes) instead of GPUs x GPUs matrices: the run equals the one that takes the dense
 * matrices, to the float rounding of the link sums (step times within a few ns), and records the
 * same dispatch matrix.
 */
import { describe, expect, it } from "vitest";
import { parseScenario } from "../../src/scenario/load.js";
import { resolveScenario } from "../../src/scenario/resolve.js";
import { simulateMoe } from "../../src/moe/simulate.js";
import { AnalyticNetwork } from "../../src/hardware/network/index.js";
import { deepseekDecodeYaml } from "../../bench/_scale-scenario.js";

async function run(overlap: boolean, dense: boolean) {
  let yaml = deepseekDecodeYaml({ gpus: 16, steps: 6, network: "analytic", routing: "load" });
  if (overlap) yaml = yaml.replace("  routing: load", "  routing: load\n  overlap: two-batch");
  const cfg = (await resolveScenario(parseScenario(yaml, "<inline>"), { outDir: "/tmp/moesim-lf" })).config;
  const proto = AnalyticNetwork.prototype as { runAllToAllProduct?: unknown };
  const product = proto.runAllToAllProduct;
  // without the method, Cluster.allToAll hands the network the dense matrix of the same sizes
  if (dense) delete proto.runAllToAllProduct;
  try {
    return simulateMoe(cfg);
  } finally {
    proto.runAllToAllProduct = product;
  }
}

describe("load-level routing: exchanges as factors", () => {
  it.each([false, true])(
    "equal to the dense matrices (two-batch overlap: %s)",
    async (overlap) => {
      const a = await run(overlap, false);
      const b = await run(overlap, true);
      expect(a.steps.length).toBe(b.steps.length);
      let worst = 0;
      for (let i = 0; i < a.steps.length; i++) {
        worst = Math.max(worst, Math.abs(a.steps[i].latency_ns - b.steps[i].latency_ns));
      }
      // an all-to-all ends on a whole ns: a last-bit difference of a sum moves it by at most 1 ns (0 seen)
      expect(worst).toBeLessThanOrEqual(10);
      expect(a.steps[0].latency_ns).toBeGreaterThan(1e6);
      expect(a.window.dispatch).not.toBeNull();
      expect(a.window.dispatch).toEqual(b.window.dispatch);
      console.log(`factors vs dense matrices, overlap ${overlap}: worst step-time difference ${worst} ns`);
    },
    120_000,
  );
});
