import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { parseScenario } from "../../src/scenario/load.js";
import { runScenario } from "../../src/scenario/run.js";
import { Cluster, type NetworkModel } from "../../src/hardware/cluster.js";
import {
  allToAllAlgorithm,
  DEEPEP_LL_DISPATCH_HEADER_BYTES,
  type TokenRoutes,
} from "../../src/hardware/collectives/index.js";
import { deepepRouting, simulateDeepepNs } from "../../src/hardware/deepep-validate.js";
import { clusterSpecFrom } from "../../src/hardware/presets.js";
import { Simulation } from "../../src/sim/engine.js";
import { rootStream } from "../../src/sim/rng.js";

const ROOT = resolve(import.meta.dirname, "..", "..");

/** The property test's draws, from the project's seeded streams. */
function rng(seed: number): () => number {
  const s = rootStream(seed).child("deepep-test");
  return () => s.next();
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

  it("deepep-low-latency sends every (token, expert) over RDMA, no dedup: nccl's NIC bytes, each with its header", () => {
    const r = rng(7);
    const routes = randomRoutes(r, 16, 300, 8, 7392);
    const ll = nicBytes(2, "deepep-low-latency", routes);
    const nccl = nicBytes(2, "nccl", routes);
    expect(ll.done).toBe(true);
    expect(ll.bytes).toBeCloseTo((nccl.bytes * (7392 + DEEPEP_LL_DISPATCH_HEADER_BYTES)) / 7392, 3);
    expect(ll.bytes).toBeGreaterThan(dedupBytes(routes, 8));
  });

  it("the flow and analytic networks agree within 2% (EP16, DeepEP's test routing)", () => {
    const routes = deepepRouting(16, 4096, 2, 3);
    for (const [algo, bytes] of [
      ["deepep-normal", 7392],
      ["deepep-low-latency", 7392],
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

describe("cluster.dispatch in a scenario", () => {
  const yaml = (dispatch: string): string =>
    `name: t\nseed: 7\ncluster: { preset: hgx-h800, nodes: 2, dispatch: ${dispatch} }\nmodel: { preset: olmoe-1b-7b }\n` +
    `trace: { synthetic: { fitted: olmoe-1b-7b, sequences: 32, tokens_per_sequence: 3 } }\n` +
    `workload: { phase: decode, batching: { kind: static, batch_size: 32 } }\n`;
  const at = join(ROOT, "scenarios", "inline.yaml");

  it("picks the algorithm by name: the same tokens, different link traffic and all-to-all time", async () => {
    const runs = new Map<string, Awaited<ReturnType<typeof runScenario>>>();
    for (const d of ["nccl", "deepep-normal", "deepep-low-latency"])
      runs.set(d, await runScenario(parseScenario(yaml(d), at)));
    const nccl = runs.get("nccl")!;
    const normal = runs.get("deepep-normal")!;
    const ll = runs.get("deepep-low-latency")!;
    expect(normal.summary.tokens).toBe(nccl.summary.tokens);
    const nvlink = (r: typeof nccl): number =>
      r.result.links.filter((l) => l.kind === "nvlink").reduce((s, l) => s + l.bytes, 0);
    const nic = (r: typeof nccl): number =>
      r.result.links.filter((l) => l.kind === "nic" && l.link.endsWith("-tx")).reduce((x, l) => x + l.bytes, 0);
    // the gate's per-token routes reach the exchange: a token crosses to a node once, not once per expert there
    expect(nic(normal)).toBeGreaterThan(0);
    expect(nic(normal)).toBeLessThan(0.8 * nic(nccl));
    // low latency: every pick over RDMA as nccl, its dispatch messages each 16 header bytes more (4096-byte rows)
    expect(nic(ll)).toBeGreaterThan(nic(nccl));
    expect(nic(ll)).toBeLessThanOrEqual((nic(nccl) * (4096 + DEEPEP_LL_DISPATCH_HEADER_BYTES)) / 4096);
    // deepep-normal forwards cross-node tokens over NVLink on the receiving node; nccl sends them NIC to NIC
    expect(nvlink(normal)).toBeGreaterThan(nvlink(nccl));
    const a2a = (r: typeof nccl): number => r.result.steps.reduce((x, st) => x + st.phases_ns.all_to_all, 0);
    expect(a2a(ll)).not.toBe(a2a(nccl));
    expect(a2a(normal)).not.toBe(a2a(nccl));
  });

  it("an unknown name is a user error listing the valid ones", () => {
    expect(() => parseScenario(yaml("deepep"), at)).toThrow(/nccl.*hierarchical.*deepep-normal.*deepep-low-latency/);
  });
});
