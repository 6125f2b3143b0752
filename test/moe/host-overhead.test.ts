import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FAIRSEQ_OPS, GATE_HOST_OPS, HostClock } from "../../src/moe/host.js";
import { clusterSpecFrom, getNodePreset } from "../../src/hardware/presets.js";
import { parseScenario } from "../../src/scenario/load.js";
import { runScenario } from "../../src/scenario/run.js";
import { UserError } from "../../src/util/errors.js";
import { ROOT } from "../paper/helpers.js";

describe("the host clock: a segment between syncs takes max(host issue time, GPU time)", () => {
  it("N ops at h each with tiny GPU work take N x h", () => {
    const h = new HostClock(5_000);
    h.begin(1_000);
    h.issue(40);
    // the GPU finished the segment's work 3 us after it began: the host is the slower, 40 x 5 us
    expect(h.sync(4_000)).toBe(1_000 + 40 * 5_000 - 4_000);
    // the next segment starts when the host has caught up
    h.issue(2);
    expect(h.sync(1_000 + 40 * 5_000)).toBe(10_000);
  });

  it("any segment ends at max(GPU end, start + ops x h), and the next one starts there", () => {
    fc.assert(
      fc.property(fc.nat(1e9), fc.nat(10_000), fc.nat(10_000), fc.nat(1e8), (start, ops, opNs, gpuNs) => {
        const h = new HostClock(opNs);
        h.begin(start);
        h.issue(ops);
        const gpuEnd = start + gpuNs;
        const end = gpuEnd + h.sync(gpuEnd);
        expect(end).toBe(Math.max(gpuEnd, start + ops * opNs));
        expect(h.segStart).toBe(end);
        expect(h.issued).toBe(0);
      }),
    );
  });

  it("with large GPU work the segment takes the GPU's time (no wait)", () => {
    const h = new HostClock(5_000);
    h.begin(0);
    h.issue(40);
    expect(h.sync(1_000_000)).toBe(0);
    expect(h.segStart).toBe(1_000_000);
  });
});

describe("framework host overhead in a run", () => {
  // NLLB encoder (24 layers, every 4th MoE: 18 dense + 6 MoE layers; 128 experts over 8 GPUs = 16 local), one step
  // of 16 sentences of 64 tokens.
  const run = async (preset: string, gating: string, hostOpNs?: number) => {
    const over = hostOpNs === undefined ? "" : `, overrides: { hostOpNs: ${hostOpNs} }`;
    const yaml =
      `name: t\nseed: 1\ncluster: { preset: ${preset}, nodes: 1${over} }\nmodel: { preset: nllb-moe-54b }\n` +
      `trace: { synthetic: { sequences: 16, tokens_per_sequence: 64 } }\n` +
      `workload: { phase: encode, batching: { kind: static, batch_size: 16 }, max_steps: 1 }\n` +
      `policies: { gating: { policy: ${gating} } }\n`;
    return runScenario(parseScenario(yaml, join(ROOT, "scenarios", "inline.yaml")));
  };
  const dense = 18 * (FAIRSEQ_OPS.selfAttention + FAIRSEQ_OPS.ffn);
  const moeAround = 6 * (FAIRSEQ_OPS.selfAttention + FAIRSEQ_OPS.moeLayer + 16 * FAIRSEQ_OPS.perLocalExpert);

  it("a host-bound step takes exactly its ops x hostOpNs (static: one segment; dynamic: one per sync)", async () => {
    const h = 10_000_000; // 10 ms per op: far above any GPU work of this step
    for (const gating of ["static", "dynamic"]) {
      const g = GATE_HOST_OPS[gating];
      // the encoder ends in its final layer norm, not the decoder's output head
      const ops = dense + moeAround + 6 * (g.beforeSync + g.afterSync) + FAIRSEQ_OPS.encoderOut;
      const r = await run("fairseq-v100", gating, h);
      const step = r.result.steps[0];
      expect(step.latency_ns, gating).toBe(ops * h);
      // the wait for the host is its own phase, and the phases still add up to the step
      expect(step.phases_ns.host, gating).toBeGreaterThan(0.9 * ops * h);
      expect(Object.values(step.phases_ns).reduce((a, b) => a + b, 0)).toBe(step.latency_ns);
    }
  });

  it("a GPU-bound step is what it is without host overhead", async () => {
    for (const gating of ["static", "dynamic"]) {
      const none = (await run("fairseq-v100", gating, 0)).result.steps[0];
      const tiny = (await run("fairseq-v100", gating, 1)).result.steps[0];
      expect(tiny.latency_ns, gating).toBe(none.latency_ns);
      expect(tiny.phases_ns, gating).toEqual(none.phases_ns);
      expect(none.phases_ns.host).toBe(0);
    }
  });

  it("is deterministic: the same scenario gives the same steps", async () => {
    const a = await run("fairseq-v100", "dynamic");
    const b = await run("fairseq-v100", "dynamic");
    expect(JSON.stringify(a.result.steps)).toBe(JSON.stringify(b.result.steps));
    expect(a.result.steps[0].phases_ns.host).toBeGreaterThan(0);
  });
});

describe("host overhead is the framework profile's property", () => {
  it("fairseq-v100 pays 5 us per op (pytorch/pytorch#41383); the modern presets none", () => {
    expect(getNodePreset("fairseq-v100").hostOpNs).toBe(5_000);
    for (const p of ["dgx1-v100", "paper-v100", "dgx-h100", "dgx-a100"])
      expect(getNodePreset(p).hostOpNs, p).toBeUndefined();
  });

  it("refuses a negative or non-numeric hostOpNs", () => {
    for (const v of [-1, "5us"]) {
      expect(() => clusterSpecFrom({ preset: "fairseq-v100", overrides: { hostOpNs: v } })).toThrow(UserError);
    }
  });
});
