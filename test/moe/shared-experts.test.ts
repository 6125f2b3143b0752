import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { parseScenario } from "../../src/scenario/load.js";
import { resolveScenario } from "../../src/scenario/resolve.js";
import { simulateMoe, type MoeSimConfig } from "../../src/moe/simulate.js";
import type { TimelineInterval } from "../../src/moe/types.js";

// Shared experts in the step without overlap: they compute on each GPU while the layer's dispatch is
// on the wire (SGLang's op_dispatch_a / op_shared_experts / op_dispatch_b: docs/deployments.md), and
// a GPU's routed experts start once its tokens have arrived and its shared experts are done.
const ROOT = resolve(import.meta.dirname, "..", "..");

async function config(nodes: number): Promise<MoeSimConfig> {
  const yaml =
    `name: t\nseed: 7\ncluster: { preset: dgx-h100, nodes: ${nodes} }\nmodel: { preset: olmoe-1b-7b }\n` +
    `trace: { synthetic: { fitted: olmoe-1b-7b, sequences: 64, tokens_per_sequence: 4 } }\n` +
    `workload: { phase: decode, batching: { kind: static, batch_size: 64 }, max_steps: 3 }\n`;
  return (await resolveScenario(parseScenario(yaml, join(ROOT, "scenarios", "inline.yaml")))).config;
}

/** The run with one shared expert of `width` x the routed experts' hidden size per MoE layer. */
function withShared(cfg: MoeSimConfig, width: number): MoeSimConfig {
  return { ...cfg, model: { ...cfg.model, sharedExperts: 1, sharedDFf: width * cfg.model.dFf } };
}

const key = (iv: TimelineInterval): string => `${iv.step}/${iv.layer}/${iv.gpu}`;

describe("shared experts (no overlap)", () => {
  it("compute alongside the dispatch; each GPU's routed experts start when both its dispatch and shared experts are done", async () => {
    const r = simulateMoe(withShared(await config(2), 1));
    const tl = r.window.timeline;
    const of = (what: string): Map<string, TimelineInterval> =>
      new Map(tl.filter((iv) => iv.what === what).map((iv) => [key(iv), iv]));
    const shared = of("shared experts");
    const experts = of("experts");
    // the exchange: the plan's phases before the combine (dynamic gating's counts, then the dispatch)
    const dispatch = new Map<string, { start_ns: number; end_ns: number }>();
    for (const iv of tl) {
      if (iv.stream !== "comm" || iv.what === "combine") continue;
      const d = dispatch.get(key(iv));
      if (d) d.end_ns = Math.max(d.end_ns, iv.end_ns);
      else dispatch.set(key(iv), { start_ns: iv.start_ns, end_ns: iv.end_ns });
    }
    expect(shared.size).toBe(3 * 16 * 16); // 3 steps x 16 MoE layers x 16 GPUs
    let hidden = 0;
    for (const [k, s] of shared) {
      const d = dispatch.get(k)!;
      const e = experts.get(k)!;
      expect(s.start_ns, k).toBe(d.start_ns);
      expect(e.start_ns, k).toBe(Math.max(s.end_ns, d.end_ns));
      if (s.end_ns <= d.end_ns) hidden++;
    }
    expect(hidden).toBeGreaterThan(0); // on 2 nodes the dispatch outlasts a shared expert of this size
  });

  it("cost step time only as far as the dispatch does not hide them; phases still add up", async () => {
    const cfg = await config(2);
    const none = simulateMoe(cfg);
    for (const width of [1, 64]) {
      const r = simulateMoe(withShared(cfg, width));
      // per step, the most the shared experts can add: each MoE layer's slowest GPU's shared time
      const most = new Map<number, number>();
      const perLayer = new Map<string, number>();
      for (const iv of r.window.timeline) {
        if (iv.what !== "shared experts") continue;
        const k = `${iv.step}/${iv.layer}`;
        perLayer.set(k, Math.max(perLayer.get(k) ?? 0, iv.end_ns - iv.start_ns));
      }
      for (const [k, ns] of perLayer) {
        const step = Number(k.split("/")[0]);
        most.set(step, (most.get(step) ?? 0) + ns);
      }
      for (const st of r.steps) {
        const added = st.latency_ns - none.steps[st.step].latency_ns;
        expect(added, `width ${width}, step ${st.step}`).toBeGreaterThanOrEqual(0);
        expect(added, `width ${width}, step ${st.step}`).toBeLessThanOrEqual(most.get(st.step)!);
        if (width === 64) expect(added).toBeGreaterThan(0); // too big to hide: on the critical path
        const sum = Object.values(st.phases_ns).reduce((a, b) => a + b, 0);
        expect(Math.abs(sum - st.latency_ns)).toBeLessThan(1e-6 * st.latency_ns);
      }
    }
  });
});
