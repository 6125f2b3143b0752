import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { Simulation } from "../../src/sim/engine.js";
import { Cluster } from "../../src/hardware/cluster.js";
import { clusterSpecFrom } from "../../src/hardware/presets.js";
import type { FabricSpec } from "../../src/hardware/devices.js";
import { parseScenario } from "../../src/scenario/load.js";
import { runScenario } from "../../src/scenario/run.js";
import { UserError } from "../../src/util/errors.js";

const ROOT = resolve(import.meta.dirname, "..", "..");

const cluster = (fabric: FabricSpec, nodes = 2) =>
  new Cluster(new Simulation(), clusterSpecFrom({ preset: "hgx-h800", nodes, fabric }), { recordTimeline: false });

// hgx-h800: 8 GPUs and 8 NICs per node, GPU g on NIC g (rail g); GPU 8 + g is GPU g of node 1.
describe("rail-optimized fabric: routes", () => {
  it("same rail: the rail's NICs only, in either cross-rail mode (no spine, no NVLink)", () => {
    for (const crossRail of ["spine", "pxn"] as const) {
      const c = cluster({ kind: "rail", crossRail });
      for (let g = 0; g < 8; g++) {
        const names = c.routeNames({ gpu: g }, { gpu: 8 + g });
        expect(names).toEqual([
          `node0/gpu${g}/pcie-up`,
          `node0/nic${g}-tx`,
          `node1/nic${g}-rx`,
          `node1/gpu${g}/pcie-down`,
        ]);
      }
    }
  });

  it("cross rail, spine: up the source rail's switch, through the spine, down the destination's rail", () => {
    const c = cluster({ kind: "rail", crossRail: "spine" });
    expect(c.routeNames({ gpu: 0 }, { gpu: 11 })).toEqual([
      "node0/gpu0/pcie-up",
      "node0/nic0-tx",
      "rail0/spine-up",
      "rail3/spine-down",
      "node1/nic3-rx",
      "node1/gpu3/pcie-down",
    ]);
    // the default cross-rail mode is the spine
    expect(cluster({ kind: "rail" }).routeNames({ gpu: 0 }, { gpu: 11 })).toContain("rail0/spine-up");
  });

  it("cross rail, pxn: NVLink to the source node's GPU on the destination's rail, then that rail only", () => {
    const c = cluster({ kind: "rail", crossRail: "pxn" });
    expect(c.routeNames({ gpu: 0 }, { gpu: 11 })).toEqual([
      "node0/gpu0/nvlink-up",
      "node0/gpu3/nvlink-down",
      "node0/gpu3/pcie-up",
      "node0/nic3-tx",
      "node1/nic3-rx",
      "node1/gpu3/pcie-down",
    ]);
    // no spine links exist at all: nothing can cross rails in the fabric
    expect(c.net.linkNames.some((n) => n.includes("spine"))).toBe(false);
  });

  it("a host reaches a remote GPU through the NIC on that GPU's rail; a fat tree keeps its node uplinks", () => {
    for (const crossRail of ["spine", "pxn"] as const) {
      const names = cluster({ kind: "rail", crossRail }).routeNames({ host: 0 }, { gpu: 13 });
      expect(names.filter((n) => n.includes("nic"))).toEqual(["node0/nic5-tx", "node1/nic5-rx"]);
      expect(names.some((n) => n.includes("spine") || n.includes("nvlink"))).toBe(false);
    }
    const fat = cluster({ kind: "fat-tree" }).routeNames({ gpu: 0 }, { gpu: 11 });
    expect(fat).toContain("node0/fabric-up");
    expect(fat).toContain("node1/fabric-down");
  });

  it("cross_rail is refused on a fat tree", () => {
    expect(() =>
      clusterSpecFrom({ preset: "hgx-h800", nodes: 2, fabric: { kind: "fat-tree", crossRail: "pxn" } }),
    ).toThrow(UserError);
    const text =
      `name: f\ncluster: { preset: hgx-h800, nodes: 2, fabric: { kind: fat-tree, cross_rail: pxn } }\n` +
      `model: { preset: olmoe-1b-7b }\n`;
    expect(() => parseScenario(text, join(ROOT, "scenarios", "inline.yaml"))).toThrow(/cross_rail applies to a rail/);
  });
});

/** Bytes per link kind after an all-to-all of `bytes` between every pair of GPUs on different nodes. */
function crossNodeAllToAll(fabric: FabricSpec, bytes: number) {
  const sim = new Simulation();
  const c = new Cluster(sim, clusterSpecFrom({ preset: "hgx-h800", nodes: 2, fabric }), {
    recordTimeline: false,
    networkModel: "analytic",
  });
  const n = c.gpuCount;
  const sizes = new Float64Array(n * n);
  for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) if (c.nodeOf(a) !== c.nodeOf(b)) sizes[a * n + b] = bytes;
  let doneAt = -1;
  c.allToAll(
    Array.from({ length: n }, (_, i) => i),
    sizes,
    () => (doneAt = sim.now),
  );
  sim.run();
  const byKind: Record<string, number> = {};
  for (const l of c.linkTraffic()) byKind[l.kind] = (byKind[l.kind] ?? 0) + l.bytes;
  return { byKind, doneAt };
}

describe("rail-optimized fabric: traffic on the links", () => {
  const B = 1 << 20;
  it("spine carries exactly the cross-rail bytes; pxn moves them over NVLink instead, the NICs carry the same", () => {
    const spine = crossNodeAllToAll({ kind: "rail", crossRail: "spine" }, B);
    const pxn = crossNodeAllToAll({ kind: "rail", crossRail: "pxn" }, B);
    // 16 GPUs, each sends B to each of the 8 GPUs of the other node; 7 of those 8 are on another rail
    const crossRail = 16 * 7 * B;
    expect(spine.byKind.fabric).toBe(2 * crossRail); // one spine link up, one down
    expect(spine.byKind.nvlink ?? 0).toBe(0);
    expect(pxn.byKind.fabric ?? 0).toBe(0);
    expect(pxn.byKind.nvlink).toBe(2 * crossRail); // NVLink up and down to the rail's GPU
    expect(pxn.byKind.nic).toBe(spine.byKind.nic);
    expect(pxn.byKind.nic).toBe(2 * 16 * 8 * B);
  });

  it("an oversubscribed spine slows cross-rail traffic; pxn avoids it", () => {
    const over = { oversubscription: 8 };
    const spine = crossNodeAllToAll({ kind: "rail", crossRail: "spine", ...over }, B).doneAt;
    const pxn = crossNodeAllToAll({ kind: "rail", crossRail: "pxn", ...over }, B).doneAt;
    const free = crossNodeAllToAll({ kind: "rail", crossRail: "spine" }, B).doneAt;
    expect(spine).toBeGreaterThan(2 * free);
    expect(pxn).toBeLessThan(spine);
  });

  it("runs from a scenario (cluster.fabric.cross_rail)", async () => {
    const at = join(ROOT, "scenarios", "inline.yaml");
    const text = (mode: string) =>
      `name: r\nseed: 7\ncluster: { preset: hgx-h800, nodes: 2, fabric: { kind: rail, cross_rail: ${mode} } }\n` +
      `model: { preset: olmoe-1b-7b }\n` +
      `trace: { synthetic: { fitted: olmoe-1b-7b, sequences: 16, tokens_per_sequence: 8 } }\n` +
      `workload: { phase: decode, batching: { kind: static, batch_size: 16 }, max_steps: 2 }\n`;
    const spine = await runScenario(parseScenario(text("spine"), at));
    const pxn = await runScenario(parseScenario(text("pxn"), at));
    expect(spine.summary.links_bytes.fabric).toBeGreaterThan(0);
    expect(pxn.summary.links_bytes.fabric ?? 0).toBe(0);
    expect(pxn.summary.links_bytes.nic).toBe(spine.summary.links_bytes.nic);
  });
});
