import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { Simulation } from "../../src/sim/engine.js";
import { Resource } from "../../src/sim/resource.js";
import { rootStream } from "../../src/sim/rng.js";
import { runMicroBatch, type Stage, type Streams } from "../../src/moe/overlap.js";
import { parseScenario } from "../../src/scenario/load.js";
import { runScenario } from "../../src/scenario/run.js";
import { UserError } from "../../src/util/errors.js";
import type { TimelineInterval } from "../../src/moe/types.js";

const ROOT = resolve(import.meta.dirname, "..", "..");

/** A micro-batch as a list: compute stages (per-GPU ns) and collectives of a fixed duration. */
type Spec = ({ compute: number[] } | { comm: number })[];

/** Runs the micro-batches on the overlap streams; returns when the last one ends. */
function pipelined(D: number, mbs: Spec[]): number {
  const sim = new Simulation();
  const streams: Streams = {
    sim,
    computeFree: new Float64Array(D),
    comm: new Resource(sim, 1, "comm"),
    record: null,
    afterComm: null,
  };
  mbs.forEach((spec, mb) => {
    const stages: Stage[] = spec.map((st) =>
      "compute" in st
        ? { kind: "compute", layer: 0, what: "c", ns: Float64Array.from(st.compute) }
        : { kind: "comm", layer: 0, what: "a2a", start: () => sim.timeout(st.comm) },
    );
    sim.process(runMicroBatch(streams, mb, stages));
  });
  sim.run();
  return sim.now;
}

/** Without overlap: every stage after the previous one, a compute stage as long as its slowest GPU. */
function serial(mbs: Spec[]): number {
  let t = 0;
  for (const spec of mbs) for (const st of spec) t += "compute" in st ? Math.max(...st.compute) : st.comm;
  return t;
}

function randomSpecs(seed: number, zeroComm: boolean, balanced: boolean): { D: number; mbs: Spec[] } {
  const r = rootStream(seed);
  const D = 1 + r.int(8);
  const M = 2 + r.int(2);
  const layers = 1 + r.int(4);
  const mbs: Spec[] = [];
  for (let mb = 0; mb < M; mb++) {
    const spec: Spec = [];
    for (let l = 0; l < layers; l++) {
      for (const part of ["attention", "experts"]) {
        const base = 1 + r.int(1000);
        spec.push({ compute: Array.from({ length: D }, () => (balanced ? base : 1 + r.int(1000))) });
        if (part === "attention" || r.uniform() < 0.5) spec.push({ comm: zeroComm ? 0 : r.int(2000) });
      }
    }
    mbs.push(spec);
  }
  return { D, mbs };
}

describe("micro-batch overlap: the streams", () => {
  it("two micro-batches of one layer, every part 10 ns: 50 ns, not the 80 of running them one after another", () => {
    const mb: Spec = [{ compute: [10, 10] }, { comm: 10 }, { compute: [10, 10] }, { comm: 10 }];
    expect(serial([mb, mb])).toBe(80);
    expect(pipelined(2, [mb, mb])).toBe(50);
  });

  it("property (200 seeded configs): max(busiest GPU's compute, all communication) <= step <= no overlap", () => {
    let strictlyFaster = 0;
    for (let seed = 1; seed <= 200; seed++) {
      const { D, mbs } = randomSpecs(seed, false, seed % 2 === 0);
      const t = pipelined(D, mbs);
      let comm = 0;
      const compute = new Float64Array(D);
      for (const spec of mbs) {
        for (const st of spec) {
          if ("comm" in st) comm += st.comm;
          else st.compute.forEach((ns, g) => (compute[g] += ns));
        }
      }
      const lower = Math.max(comm, ...compute);
      expect(t, `seed ${seed}`).toBeGreaterThanOrEqual(lower);
      expect(t, `seed ${seed}`).toBeLessThanOrEqual(serial(mbs));
      if (t < serial(mbs)) strictlyFaster++;
    }
    expect(strictlyFaster).toBeGreaterThan(150); // the overlap does hide communication
  });

  it("property: with no communication time and balanced GPUs, exactly the time without overlap", () => {
    for (let seed = 1; seed <= 100; seed++) {
      const { D, mbs } = randomSpecs(seed, true, true);
      expect(pipelined(D, mbs), `seed ${seed}`).toBe(serial(mbs));
    }
  });
});

function yaml(overlap: string, extra = ""): string {
  return (
    `name: t\nseed: 7\ncluster: { preset: dgx-h100, nodes: 2 }\nmodel: { preset: olmoe-1b-7b }\n` +
    `trace: { synthetic: { fitted: olmoe-1b-7b, sequences: 16, tokens_per_sequence: 64 } }\n` +
    `workload: { phase: prefill, batching: { kind: static, batch_size: 4 }, max_steps: 4${overlap ? `, overlap: ${overlap}` : ""} }\n${extra}`
  );
}
const AT = join(ROOT, "scenarios", "inline.yaml");

function disjoint(xs: TimelineInterval[]): boolean {
  const s = [...xs].sort((a, b) => a.start_ns - b.start_ns);
  for (let i = 1; i < s.length; i++) if (s[i].start_ns < s[i - 1].end_ns) return false;
  return true;
}

describe("workload.overlap in a scenario", () => {
  it("two-batch prefill on 16 GPUs: phases add up to each step, streams never double-booked, compute overlaps comm", async () => {
    const none = await runScenario(parseScenario(yaml(""), AT));
    const tbo = await runScenario(parseScenario(yaml("two-batch"), AT));
    expect(tbo.summary.tokens).toBe(none.summary.tokens);
    const o = tbo.result.window;
    expect(o.window_steps).toBeGreaterThan(0);
    for (const st of tbo.result.steps) {
      const sum = Object.values(st.phases_ns).reduce((a, b) => a + b, 0);
      expect(Math.abs(sum - st.latency_ns)).toBeLessThan(1e-6 * st.latency_ns);
    }
    let overlapped = 0;
    for (let g = 0; g < 16; g++) {
      const mine = o.timeline.filter((iv) => iv.gpu === g);
      const compute = mine.filter((iv) => iv.stream === "compute");
      const comm = mine.filter((iv) => iv.stream === "comm");
      expect(compute.length).toBeGreaterThan(0);
      expect(disjoint(compute)).toBe(true);
      expect(disjoint(comm)).toBe(true);
      for (const a of compute) for (const b of comm) if (a.start_ns < b.end_ns && b.start_ns < a.end_ns) overlapped++;
    }
    expect(overlapped).toBeGreaterThan(0);
    // the run without overlap records its window too, and there (no shared experts) a GPU never
    // computes while its collectives are on the wire
    const n = none.result.window;
    expect(n.window_gpus).toBe(16);
    for (let g = 0; g < 16; g++) {
      const mine = n.timeline.filter((iv) => iv.gpu === g);
      const compute = mine.filter((iv) => iv.stream === "compute");
      const comm = mine.filter((iv) => iv.stream === "comm");
      expect(compute.length).toBeGreaterThan(0);
      expect(comm.length).toBeGreaterThan(0);
      expect(disjoint(mine)).toBe(true);
    }
    // only the window's steps are recorded (the run has more)
    expect(tbo.result.steps.length).toBeGreaterThan(o.window_steps);
    expect(Math.max(...o.timeline.map((iv) => iv.step))).toBe(o.window_steps - 1);
    expect(o.dispatch!.bytes.length).toBe(16 * 16);
    expect(o.dispatch!.bytes.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect(o.link_samples.length).toBeGreaterThan(0);
  });

  it("runs its dispatch and combine with the scenario's algorithm (cluster.dispatch), as the step without overlap does", async () => {
    const nicBytes = async (overlap: string, dispatch: string): Promise<number> => {
      const y = yaml(overlap).replace("nodes: 2 }", `nodes: 2, dispatch: ${dispatch} }`);
      const r = await runScenario(parseScenario(y, AT));
      return r.result.links.filter((l) => l.kind === "nic").reduce((a, l) => a + l.bytes, 0);
    };
    const nccl = await nicBytes("two-batch", "nccl");
    const deepep = await nicBytes("two-batch", "deepep-normal");
    // deepep-normal sends a token over RDMA once per destination node, however many of its experts live there
    expect(nccl).toBeGreaterThan(0);
    expect(deepep).toBeGreaterThan(0);
    expect(deepep).toBeLessThan(nccl);
  });

  it("is refused with tensor parallelism, as a user error at its key", () => {
    expect(() => parseScenario(yaml("two-batch", "parallelism: { tensor: 2 }\n"), AT)).not.toThrow();
    return runScenario(parseScenario(yaml("two-batch", "parallelism: { tensor: 2 }\n"), AT)).then(
      () => expect.unreachable(),
      (e: unknown) => {
        expect(e).toBeInstanceOf(UserError);
        expect(String((e as Error).message)).toMatch(/workload\.overlap: 'two-batch' needs parallelism\.tensor 1/);
      },
    );
  });
});
