import { describe, expect, it } from "vitest";
import {
  allToAllAlgorithm,
  flatAllToAll,
  hierarchicalAllToAll,
  registerAllToAll,
} from "../../src/hardware/collectives/index.js";
import { Cluster } from "../../src/hardware/cluster.js";
import { clusterSpecFrom } from "../../src/hardware/presets.js";
import { Simulation } from "../../src/sim/engine.js";

describe("all-to-all algorithms by name", () => {
  it("finds flat and hierarchical, refuses unknown names and a second registration", () => {
    expect(allToAllAlgorithm("flat")).toBe(flatAllToAll);
    expect(allToAllAlgorithm("hierarchical")).toBe(hierarchicalAllToAll);
    expect(() => allToAllAlgorithm("deepep")).toThrow(
      /unknown all-to-all algorithm "deepep"; known: flat, hierarchical/,
    );
    expect(() => registerAllToAll(flatAllToAll)).toThrow(/already registered/);
  });

  it("hierarchical applies only to groups with the same member count on more than one node", () => {
    const cluster = new Cluster(new Simulation(), clusterSpecFrom({ preset: "dgx-h100", nodes: 2 }), {
      recordTimeline: false,
    });
    expect(hierarchicalAllToAll.applies(cluster, [0, 1, 8, 9])).toBe(true);
    expect(hierarchicalAllToAll.applies(cluster, [0, 1, 2, 3])).toBe(false);
    expect(hierarchicalAllToAll.applies(cluster, [0, 1, 8])).toBe(false);
  });
});
