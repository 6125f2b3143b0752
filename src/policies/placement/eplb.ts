import { UserError } from "../../util/errors.js";
import { loadOf } from "./common.js";
import type { Placement, PlacementPolicy } from "./types.js";

/**
 * DeepSeek's expert-parallelism load balancer (EPLB; deepseek-ai/EPLB, described in the DeepSeek-V3 report,
 * arXiv 2412.19437 section 3.4): `redundantExperts` extra copies go, one at a time, to the expert whose load per
 * copy is highest; copies are then packed onto GPUs, each GPU taking exactly (experts + redundant) / GPUs of them,
 * heaviest copy first onto the least loaded GPU with room. When the expert groups of group-limited routing divide
 * evenly among the nodes, the hierarchical policy first packs whole groups onto nodes (so a token's group-limited
 * picks stay on few nodes), then replicates and packs within each node; otherwise the global policy treats the
 * cluster as one node of one group. Ties go to the lowest index, so the result is deterministic.
 *
 * Without `redundantExperts`, the copies fill the slots each GPU has anyway: (experts + redundant) / gpus =
 * ceil(experts / gpus); with `replicateHot` = n, at least n copies, rounded up to whole GPUs. A token routed to an
 * expert with several copies is split evenly over them (copies on one GPU count separately,
 * as EPLB's physical experts do).
 */
export const eplb: PlacementPolicy = {
  name: "eplb",
  description:
    "DeepSeek EPLB: redundant copies of the busiest experts, packed onto GPUs by load (hierarchical by node)",
  place(input) {
    const load = loadOf(input);
    const { experts, gpus } = input;
    // By default the copies fill the slots every GPU has anyway (ceil(experts / gpus) each), or at least the
    // hot-expert copies asked for, rounded up to fill whole GPUs.
    const atLeast = experts + (input.replicateHot ?? 0);
    const redundant = input.redundantExperts ?? Math.ceil(atLeast / gpus) * gpus - experts;
    const physical = experts + redundant;
    if (!Number.isInteger(redundant) || redundant < 0) {
      throw new UserError(`eplb placement: redundant experts must be a whole number >= 0, got ${redundant}`);
    }
    if (physical % gpus !== 0) {
      const lower = Math.floor(physical / gpus) * gpus - experts;
      const options = [lower, lower + gpus].filter((r) => r >= 0).join(" or ");
      throw new UserError(
        `eplb placement: ${experts} experts + ${redundant} redundant must split evenly over ${gpus} GPUs; ` +
          `use ${options} redundant experts`,
      );
    }
    const nodes = input.nodes ?? 1;
    const groups = input.groups ?? 1;
    const hierarchical =
      groups > 1 &&
      nodes > 1 &&
      groups % nodes === 0 &&
      experts % groups === 0 &&
      gpus % nodes === 0 &&
      physical % nodes === 0;
    const copies = hierarchical
      ? placeHierarchical(load, physical, groups, nodes, gpus)
      : placeHierarchical(load, physical, 1, 1, gpus);
    return toPlacement(copies, experts);
  },
};

/** Physical copies: the logical expert of each, and the GPU it sits on. */
interface Copies {
  expert: Int32Array;
  gpu: Int32Array;
}

/**
 * Packs `weight.length` items into `packs` packs of exactly weight.length / packs items each, heaviest first onto
 * the lightest pack with room. Returns the pack of each item.
 */
export function balancedPacking(weight: ArrayLike<number>, packs: number): Int32Array {
  const n = weight.length;
  const perPack = n / packs;
  const pack = new Int32Array(n);
  if (perPack === 1) {
    for (let i = 0; i < n; i++) pack[i] = i;
    return pack;
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => weight[b] - weight[a] || a - b);
  const packWeight = new Float64Array(packs);
  const packItems = new Int32Array(packs);
  for (const item of order) {
    let best = -1;
    for (let p = 0; p < packs; p++) {
      if (packItems[p] >= perPack) continue;
      if (best < 0 || packWeight[p] < packWeight[best]) best = p;
    }
    pack[item] = best;
    packWeight[best] += weight[item];
    packItems[best]++;
  }
  return pack;
}

/**
 * Replicates `weight.length` experts into `physical` copies: each extra copy goes to the expert with the highest
 * load per copy. Returns the expert of each copy (the first weight.length are the experts themselves) and the
 * number of copies of each expert.
 */
export function replicateExperts(
  weight: ArrayLike<number>,
  physical: number,
): { expertOf: Int32Array; count: Int32Array } {
  const n = weight.length;
  const expertOf = new Int32Array(physical);
  const count = new Int32Array(n).fill(1);
  for (let i = 0; i < n; i++) expertOf[i] = i;
  for (let i = n; i < physical; i++) {
    let best = 0;
    for (let e = 1; e < n; e++) if (weight[e] / count[e] > weight[best] / count[best]) best = e;
    expertOf[i] = best;
    count[best]++;
  }
  return { expertOf, count };
}

/** EPLB's hierarchical policy (with groups = nodes = 1 it is the global one). */
function placeHierarchical(load: Float64Array, physical: number, groups: number, nodes: number, gpus: number): Copies {
  const experts = load.length;
  const groupSize = experts / groups;
  const groupsPerNode = groups / nodes;
  const expertsPerNode = experts / nodes;
  const physicalPerNode = physical / nodes;
  const gpusPerNode = gpus / nodes;
  // Step 1: whole groups onto nodes. nodeExperts lists each node's experts, node after node.
  const groupLoad = new Float64Array(groups);
  for (let e = 0; e < experts; e++) groupLoad[Math.floor(e / groupSize)] += load[e];
  const groupNode = balancedPacking(groupLoad, nodes);
  const nodeExperts = new Int32Array(experts);
  const filled = new Int32Array(nodes);
  for (let g = 0; g < groups; g++) {
    const n = groupNode[g];
    const base = n * expertsPerNode + filled[n] * groupSize;
    for (let i = 0; i < groupSize; i++) nodeExperts[base + i] = g * groupSize + i;
    filled[n]++;
  }
  if (filled.some((f) => f !== groupsPerNode)) throw new Error("eplb: groups not packed evenly onto nodes");
  // Steps 2 and 3, per node: replicate, then pack the copies onto the node's GPUs.
  const expert = new Int32Array(physical);
  const gpu = new Int32Array(physical);
  for (let n = 0; n < nodes; n++) {
    const local = new Float64Array(expertsPerNode);
    for (let i = 0; i < expertsPerNode; i++) local[i] = load[nodeExperts[n * expertsPerNode + i]];
    const { expertOf, count } = replicateExperts(local, physicalPerNode);
    const perCopy = Float64Array.from(expertOf, (i) => local[i] / count[i]);
    const packOf = balancedPacking(perCopy, gpusPerNode);
    for (let p = 0; p < physicalPerNode; p++) {
      expert[n * physicalPerNode + p] = nodeExperts[n * expertsPerNode + expertOf[p]];
      gpu[n * physicalPerNode + p] = n * gpusPerNode + packOf[p];
    }
  }
  return { expert, gpu };
}

/** The first copy of each expert (in copy order) is its primary; the others are replicas. */
function toPlacement(copies: Copies, experts: number): Placement {
  const expertGpu = new Int32Array(experts).fill(-1);
  const extra: number[][] = Array.from({ length: experts }, () => []);
  for (let p = 0; p < copies.expert.length; p++) {
    const e = copies.expert[p];
    if (expertGpu[e] < 0) expertGpu[e] = copies.gpu[p];
    else extra[e].push(copies.gpu[p]);
  }
  if (!extra.some((r) => r.length > 0)) return { expertGpu };
  return { expertGpu, replicas: extra.map((r) => Int32Array.from(r)) };
}
