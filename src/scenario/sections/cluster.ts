/** The cluster section: the node preset with its overrides, the GPUs used, and the cost model. */
import type { ClusterSpec } from "../../hardware/devices.js";
import { clusterSpecFrom, getNodePreset } from "../../hardware/presets.js";
import { CalibratedCostModel, RooflineCostModel, type CostModel } from "../../hardware/cost.js";
import { UserError } from "../../util/errors.js";
import type { LoadedScenario } from "../load.js";
import { LIMITS } from "../limits.js";
import { at, scenarioPath } from "./where.js";

export interface ResolvedCluster {
  clusterSpec: ClusterSpec;
  /** GPUs used (the first N of the cluster). */
  gpus: number;
  cost: CostModel;
}

const isMapping = (x: unknown): x is Record<string, unknown> =>
  x !== null && typeof x === "object" && !Array.isArray(x);

/**
 * The shape of cluster.overrides against the preset: where the preset has a mapping (gpu, pcie,
 * nic, ...) the override must be a mapping too (nvlink may also be null: no NVLink), and a leaf
 * keeps the preset's type. Numbers are range-checked by the hardware module afterwards.
 */
function checkClusterOverrides(
  loaded: LoadedScenario,
  base: unknown,
  over: Record<string, unknown>,
  path: string[],
): void {
  if (!isMapping(base)) return;
  for (const [k, v] of Object.entries(over)) {
    if (!(k in base)) continue; // the hardware module names the unknown key and the valid ones
    const b = base[k];
    const p = [...path, k];
    const fail = (what: string): never => {
      throw new UserError(`${p.join(".")}: ${what}`, loaded.locate(p));
    };
    if (isMapping(b)) {
      if (v === null && k === "nvlink") continue;
      if (!isMapping(v))
        fail(`expected a mapping (the preset's ${k} fields: ${Object.keys(b).join(", ")}), got ${JSON.stringify(v)}`);
      checkClusterOverrides(loaded, b, v as Record<string, unknown>, p);
    } else if (b === null) {
      if (v !== null && !isMapping(v)) fail(`expected a mapping or null, got ${JSON.stringify(v)}`);
    } else if (typeof b !== typeof v) {
      fail(`expected a ${typeof b}, got ${JSON.stringify(v)}`);
    }
  }
}

/**
 * The cluster: the preset (overrides checked against it), the number of GPUs, and the cost model (calibrated with a
 * profile).
 */
export async function resolveCluster(loaded: LoadedScenario): Promise<ResolvedCluster> {
  const sc = loaded.scenario;
  if (sc.cluster.overrides) {
    const preset = at(loaded, ["cluster", "preset"], () => getNodePreset(sc.cluster.preset));
    checkClusterOverrides(loaded, preset, sc.cluster.overrides, ["cluster", "overrides"]);
  }
  const clusterSpec = at(loaded, ["cluster"], () =>
    clusterSpecFrom({
      preset: sc.cluster.preset,
      nodes: sc.cluster.nodes,
      overrides: sc.cluster.overrides,
      fabric: sc.cluster.fabric
        ? {
            kind: sc.cluster.fabric.kind,
            latencyNs: sc.cluster.fabric.latency_ns,
            oversubscription: sc.cluster.fabric.oversubscription,
            crossRail: sc.cluster.fabric.cross_rail,
          }
        : undefined,
    }),
  );
  const totalGpus = clusterSpec.node.gpusPerNode * clusterSpec.nodes;
  if (totalGpus > LIMITS.gpus) {
    throw new UserError(
      `cluster: ${sc.cluster.nodes} nodes x ${clusterSpec.node.gpusPerNode} GPUs ` +
        `= ${totalGpus} GPUs; at most ${LIMITS.gpus} are supported`,
      loaded.locate(["cluster"]),
    );
  }
  const gpus = sc.cluster.gpus ?? totalGpus;
  if (gpus > totalGpus) {
    throw new UserError(
      `cluster.gpus: ${gpus} GPUs asked, but ${sc.cluster.nodes} x ${clusterSpec.node.name} has ${totalGpus}`,
      loaded.locate(["cluster", "gpus"]),
    );
  }
  const roofline = new RooflineCostModel(clusterSpec.node.gpu, {
    computeEfficiency: sc.cluster.efficiency?.compute,
    memoryEfficiency: sc.cluster.efficiency?.memory,
  });
  let cost: CostModel = roofline;
  if (sc.cluster.profile) {
    const p = scenarioPath(loaded, sc.cluster.profile);
    // (loaded on demand: the profile schema brings zod, which a run without a profile never needs)
    const { loadProfile } = await import("../../hardware/profile-schema.js");
    const profile = at(loaded, ["cluster", "profile"], () => loadProfile(p));
    cost = new CalibratedCostModel(profile, roofline);
  }
  return { clusterSpec, gpus, cost };
}
