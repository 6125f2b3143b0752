import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Simulation } from "../../src/sim/engine.js";
import { Cluster } from "../../src/hardware/cluster.js";
import type { FlowNetwork } from "../../src/hardware/network/index.js";
import { clusterSpecFrom } from "../../src/hardware/presets.js";
import { MiB, type ClusterSpec } from "../../src/hardware/devices.js";

/** A small 2-node cluster of 4 GPUs each, so property tests stay fast. */
function small(nodes = 2, preset = "dgx-h100"): ClusterSpec {
  return clusterSpecFrom({ preset, nodes, overrides: { gpusPerNode: 4, nic: { perNode: 4 } } });
}

function sums(n: number, sizes: Float64Array): { row: number[]; col: number[]; total: number } {
  const row = new Array(n).fill(0);
  const col = new Array(n).fill(0);
  let total = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      row[i] += sizes[i * n + j];
      col[j] += sizes[i * n + j];
      total += sizes[i * n + j];
    }
  }
  return { row, col, total };
}

describe("cluster routes", () => {
  const c = new Cluster(new Simulation(), clusterSpecFrom({ preset: "dgx-h100", nodes: 2 }));
  it("NVLink inside a node, PCIe + NIC across nodes, PCIe switch for host copies", () => {
    expect(c.routeNames({ gpu: 0 }, { gpu: 3 })).toEqual(["node0/gpu0/nvlink-up", "node0/gpu3/nvlink-down"]);
    expect(c.routeNames({ gpu: 1 }, { gpu: 10 })).toEqual([
      "node0/gpu1/pcie-up",
      "node0/nic1-tx",
      "node1/nic2-rx",
      "node1/gpu2/pcie-down",
    ]);
    expect(c.routeNames({ host: 1 }, { gpu: 13 })).toEqual([
      "node1/host-memory",
      "node1/pcie-switch2-down",
      "node1/gpu5/pcie-down",
    ]);
    expect(c.routeNames({ gpu: 4 }, { gpu: 4 })).toEqual(["node0/gpu4/hbm"]);
  });
  it("p2p NVLink uses the pair's own link; no NVLink goes through PCIe switches", () => {
    const v = new Cluster(new Simulation(), clusterSpecFrom({ preset: "paper-v100", nodes: 1 }));
    expect(v.routeNames({ gpu: 2 }, { gpu: 5 })).toEqual(["node0/nvlink-2-5"]);
    const p = new Cluster(new Simulation(), clusterSpecFrom({ preset: "dgx-h100", overrides: { nvlink: null } }));
    expect(p.routeNames({ gpu: 0 }, { gpu: 3 })).toEqual([
      "node0/gpu0/pcie-up",
      "node0/pcie-switch0-up",
      "node0/pcie-switch1-down",
      "node0/gpu3/pcie-down",
    ]);
  });
  it("a fabric with oversubscription adds node uplinks to inter-node routes", () => {
    const f = new Cluster(
      new Simulation(),
      clusterSpecFrom({
        preset: "dgx-h100",
        nodes: 2,
        fabric: { kind: "fat-tree", oversubscription: 2, latencyNs: 500 },
      }),
    );
    expect(f.routeNames({ gpu: 0 }, { gpu: 8 })).toEqual([
      "node0/gpu0/pcie-up",
      "node0/nic0-tx",
      "node0/fabric-up",
      "node1/fabric-down",
      "node1/nic0-rx",
      "node1/gpu0/pcie-down",
    ]);
  });
});

describe("host <-> device copies", () => {
  const spec = clusterSpecFrom({ preset: "dgx-h100", nodes: 1 });
  const run = (copies: Array<[gpu: number, pinned: boolean]>, bytes = 64 * MiB): number[] => {
    const sim = new Simulation();
    const c = new Cluster(sim, spec);
    const t: number[] = [];
    copies.forEach(([g, pinned], i) => c.hostToDevice(g, bytes, () => (t[i] = sim.now), { pinned }));
    sim.run();
    return t;
  };
  it("a lone pinned copy runs at the PCIe rate; pageable at the pageable rate", () => {
    const [pinned] = run([[0, true]]);
    expect(pinned).toBe(1000 + Math.ceil(((64 * MiB) / 53e9) * 1e9));
    const [pageable] = run([[0, false]]);
    expect(pageable).toBe(1000 + Math.ceil(((64 * MiB) / 20e9) * 1e9));
  });
  it("two GPUs behind one PCIe switch share its uplink; GPUs on different switches do not", () => {
    const [alone] = run([[0, true]]);
    const shared = run([
      [0, true],
      [1, true],
    ]);
    const apart = run([
      [0, true],
      [2, true],
    ]);
    expect(apart).toEqual([alone, alone]);
    for (const t of shared) expect(t - 1000).toBeCloseTo(2 * (alone - 1000), -1);
  });
});

describe("collectives", () => {
  it("equal all-to-all on 2 DGX H100 nodes matches the closed form (per-class bottleneck share)", () => {
    const spec = clusterSpecFrom({ preset: "dgx-h100", nodes: 2 });
    const sim = new Simulation();
    const c = new Cluster(sim, spec);
    const n = 16;
    const B = 4 * MiB;
    let t = -1;
    c.allToAll(
      Array.from({ length: n }, (_, i) => i),
      new Float64Array(n * n).fill(B),
      () => (t = sim.now),
    );
    sim.run();
    const node = spec.node;
    // intra-node: 7 flows per NVLink port; inter-node: 8 flows per GPU PCIe port and per NIC.
    const nv = (node.nvlink!.bandwidthBytesPerS * node.nvlink!.efficiency!) / 7;
    const inter = Math.min(node.pcie.d2hBytesPerS, node.pcie.h2dPinnedBytesPerS, node.nic.bandwidthBytesPerS) / 8;
    const intraNs = node.nvlink!.latencyNs + Math.ceil((B / nv) * 1e9);
    const interNs = 2 * node.pcie.latencyNs + node.nic.latencyNs + Math.ceil((B / inter) * 1e9);
    expect(Math.abs(t - (node.collectiveOverheadNs! + Math.max(intraNs, interNs)))).toBeLessThanOrEqual(1);
  });

  it("hierarchical all-to-all forwards remote chunks over NVLink first, then sends same-rank over NICs", () => {
    const spec = small();
    const n = 8;
    const sizes = new Float64Array(n * n).fill(MiB);
    const bytesOn = (hier: boolean): number => {
      const sim = new Simulation();
      const c = new Cluster(sim, spec);
      c.allToAll(
        Array.from({ length: n }, (_, i) => i),
        sizes,
        () => {},
        { hierarchical: hier },
      );
      sim.run();
      return c
        .linkTraffic()
        .filter((l) => l.link.endsWith("nvlink-up"))
        .reduce((a, l) => a + l.bytes, 0);
    };
    // flat: 8 GPUs x 3 local peers x 1 MiB through their NVLink ports; hierarchical: each of those
    // messages also carries the 1 MiB for the remote GPU at the peer's position
    expect(bytesOn(false)).toBe(8 * 3 * MiB);
    expect(bytesOn(true)).toBe(8 * 3 * MiB + 8 * 3 * MiB);
  });

  const matrix = (n: number) =>
    fc
      .array(fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 1 << 22 })), { minLength: n * n, maxLength: n * n })
      .map((a) => Float64Array.from(a));

  it("property: bytes sent = bytes received in flat and hierarchical all-to-all over random size matrices", () => {
    const spec = small();
    const n = 8;
    fc.assert(
      fc.property(
        matrix(n),
        fc.boolean(),
        fc.shuffledSubarray([0, 1, 2, 3, 4, 5, 6, 7], { minLength: 8, maxLength: 8 }),
        (sizes, hier, order) => {
          const sim = new Simulation();
          const c = new Cluster(sim, spec);
          let done = false;
          c.allToAll(order, sizes, () => (done = true), { hierarchical: hier });
          sim.run();
          expect(done).toBe(true);
          const { row, col, total } = sums(n, sizes);
          const net = c.net as FlowNetwork;
          // every byte reaches its final destination exactly once
          for (let j = 0; j < n; j++) expect(net.deliveredBytes[order[j]]).toBe(col[j]);
          // network-level: what left equals what arrived, GPU by GPU summed
          const sent = Array.from(net.sentBytes).reduce((a, b) => a + b, 0);
          const recv = Array.from(net.receivedBytes).reduce((a, b) => a + b, 0);
          expect(sent).toBe(recv);
          if (!hier) {
            expect(sent).toBe(total);
            for (let i = 0; i < n; i++) expect(net.sentBytes[order[i]]).toBe(row[i]);
          } else {
            expect(sent).toBeGreaterThanOrEqual(total);
          }
          expect(net.activeFlows).toBe(0);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("property: all-gather and ring all-reduce deliver (n-1) x bytes and 2 (n-1)/n x bytes to every rank", () => {
    const spec = small();
    fc.assert(
      fc.property(
        fc.shuffledSubarray([0, 1, 2, 3, 4, 5, 6, 7], { minLength: 2, maxLength: 8 }),
        fc.integer({ min: 1, max: 1 << 24 }),
        fc.boolean(),
        (group, bytes, gather) => {
          const sim = new Simulation();
          const c = new Cluster(sim, spec);
          let done = -1;
          if (gather) c.allGather(group, bytes, () => (done = sim.now));
          else c.allReduce(group, bytes, () => (done = sim.now));
          sim.run();
          expect(done).toBeGreaterThan(0);
          const n = group.length;
          const each = gather ? (n - 1) * bytes : 2 * (n - 1) * (bytes / n);
          for (const g of group) {
            expect(c.net.deliveredBytes[g]).toBeCloseTo(each, 3);
            expect(c.net.sentBytes[g]).toBeCloseTo(each, 3);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it("rejects malformed collectives with a clear error", () => {
    const c = new Cluster(new Simulation(), small());
    expect(() => c.allToAll([0, 1], new Float64Array(3), () => {})).toThrow(/expected 2 x 2/);
    expect(() => c.allToAll([0, 0], new Float64Array(4), () => {})).toThrow(/appears twice/);
    expect(() => c.allGather([0, 99], 1, () => {})).toThrow(/out of range/);
  });
});

describe("memory pools on the cluster", () => {
  it("each GPU has a pool of the GPU's HBM capacity, on the simulation clock", () => {
    const sim = new Simulation();
    const c = new Cluster(sim, clusterSpecFrom({ preset: "dgx-h100", nodes: 2 }));
    expect(c.gpuCount).toBe(16);
    expect(c.nodeOf(9)).toBe(1);
    expect(c.memory(9).capacityBytes).toBe(80 * 1024 ** 3);
    sim.schedule(500, () => c.memory(9).allocate("weights", 1e9));
    sim.run();
    expect(c.memory(9).timeline()).toEqual([{ timeNs: 500, category: "weights", bytes: 1e9 }]);
  });
});
