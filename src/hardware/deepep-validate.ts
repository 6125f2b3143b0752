/**
 * Validation of the DeepEP dispatch/combine algorithms against DeepEP V1's published figures
 * (deepseek-ai/DeepEP docs/legacy.md; docs/hardware.md, "Dispatch and combine algorithms"),
 * each point simulated on the link model with the test setup of DeepEP's own tests
 * (tests/test_intranode.py, test_internode.py, test_low_latency.py). Backs `moesim validate deepep`.
 */
import { Simulation } from "../sim/engine.js";
import { Cluster, type NetworkModel } from "./cluster.js";
import { tokenRowBytes, type ExchangePrecision, type TokenRoutes } from "./collectives/index.js";
import { clusterSpecFrom } from "./presets.js";

export type DeepepKernel = "normal" | "low-latency";
export type DeepepOp = "dispatch" | "combine";

export interface DeepepRow {
  case: string;
  kernel: DeepepKernel;
  op: DeepepOp;
  ep: number;
  /** "GB/s" (normal kernels: DeepEP's bottleneck bandwidth) or "us" (low-latency kernels: latency). */
  unit: "GB/s" | "us";
  published: number;
  simulated: number;
  /** (simulated - published) / published */
  error: number;
  /** Whether one of the model's constants was fitted on this point (the others are out-of-sample). */
  fitted: boolean;
}

/** DeepEP V1 (docs/legacy.md), H800 + one CX7 400 Gb/s NIC per GPU, hidden 7168, top-8, FP8 dispatch, BF16 combine. */
export const DEEPEP_PUBLISHED: ReadonlyArray<{ kernel: DeepepKernel; op: DeepepOp; ep: number; value: number }> = [
  ...(
    [
      [8, 153, 158],
      [16, 43, 43],
      [32, 58, 57],
      [64, 51, 50],
    ] as const
  ).flatMap(([ep, d, c]) => [
    { kernel: "normal" as const, op: "dispatch" as const, ep, value: d },
    { kernel: "normal" as const, op: "combine" as const, ep, value: c },
  ]),
  ...(
    [
      [8, 77, 114],
      [16, 118, 195],
      [32, 155, 273],
      [64, 173, 314],
      [128, 192, 369],
      [256, 194, 360],
    ] as const
  ).flatMap(([ep, d, c]) => [
    { kernel: "low-latency" as const, op: "dispatch" as const, ep, value: d },
    { kernel: "low-latency" as const, op: "combine" as const, ep, value: c },
  ]),
];

/** The points the low-latency constants were fitted on (normal kernels: none fitted). */
export const DEEPEP_FITTED = new Set(["low-latency/dispatch/ep64"]);

const HIDDEN = 7168;
const EXPERTS = 256;
const TOP_K = 8;
/** DeepEP's published setting: FP8 dispatch (with its per-128-channel scales), BF16 combine (precision.ts). */
export const DEEPEP_PRECISION: Required<ExchangePrecision> = { dispatch: "fp8", combine: "bf16" };

/** mulberry32: a small seeded generator (the validation's own stream). */
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

/**
 * DeepEP's test routing: scores |N(0,1)| + 1 per expert, so the experts' order is a uniform random
 * permutation; with group limits (groups = nodes) the top `groups` groups by their best expert, then
 * the top-8 experts within them. Sampled exactly by drawing the permutation lazily: the first
 * `groups` distinct groups drawn are the chosen ones, and the first 8 experts drawn in them the picks.
 */
export function deepepRouting(ranks: number, tokensPerRank: number, groups: number | null, seed: number): TokenRoutes {
  const perRank = EXPERTS / ranks;
  const nodes = Math.max(1, ranks / 8);
  const perGroup = EXPERTS / nodes;
  const total = ranks * tokensPerRank;
  const src = new Int32Array(total);
  const start = new Int32Array(total + 1);
  const dst = new Int32Array(total * TOP_K);
  const perm = Int32Array.from({ length: EXPERTS }, (_, i) => i);
  const chosen = new Int32Array(nodes);
  const r = rng(seed);
  let q = 0;
  for (let t = 0; t < total; t++) {
    src[t] = Math.floor(t / tokensPerRank);
    start[t] = q;
    let nChosen = 0;
    let picked = 0;
    for (let i = 0; picked < TOP_K; i++) {
      const j = i + Math.floor(r() * (EXPERTS - i));
      const e = perm[j];
      perm[j] = perm[i];
      perm[i] = e;
      if (groups !== null) {
        const g = Math.floor(e / perGroup);
        let ok = false;
        for (let k = 0; k < nChosen; k++) if (chosen[k] === g) ok = true;
        if (!ok && nChosen < groups) {
          chosen[nChosen++] = g;
          ok = true;
        }
        if (!ok) continue;
      }
      dst[q++] = Math.floor(e / perRank);
      picked++;
    }
  }
  start[total] = q;
  return { src, start, dst, tokenBytes: 0, direction: "dispatch" };
}

/** Simulated time, ns, of one op of `algorithm` on `ranks` H800 GPUs (8 per node) with these routes. */
export function simulateDeepepNs(
  algorithm: string,
  ranks: number,
  routes: TokenRoutes,
  networkModel: NetworkModel = "analytic",
): number {
  const sim = new Simulation();
  const cluster = new Cluster(sim, clusterSpecFrom({ preset: "hgx-h800", nodes: Math.max(1, ranks / 8) }), {
    recordTimeline: false,
    networkModel,
  });
  const group = Array.from({ length: ranks }, (_, i) => i);
  let doneAt = -1;
  cluster.allToAll(group, new Float64Array(ranks * ranks), () => (doneAt = sim.now), { algorithm, routes });
  sim.run();
  if (doneAt < 0) throw new Error("deepep op never completed");
  return doneAt;
}

/**
 * DeepEP's bytes per rank for its bandwidth figures (mean over ranks): intranode, the tokens each
 * rank receives (once per rank, its own included); internode, the tokens each rank sends over
 * "RDMA", once per destination node, its own node included (test_internode.py counts them so).
 */
function deepepCountedTokens(routes: TokenRoutes, ranks: number): number {
  const nodes = Math.max(1, ranks / 8);
  const mark = new Int32Array(Math.max(ranks, nodes)).fill(-1);
  let count = 0;
  for (let t = 0; t < routes.src.length; t++) {
    for (let q = routes.start[t]; q < routes.start[t + 1]; q++) {
      const key = nodes === 1 ? routes.dst[q] : Math.floor(routes.dst[q] / 8);
      if (mark[key] !== t) {
        mark[key] = t;
        count++;
      }
    }
  }
  return count / ranks;
}

function point(kernel: DeepepKernel, op: DeepepOp, ep: number, net: NetworkModel, seed: number): number {
  // a row's bytes as a scenario's cluster.dispatch_precision gives them
  const bytes = tokenRowBytes(HIDDEN, DEEPEP_PRECISION[op]);
  if (kernel === "normal") {
    const groups = ep > 8 ? Math.min(ep / 8, 4) : null;
    const routes = deepepRouting(ep, 4096, groups, seed);
    const ns = simulateDeepepNs("deepep-normal", ep, { ...routes, tokenBytes: bytes, direction: op }, net);
    return (deepepCountedTokens(routes, ep) * bytes) / ns; // bytes per ns = GB/s
  }
  const routes = deepepRouting(ep, 128, null, seed);
  return simulateDeepepNs("deepep-low-latency", ep, { ...routes, tokenBytes: bytes, direction: op }, net) / 1000;
}

/** Every published point with moesim's figure (analytic network by default; seed of the routing). */
export function deepepValidation(
  opts: { networkModel?: NetworkModel; seed?: number; maxEp?: number } = {},
): DeepepRow[] {
  const net = opts.networkModel ?? "analytic";
  const rows: DeepepRow[] = [];
  for (const p of DEEPEP_PUBLISHED) {
    if (opts.maxEp !== undefined && p.ep > opts.maxEp) continue;
    const simulated = point(p.kernel, p.op, p.ep, net, opts.seed ?? 1);
    const c = `${p.kernel}/${p.op}/ep${p.ep}`;
    rows.push({
      case: c,
      kernel: p.kernel,
      op: p.op,
      ep: p.ep,
      unit: p.kernel === "normal" ? "GB/s" : "us",
      published: p.value,
      simulated,
      error: (simulated - p.value) / p.value,
      fitted: DEEPEP_FITTED.has(c),
    });
  }
  return rows;
}

/** A plain-text table of the rows. */
export function formatDeepepTable(rows: DeepepRow[]): string {
  const head = ["case", "unit", "published", "moesim", "error", "fitted"];
  const body = rows.map((r) => [
    r.case,
    r.unit,
    r.published.toFixed(0),
    r.simulated.toFixed(1),
    `${r.error >= 0 ? "+" : ""}${(r.error * 100).toFixed(1)}%`,
    r.fitted ? "fitted" : "",
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  return [head, ...body]
    .map((l) =>
      l
        .map((x, i) => x.padEnd(w[i]))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}
