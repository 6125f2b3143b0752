import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { eplb } from "../../src/policies/placement/eplb.js";
import { expertLoad } from "../../src/policies/access.js";
import { groupsPerToken, nodesPerToken } from "../../src/workload/stats.js";
import { synthesize, zipfSynthParams } from "../../src/workload/synth.js";
import { getModelPreset } from "../../src/workload/model.js";
import { UserError } from "../../src/util/errors.js";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeBinaryTrace } from "../../src/workload/read.js";
import { parseScenario } from "../../src/scenario/load.js";
import { resolveScenario } from "../../src/scenario/resolve.js";

describe("group-limited routing in the synthetic generator", () => {
  it("property: no token's top-k spans more groups than its limit, and picks stay distinct", () => {
    const arb = fc.record({
      groups: fc.constantFrom(2, 4, 8),
      groupSize: fc.integer({ min: 2, max: 8 }),
      topK: fc.integer({ min: 1, max: 8 }),
      topFrac: fc.double({ min: 0, max: 1, noNaN: true }),
      zipf: fc.double({ min: 0, max: 1.5, noNaN: true }),
      seed: fc.integer({ min: 0, max: 1000 }),
    });
    fc.assert(
      fc.property(arb, (c) => {
        const experts = c.groups * c.groupSize;
        const topK = Math.min(c.topK, experts);
        const least = Math.ceil(topK / c.groupSize);
        const topGroups = least + Math.floor(c.topFrac * (c.groups - least));
        const params = zipfSynthParams({ layers: 3, experts, topK, zipf: c.zipf, locality: 0.3, seed: c.seed });
        const t = synthesize(params, {
          sequences: 6,
          tokensPerSequence: 5,
          seed: c.seed,
          groupLimit: { groups: c.groups, topGroups },
        });
        const span = groupsPerToken(t, c.groups, topGroups);
        expect(span.max).toBeLessThanOrEqual(topGroups);
        expect(span.over_limit).toBe(0);
        for (let i = 0; i < t.tokens * t.layers; i++) {
          const row = [...t.picks.subarray(i * topK, (i + 1) * topK)];
          expect(new Set(row).size).toBe(topK);
        }
      }),
      { numRuns: 150, seed: 19 },
    );
  });

  it("DeepSeek-V3's 8 groups / top-4 with EPLB keeping groups on nodes: no token reaches more than 4 nodes", () => {
    const ds = getModelPreset("deepseek-v3");
    expect(ds.routingGroups).toEqual({ groups: 8, topGroups: 4 });
    const params = zipfSynthParams({ layers: 2, experts: 256, topK: 8, zipf: 1.0, seed: 1 });
    const free = synthesize(params, { sequences: 32, tokensPerSequence: 8, seed: 2 });
    const limited = synthesize(params, { sequences: 32, tokensPerSequence: 8, seed: 2, groupLimit: ds.routingGroups });
    const before = groupsPerToken(free, 8);
    const after = groupsPerToken(limited, 8, 4);
    console.log(
      `groups per token (8 groups): unrestricted max ${before.max} mean ${before.mean.toFixed(2)}; ` +
        `top-4 groups max ${after.max} mean ${after.mean.toFixed(2)}`,
    );
    expect(before.max).toBeGreaterThan(4); // the limit does something
    expect(after.max).toBeLessThanOrEqual(4);
    // 8 nodes of 8 GPUs, one group per node (EPLB's hierarchical policy): nodes per token <= 4.
    const place = eplb.place({ experts: 256, gpus: 64, load: expertLoad(limited, 0), groups: 8, nodes: 8 });
    const nodes = nodesPerToken({ ...limited, layers: 1, picks: firstLayer(limited) }, place.expertGpu, 8, 4);
    expect(nodes.max).toBeLessThanOrEqual(4);
    expect(nodes.over_limit).toBe(0);
  });

  it("without the option the trace is unchanged; an impossible limit is a user error", () => {
    const params = zipfSynthParams({ layers: 2, experts: 16, topK: 4, zipf: 1, seed: 1 });
    const a = synthesize(params, { sequences: 4, tokensPerSequence: 4, seed: 9 });
    const b = synthesize(params, { sequences: 4, tokensPerSequence: 4, seed: 9 });
    expect([...a.picks]).toEqual([...b.picks]);
    const bad = () =>
      synthesize(params, { sequences: 1, tokensPerSequence: 1, seed: 1, groupLimit: { groups: 8, topGroups: 1 } });
    expect(bad).toThrow(UserError);
    expect(bad).toThrow(/cannot hold the top-4; use at least 2 top groups/);
    expect(() => groupsPerToken(a, 5)).toThrow(/dividing the 16 experts/);
  });
});

/** The picks of layer 0 only (a one-layer view of the trace). */
function firstLayer(t: { tokens: number; layers: number; topK: number; picks: Uint16Array }): Uint16Array {
  const out = new Uint16Array(t.tokens * t.topK);
  for (let i = 0; i < t.tokens; i++)
    out.set(t.picks.subarray(i * t.layers * t.topK, i * t.layers * t.topK + t.topK), i * t.topK);
  return out;
}

describe("trace.group_limit in a scenario", () => {
  const yaml = (trace: string): string =>
    `name: t\nseed: 7\ncluster: { preset: dgx-h100, nodes: 1 }\nmodel: { preset: olmoe-1b-7b }\n${trace}\n` +
    `workload: { phase: decode, batching: { kind: static, batch_size: 8 } }\n`;

  it("a synthetic trace is generated within the limit; a trace file beyond it is refused with its place", async () => {
    const dir = mkdtempSync(join(tmpdir(), "moesim-groups-"));
    const at = join(dir, "s.yaml");
    const syn = await resolveScenario(
      parseScenario(
        yaml(
          "trace: { synthetic: { sequences: 8, tokens_per_sequence: 4 }, group_limit: { groups: 8, top_groups: 2 } }",
        ),
        at,
      ),
    );
    expect(groupsPerToken(syn.trace, 8).max).toBeLessThanOrEqual(2);
    writeBinaryTrace(join(dir, "t.mtrace"), syn.trace);
    const ok = yaml("trace: { file: t.mtrace, group_limit: { groups: 8, top_groups: 2 } }");
    await expect(resolveScenario(parseScenario(ok, at))).resolves.toBeTruthy();
    const strict = yaml("trace: { file: t.mtrace, group_limit: { groups: 8, top_groups: 1 } }");
    await expect(resolveScenario(parseScenario(strict, at))).rejects.toThrow(
      /trace\.group_limit: \d+ \(token, layer\) pairs of the trace span more than 1 of 8 expert groups \(at most 2\)/,
    );
  });
});
