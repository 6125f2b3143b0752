import { describe, expect, it } from "vitest";
import { Cluster, type NetworkModel } from "../../src/hardware/cluster.js";
import { allToAllAlgorithm, type TokenRoutes } from "../../src/hardware/collectives/index.js";
import { deepepRouting, simulateDeepepNs } from "../../src/hardware/deepep-validate.js";
import { clusterSpecFrom } from "../../src/hardware/presets.js";
import { Simulation } from "../../src/sim/engine.js";

/** A seeded generator for the property test (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random tokens on random GPUs, each routed to topK experts on random GPUs (repeats of a GPU or node allowed). */
function randomRoutes(r: () => number, gpus: number, tokens: number, topK: number, bytes: number): TokenRoutes {
  const src = new Int32Array(tokens);
  const start = new Int32Array(tokens + 1);
  const dst = new Int32Array(tokens * topK);
  const experts = 4 * gpus;
  const expertGpu = Int32Array.from({ length: experts }, () => Math.floor(r() * gpus));
  for (let t = 0; t < tokens; t++) {
    src[t] = Math.floor(r() * gpus);
    start[t] = t * topK;
    for (let k = 0; k < topK; k++) dst[t * topK + k] = expertGpu[Math.floor(r() * experts)];
  }
  start[tokens] = tokens * topK;
  return { src, start, dst, tokenBytes: bytes, direction: "dispatch" };
}

/** The per-pick size matrix of these routes (what a gating plan's sendBytes holds: no dedup). */
function pickSizes(routes: TokenRoutes, n: number): Float64Array {
  const m = new Float64Array(n * n);
  for (let t = 0; t < routes.src.length; t++) {
    for (let q = routes.start[t]; q < routes.start[t + 1]; q++)
      m[routes.src[t] * n + routes.dst[q]] += routes.tokenBytes;
  }
  return m;
}

/** Bytes through the NICs (transmit side) when `algorithm` runs these routes; and whether it completed. */
function nicBytes(
  nodes: number,
  algorithm: string,
  routes: TokenRoutes,
  net: NetworkModel = "flow",
): { bytes: number; done: boolean } {
  const sim = new Simulation();
  const cluster = new Cluster(sim, clusterSpecFrom({ preset: "hgx-h800", nodes }), {
    recordTimeline: false,
    networkModel: net,
  });
  const n = cluster.gpuCount;
  const group = Array.from({ length: n }, (_, i) => i);
  let done = false;
  cluster.allToAll(group, pickSizes(routes, n), () => (done = true), { algorithm, routes });
  sim.run();
  const bytes = cluster
    .linkTraffic()
    .filter((l) => l.kind === "nic" && l.link.endsWith("-tx"))
    .reduce((s, l) => s + l.bytes, 0);
  return { bytes, done };
}

/** Per-node deduplicated RDMA bytes: each token once per destination node other than its own. */
function dedupBytes(routes: TokenRoutes, gpusPerNode: number): number {
  let total = 0;
  for (let t = 0; t < routes.src.length; t++) {
    const nodes = new Set<number>();
    for (let q = routes.start[t]; q < routes.start[t + 1]; q++) nodes.add(Math.floor(routes.dst[q] / gpusPerNode));
    nodes.delete(Math.floor(routes.src[t] / gpusPerNode));
    total += nodes.size * routes.tokenBytes;
  }
  return total;
}

describe("dispatch/combine algorithms by name", () => {
  it("registers nccl, hierarchical, deepep-normal and deepep-low-latency", () => {
    for (const name of ["nccl", "hierarchical", "deepep-normal", "deepep-low-latency"]) {
      expect(allToAllAlgorithm(name).name).toBe(name);
    }
  });
});

describe("deepep-normal on the link model", () => {
  it("never moves more RDMA bytes than nccl, and exactly the per-node-deduplicated amount (seeded random routings)", () => {
    const r = rng(19);
    for (let trial = 0; trial < 12; trial++) {
      const nodes = 2 + (trial % 3);
      const topK = 1 + Math.floor(r() * 8);
      const routes = randomRoutes(r, nodes * 8, 20 + Math.floor(r() * 200), topK, 7392);
      const expected = dedupBytes(routes, 8);
      const nccl = nicBytes(nodes, "nccl", routes);
      for (const direction of ["dispatch", "combine"] as const) {
        const deepep = nicBytes(nodes, "deepep-normal", { ...routes, direction });
        expect(deepep.done).toBe(true);
        expect(deepep.bytes, `trial ${trial} ${direction}`).toBeCloseTo(expected, 3);
        expect(deepep.bytes).toBeLessThanOrEqual(nccl.bytes + 1e-6);
      }
      // a token with two or more experts on one remote node is where dedup saves bytes
      if (topK >= 4) expect(expected).toBeLessThan(nccl.bytes);
    }
  });

  it("deepep-low-latency sends every (token, expert) over RDMA, no dedup: the same NIC bytes as nccl", () => {
    const r = rng(7);
    const routes = randomRoutes(r, 16, 300, 8, 7408);
    const ll = nicBytes(2, "deepep-low-latency", routes);
    const nccl = nicBytes(2, "nccl", routes);
    expect(ll.done).toBe(true);
    expect(ll.bytes).toBeCloseTo(nccl.bytes, 3);
    expect(ll.bytes).toBeGreaterThan(dedupBytes(routes, 8));
  });

  it("the flow and analytic networks agree within 2% (EP16, DeepEP's test routing)", () => {
    const routes = deepepRouting(16, 4096, 2, 3);
    for (const [algo, bytes] of [
      ["deepep-normal", 7392],
      ["deepep-low-latency", 7408],
    ] as const) {
      const rr = algo === "deepep-normal" ? routes : deepepRouting(16, 128, null, 3);
      const flow = simulateDeepepNs(algo, 16, { ...rr, tokenBytes: bytes }, "flow");
      const analytic = simulateDeepepNs(algo, 16, { ...rr, tokenBytes: bytes }, "analytic");
      expect(Math.abs(analytic - flow) / flow, algo).toBeLessThanOrEqual(0.02);
    }
  });

  it("group-limited test routing never sends a token to more nodes than its group limit", () => {
    const routes = deepepRouting(64, 256, 4, 5);
    for (let t = 0; t < routes.src.length; t++) {
      const nodes = new Set<number>();
      for (let q = routes.start[t]; q < routes.start[t + 1]; q++) nodes.add(Math.floor(routes.dst[q] / 8));
      expect(nodes.size).toBeLessThanOrEqual(4);
      expect(routes.start[t + 1] - routes.start[t]).toBe(8);
    }
  });
});
