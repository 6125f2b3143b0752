import { describe, expect, it } from "vitest";
import { Simulation } from "../../src/sim/engine.js";
import { Cluster } from "../../src/hardware/cluster.js";
import { clusterSpecFrom, DGX1_V100_NVLINKS, getNodePreset } from "../../src/hardware/presets.js";
import { MiB } from "../../src/hardware/devices.js";
import { meshLinksError, nvlinkPairBandwidth, nvlinkRelays } from "../../src/hardware/nvlink-mesh.js";
import { UserError } from "../../src/util/errors.js";

const G = 1e9;

describe("DGX-1 V100 hybrid cube-mesh", () => {
  const node = getNodePreset("dgx1-v100");
  const nv = node.nvlink!;

  it("has 6 links per GPU, 16 linked pairs of which 8 doubled, and is a valid mesh", () => {
    for (const row of DGX1_V100_NVLINKS) expect(row.reduce((a, b) => a + b, 0)).toBe(6);
    const pairs = DGX1_V100_NVLINKS.flatMap((row, a) => row.filter((_, b) => b > a));
    expect(pairs.filter((n) => n > 0)).toHaveLength(16);
    expect(pairs.filter((n) => n === 2)).toHaveLength(8);
    expect(meshLinksError(nv.links, 8)).toBeNull();
    expect(
      meshLinksError(
        [
          [0, 1],
          [2, 0],
        ],
        2,
      ),
    ).toMatch(/symmetric/);
    expect(() => clusterSpecFrom({ preset: "dgx1-v100", overrides: { nvlink: { links: [[0]] } } })).toThrow(
      /node.nvlink.links must be a 8 x 8/,
    );
  });

  it("refuses, as a user error, a mesh with a pair that has no link and no common neighbour (no relay)", () => {
    // four linked pairs (0-1, 2-3, 4-5, 6-7): GPUs 0 and 2 cannot reach each other over NVLink
    const pairs = Array.from({ length: 8 }, (_, a) =>
      Array.from({ length: 8 }, (_, b) => (a !== b && a >> 1 === b >> 1 ? 1 : 0)),
    );
    expect(meshLinksError(pairs, 8)).toMatch(/^\[0\]\[2\]: GPUs 0 and 2 share no link and no neighbour/);
    expect(() => clusterSpecFrom({ preset: "dgx1-v100", overrides: { nvlink: { links: pairs } } })).toThrow(UserError);
    // a ring of 4 relays every opposite pair through a neighbour
    const ring = [
      [0, 1, 0, 1],
      [1, 0, 1, 0],
      [0, 1, 0, 1],
      [1, 0, 1, 0],
    ];
    expect(meshLinksError(ring, 4)).toBeNull();
  });

  it("per-pair bandwidth: links x 25 GB/s, 0 without a direct link", () => {
    const bw = nvlinkPairBandwidth(nv, 8);
    expect(bw[0 * 8 + 3]).toBe(50 * G); // GPU0-GPU3: two links
    expect(bw[0 * 8 + 4]).toBe(50 * G); // GPU0-GPU4: two links
    expect(bw[0 * 8 + 1]).toBe(25 * G); // GPU0-GPU1: one link
    expect(bw[0 * 8 + 6]).toBe(0); // GPU0-GPU6: none
  });

  it("relays a pair without a link through the common neighbour with the widest two hops (lowest on a tie)", () => {
    const relay = nvlinkRelays(nv, 8);
    // 0->5: via 1 (25, 50) or 4 (50, 25): both 25 GB/s, lowest index 1
    expect(relay[0 * 8 + 5]).toBe(1);
    // 0->6: via 2 (25, 25) or 4 (50, 25): tie at 25, GPU 2
    expect(relay[0 * 8 + 6]).toBe(2);
    // 0->7: via 3 (50, 25) or 4 (50, 50): GPU 4 at 50 GB/s
    expect(relay[0 * 8 + 7]).toBe(4);
    expect(relay[0 * 8 + 3]).toBe(-1);
    const c = new Cluster(new Simulation(), clusterSpecFrom({ preset: "dgx1-v100" }));
    expect(c.routeNames({ gpu: 0 }, { gpu: 7 })).toEqual(["node0/nvlink-0-4", "node0/nvlink-4-7"]);
    expect(c.routeNames({ gpu: 0 }, { gpu: 3 })).toEqual(["node0/nvlink-0-3"]);
  });

  it("a lone relayed copy 0->7 runs at 50 GB/s after two hops' latency", () => {
    const sim = new Simulation();
    const c = new Cluster(sim, clusterSpecFrom({ preset: "dgx1-v100" }));
    const B = 64 * MiB;
    let t = -1;
    c.transfer({ gpu: 0 }, { gpu: 7 }, B, () => (t = sim.now));
    sim.run();
    expect(Math.abs(t - (2 * nv.latencyNs + Math.ceil((B / (50 * G)) * 1e9)))).toBeLessThanOrEqual(1);
  });

  it("equal all-to-all of 8 GPUs: the busiest single links carry 3 flows, so it takes 3B / 25 GB/s", () => {
    // Hand count of flows per directed link (routes above): 0->1 carries 0->1, 0->5 (via 1) and 4->1 (via 0), and
    // nine more single links carry 3 flows likewise; no link carries more than 3 flows per 25 GB/s of capacity.
    // Every flow on a busiest link gets 25/3 GB/s; the last ones relayed there pay two hops' latency.
    const spec = clusterSpecFrom({ preset: "dgx1-v100" });
    const sim = new Simulation();
    const c = new Cluster(sim, spec);
    const B = 8 * MiB;
    let t = -1;
    c.allToAll(
      Array.from({ length: 8 }, (_, i) => i),
      new Float64Array(64).fill(B),
      () => (t = sim.now),
    );
    sim.run();
    const expected = spec.node.collectiveOverheadNs! + 2 * nv.latencyNs + Math.ceil(((3 * B) / (25 * G)) * 1e9);
    expect(Math.abs(t - expected)).toBeLessThanOrEqual(2);
    // the full-mesh model of the same node (paper-v100: 150 GB/s split evenly over 7 peers) takes 7B / 150 GB/s
    const simP = new Simulation();
    const p = new Cluster(simP, clusterSpecFrom({ preset: "paper-v100" }));
    let tp = -1;
    p.allToAll(
      Array.from({ length: 8 }, (_, i) => i),
      new Float64Array(64).fill(B),
      () => (tp = simP.now),
    );
    simP.run();
    const meshNs = spec.node.collectiveOverheadNs! + nv.latencyNs + Math.ceil(((7 * B) / (150 * G)) * 1e9);
    expect(Math.abs(tp - meshNs)).toBeLessThanOrEqual(2);
  });
});
