/**
 * Issue 20's first accuracy guard: where both network models run, the analytic model's step-time mean and p99 are
 * within 2% of the flow model's. Here on one scenario per kind of cluster and workload among the validation and
 * deployment scenarios, 4 steps each (bench/network-guard runs all 222 of them, the 32- and 72-GPU deployments
 * included, which take ~20 s of CPU each with flows: docs/performance.md, "Accuracy guards").
 */
import { describe, expect, it } from "vitest";
import { guardEntries, guardRun } from "../../bench/_guard-scenarios.js";

const LABELS = [
  "quickstart", // expert buffering: weight copies over shared PCIe while all-to-alls run
  "deployments/gpt-oss-120b-h200.yaml",
  "deployments/qwen3-235b-2x8-h100.yaml", // 2 nodes: NIC traffic
  "paper/base/lm.yaml", // DGX-1 cube mesh: relayed NVLink flows share links
  "paper/base/mt-decoder-buffering.yaml",
  "paper/base/mt-decoder-serving.yaml", // continuous batching
  "paper/base/olmoe-decode.yaml", // the worst of the bench (-0.04%)
  "paper/cache-throughput-multinode.yaml #2",
  "paper/gating-lm-multinode.yaml #14", // 4 nodes, dynamic gating
];

describe("analytic vs flow network model: step time within 2%", () => {
  const all = guardEntries();
  it.each(LABELS)(
    "%s",
    async (label) => {
      const e = all.find((x) => x.label === label || x.label.startsWith(`${label} `));
      expect(e, `no guard scenario ${label}`).toBeDefined();
      const flow = await guardRun(e!, { model: "flow", routing: "tokens", maxSteps: 4 });
      const an = await guardRun(e!, { model: "analytic", routing: "tokens", maxSteps: 4 });
      expect(flow.oom).toBeNull();
      expect(an.steps).toBe(flow.steps);
      expect(Math.abs(an.mean / flow.mean - 1)).toBeLessThanOrEqual(0.02);
      expect(Math.abs(an.p99 / flow.p99 - 1)).toBeLessThanOrEqual(0.02);
    },
    60_000,
  );
});
