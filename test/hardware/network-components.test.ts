import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Simulation } from "../../src/sim/engine.js";
import { FlowNetwork } from "../../src/hardware/network/index.js";
import { Cluster } from "../../src/hardware/cluster.js";
import { clusterSpecFrom } from "../../src/hardware/presets.js";
import { rootStream } from "../../src/sim/rng.js";
import { FlowNetwork as ReferenceNetwork } from "./reference-network.js";

type Net = FlowNetwork | ReferenceNetwork;

interface FlowCase {
  route: number[];
  bytes: number;
  at: number;
  cap: number | null;
}

/** Runs the flows on a network of the given links; returns each flow's delivery time and per-link bytes and busy time. */
function runOn(make: (sim: Simulation) => Net, caps: Array<[number, number]>, flows: FlowCase[]) {
  const sim = new Simulation();
  const n = make(sim);
  const ids = caps.map(([bw, lat], i) => n.addLink(`l${i}`, "nic", bw * 1e9, lat));
  const done = new Array<number>(flows.length).fill(-1);
  const order: number[] = [];
  flows.forEach((f, i) => {
    sim.schedule(f.at, () => {
      const r = [...new Set(f.route.map((x) => ids[x % ids.length]))];
      const onDone = (): void => {
        done[i] = sim.now;
        order.push(i);
      };
      n.startFlow(r, r.length, f.bytes, n.group(1, onDone), 0, 1, f.bytes, f.cap === null ? Infinity : f.cap * 1e9);
    });
  });
  sim.run();
  return { done, order, links: n.linkStats(), events: sim.eventCount };
}

const flowArb = fc.record({
  route: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
  bytes: fc.oneof(fc.integer({ min: 1, max: 1e7 }), fc.constantFrom(1000, 4096, 65536)),
  at: fc.oneof(fc.constant(0), fc.nat(20_000)),
  cap: fc.option(fc.integer({ min: 1, max: 50 }), { freq: 4 }),
});

describe("flow network: component-local recomputation equals the global solver", () => {
  it("property: random links and flows (shared, disjoint, late starts, rate caps) end at the same ns, in the same order", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 1, max: 100 }), fc.constantFrom(0, 100, 1000)), {
          minLength: 1,
          maxLength: 10,
        }),
        fc.array(flowArb, { minLength: 1, maxLength: 40 }),
        (caps, flows) => {
          const a = runOn((sim) => new FlowNetwork(sim, 2), caps, flows);
          const b = runOn((sim) => new ReferenceNetwork(sim, 2), caps, flows);
          expect(a.done).toEqual(b.done);
          expect(a.order).toEqual(b.order);
          expect(a.links).toEqual(b.links);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("variable-size all-to-alls on DGX H100 and paper V100 clusters (1-2 nodes) end at the same ns", () => {
    const rng = rootStream(7).child("network-components");
    for (const [preset, nodes] of [
      ["paper-v100", 1],
      ["paper-v100", 2],
      ["dgx-h100", 1],
      ["dgx-h100", 2],
    ] as const) {
      const times: number[][] = [];
      for (const Impl of [FlowNetwork, ReferenceNetwork]) {
        const sim = new Simulation();
        const cluster = new Cluster(sim, clusterSpecFrom({ preset, nodes }), { recordTimeline: false });
        // Swap in the implementation under test: the cluster builds its links on `net`.
        const n = cluster.gpuCount;
        const sizes = new Float64Array(n * n);
        const r = rng.child(`${preset}-${nodes}`);
        for (let i = 0; i < sizes.length; i++)
          sizes[i] = r.next() < 0.2 ? 0 : Math.floor(r.next() * 4) * 2048 + Math.floor(r.next() * 1e5);
        const t: number[] = [];
        if (Impl === ReferenceNetwork) replaceNet(cluster, sim);
        cluster.allToAll(
          Array.from({ length: n }, (_, i) => i),
          sizes,
          () => t.push(sim.now),
        );
        // a host copy in the middle shares PCIe with the cross-node flows
        sim.schedule(3000, () => cluster.hostToDevice(0, 1 << 20, () => t.push(sim.now)));
        sim.run();
        t.push(cluster.net.flowsDone);
        times.push(t);
      }
      expect(times[0]).toEqual(times[1]);
    }
  });
});

/** Rebuilds the cluster's links on a reference network (same link ids, same order). */
function replaceNet(cluster: Cluster, sim: Simulation): void {
  const old = cluster.net;
  const ref = new ReferenceNetwork(sim, old.sentBytes.length);
  for (let l = 0; l < old.linkCount; l++)
    ref.addLink(old.linkNames[l], old.linkKinds[l], old.linkBandwidthBytesPerS(l), old.linkLatencyNs(l));
  (cluster as unknown as { net: Net }).net = ref;
}
