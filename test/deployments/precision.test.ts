import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { Simulation } from "../../src/sim/engine.js";
import { Cluster } from "../../src/hardware/cluster.js";
import { clusterSpecFrom } from "../../src/hardware/presets.js";
import {
  DEEPEP_LL_DISPATCH_HEADER_BYTES,
  DISPATCH_ALGORITHMS,
  exchangeRowBytes,
  tokenRowBytes,
  type TokenRoutes,
  type WirePrecision,
} from "../../src/hardware/collectives/index.js";
import { DEEPEP_PRECISION, deepepRouting } from "../../src/hardware/deepep-validate.js";
import { parseScenario } from "../../src/scenario/load.js";
import { runScenario } from "../../src/scenario/run.js";

const ROOT = resolve(import.meta.dirname, "..", "..");
const H = 7168;

describe("token rows on the wire (cluster.dispatch_precision)", () => {
  it("FP8 rows carry one float32 scale per 128 channels, as DeepEP's (7168 -> 7392 bytes)", () => {
    expect(tokenRowBytes(H, "fp8")).toBe(7168 + 56 * 4);
    expect(tokenRowBytes(H, "fp8")).toBe(7392);
    expect(tokenRowBytes(H, "bf16")).toBe(14336);
    expect(tokenRowBytes(H, "fp16")).toBe(14336);
    expect(tokenRowBytes(H, "fp32")).toBe(28672);
    expect(tokenRowBytes(200, "fp8")).toBe(200 + 2 * 4); // a partial group of channels has its own scale
    // a side without a precision: the model's dtype, no scales (moesim's rows before the option)
    expect(exchangeRowBytes(H, undefined, 1)).toEqual({ dispatch: H, combine: H });
    expect(exchangeRowBytes(H, { dispatch: "fp8" }, 2)).toEqual({ dispatch: 7392, combine: 14336 });
    expect(DEEPEP_PRECISION).toEqual({ dispatch: "fp8", combine: "bf16" });
  });
});

/** Bytes on every link (by kind) after one dispatch or combine of `routes` in rows of precision p. */
function linkBytes(algorithm: string, routes: TokenRoutes, p: WirePrecision, direction: "dispatch" | "combine") {
  const sim = new Simulation();
  const cluster = new Cluster(sim, clusterSpecFrom({ preset: "hgx-h800", nodes: 2 }), {
    recordTimeline: false,
    networkModel: "analytic",
  });
  const n = cluster.gpuCount;
  const row = tokenRowBytes(H, p);
  // the size matrix (what the algorithms without per-token routes read): one row per (token, expert)
  const sizes = new Float64Array(n * n);
  for (let t = 0; t < routes.src.length; t++) {
    for (let q = routes.start[t]; q < routes.start[t + 1]; q++) {
      const [a, b] = direction === "dispatch" ? [routes.src[t], routes.dst[q]] : [routes.dst[q], routes.src[t]];
      sizes[a * n + b] += row;
    }
  }
  const group = Array.from({ length: n }, (_, i) => i);
  cluster.allToAll(group, sizes, () => undefined, { algorithm, routes: { ...routes, tokenBytes: row, direction } });
  sim.run();
  const byKind: Record<string, number> = {};
  for (const l of cluster.linkTraffic()) byKind[l.kind] = (byKind[l.kind] ?? 0) + l.bytes;
  return byKind;
}

describe("every dispatch algorithm moves bytes in proportion to the row's precision", () => {
  const routes = deepepRouting(16, 64, 2, 3);
  for (const algorithm of DISPATCH_ALGORITHMS) {
    for (const direction of ["dispatch", "combine"] as const) {
      it(`${algorithm} ${direction}: fp8 / bf16 bytes on every link kind = the rows' ratio`, () => {
        const fp8 = linkBytes(algorithm, routes, "fp8", direction);
        const bf16 = linkBytes(algorithm, routes, "bf16", direction);
        // DeepEP's low-latency dispatch sends a 16-byte header with each row; its combine does not
        const header =
          algorithm === "deepep-low-latency" && direction === "dispatch" ? DEEPEP_LL_DISPATCH_HEADER_BYTES : 0;
        const ratio = (7392 + header) / (14336 + header);
        expect(Object.keys(fp8).sort()).toEqual(Object.keys(bf16).sort());
        expect(bf16.nic).toBeGreaterThan(0);
        expect(bf16.nvlink).toBeGreaterThan(0);
        for (const k of Object.keys(bf16)) {
          if (bf16[k] === 0) expect(fp8[k], k).toBe(0);
          else expect(fp8[k] / bf16[k], k).toBeCloseTo(ratio, 12);
        }
      });
    }
  }

  it("deepep-low-latency: RDMA bytes = (token, expert) pairs across nodes x (row + header)", () => {
    let remote = 0;
    for (let t = 0; t < routes.src.length; t++)
      for (let q = routes.start[t]; q < routes.start[t + 1]; q++)
        if (Math.floor(routes.dst[q] / 8) !== Math.floor(routes.src[t] / 8)) remote++;
    expect(remote).toBeGreaterThan(0);
    // each message crosses one NIC out and one NIC in
    expect(linkBytes("deepep-low-latency", routes, "fp8", "dispatch").nic).toBe(2 * remote * (7392 + 16));
    expect(linkBytes("deepep-low-latency", routes, "bf16", "combine").nic).toBe(2 * remote * 14336);
  });
});

function scenario(precision: string): string {
  return (
    `name: p\nseed: 7\ncluster: { preset: hgx-h800, nodes: 2, dispatch: deepep-normal${precision} }\n` +
    `model: { preset: olmoe-1b-7b }\n` +
    `trace: { synthetic: { fitted: olmoe-1b-7b, sequences: 16, tokens_per_sequence: 32 } }\n` +
    `workload: { phase: prefill, batching: { kind: static, batch_size: 4 }, max_steps: 2 }\n`
  );
}
const AT = join(ROOT, "scenarios", "inline.yaml");
const nicBytes = async (precision: string): Promise<number> => {
  const r = await runScenario(parseScenario(scenario(precision), AT));
  return r.summary.links_bytes.nic;
};

describe("cluster.dispatch_precision in a scenario", () => {
  it("left out, the rows are the model's dtype (bf16 for OLMoE): the same run as bf16/bf16", async () => {
    const none = await runScenario(parseScenario(scenario(""), AT));
    const bf16 = await runScenario(
      parseScenario(scenario(", dispatch_precision: { dispatch: bf16, combine: bf16 }"), AT),
    );
    expect(bf16.summary).toEqual(none.summary);
  });

  it("the dispatch's and the combine's RDMA bytes shrink separately, each by the rows' ratio", async () => {
    const bb = await nicBytes(", dispatch_precision: { dispatch: bf16, combine: bf16 }");
    const fb = await nicBytes(", dispatch_precision: { dispatch: fp8, combine: bf16 }");
    const bf = await nicBytes(", dispatch_precision: { dispatch: bf16, combine: fp8 }");
    const ff = await nicBytes(", dispatch_precision: { dispatch: fp8, combine: fp8 }");
    // OLMoE: hidden 2048, bf16 rows 4096 bytes, fp8 rows 2048 + 16 x 4 = 2112
    const saved = 1 - 2112 / 4096;
    expect(fb).toBeLessThan(bb);
    // the combine is the dispatch's transpose: the same rows cross the NICs either way
    expect(bb - fb).toBeCloseTo(bb - bf, 3);
    expect(bb - ff).toBeCloseTo(2 * (bb - fb), 3);
    // the saving is the rows' ratio of the dispatch's own bytes (half of bb, less the counts exchange)
    expect((bb - fb) / saved).toBeLessThanOrEqual(bb / 2 + 1e-6);
    expect((bb - fb) / saved).toBeGreaterThan(0.9 * (bb / 2));
  });
});
