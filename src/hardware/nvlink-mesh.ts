/**
 * NVLink point-to-point topologies inside a node: the capacity of each ordered GPU pair's direct
 * link and, for pairs with no direct link, the GPU that relays their traffic. Pure functions of the
 * NvlinkSpec; the cluster (cluster.ts) turns them into links and routes.
 *
 * "p2p": a full mesh, each GPU's bandwidth split evenly among its G - 1 peers.
 * "mesh": the direct links of `links` (links[a][b] NVLink links of linkBytesPerS each, per direction).
 * A pair without a direct link goes through one intermediate GPU over two NVLink hops, as NCCL does
 * by default since 2.11 (its "NVB" path, "NVLink via an intermediate GPU"; NCCL_NVB_DISABLE turns it
 * off) rather than over PCIe: on the DGX-1 such pairs sit under different CPUs, so PCIe would cross
 * the inter-socket link at a fraction of one NVLink's 25 GB/s. The relay is the GPU whose two hops
 * have the largest bottleneck bandwidth, the lowest index on a tie.
 */
import type { NvlinkSpec } from "./devices.js";

/** Capacity per direction of the direct link a -> b, bytes/s, at index a * G + b (0: none). */
export function nvlinkPairBandwidth(nv: NvlinkSpec, G: number): Float64Array {
  const eff = nv.efficiency ?? 1;
  const out = new Float64Array(G * G);
  for (let a = 0; a < G; a++) {
    for (let b = 0; b < G; b++) {
      if (a === b) continue;
      if (nv.topology === "mesh") out[a * G + b] = (nv.links![a][b] ?? 0) * nv.linkBytesPerS! * eff;
      else out[a * G + b] = (nv.bandwidthBytesPerS * eff) / (G - 1);
    }
  }
  return out;
}

/** The GPU relaying a -> b at index a * G + b; -1 where the pair has a direct link (or a === b). */
export function nvlinkRelays(nv: NvlinkSpec, G: number): Int32Array {
  const bw = nvlinkPairBandwidth(nv, G);
  const out = new Int32Array(G * G).fill(-1);
  for (let a = 0; a < G; a++) {
    for (let b = 0; b < G; b++) {
      if (a === b || bw[a * G + b] > 0) continue;
      let best = -1;
      let bestBw = 0;
      for (let v = 0; v < G; v++) {
        const through = Math.min(bw[a * G + v], bw[v * G + b]);
        if (through > bestBw) {
          best = v;
          bestBw = through;
        }
      }
      if (best < 0) throw new Error(`NVLink mesh: GPUs ${a} and ${b} share no direct link and no common neighbour`);
      out[a * G + b] = best;
    }
  }
  return out;
}

/**
 * A mesh's `links` checked: G x G, symmetric, whole numbers >= 0, zero diagonal, and every pair without a direct
 * link sharing a neighbour (the relay: traffic goes over one intermediate GPU at most); returns an error text or null.
 */
export function meshLinksError(links: unknown, G: number): string | null {
  if (!Array.isArray(links) || links.length !== G) return `must be a ${G} x ${G} matrix of link counts`;
  for (let a = 0; a < G; a++) {
    const row: unknown = links[a];
    if (!Array.isArray(row) || row.length !== G) return `row ${a} must have ${G} entries`;
    for (let b = 0; b < G; b++) {
      const v: unknown = row[b];
      if (typeof v !== "number" || !Number.isInteger(v) || v < 0) return `[${a}][${b}] must be a whole number >= 0`;
      if (a === b && v !== 0) return `[${a}][${a}] must be 0 (a GPU has no link to itself)`;
      if (v !== (links[b] as unknown[])[a]) return `must be symmetric: [${a}][${b}] = ${v}, [${b}][${a}] differs`;
    }
  }
  const l = links as number[][];
  for (let a = 0; a < G; a++) {
    for (let b = a + 1; b < G; b++) {
      if (l[a][b] > 0) continue;
      let v = 0;
      while (v < G && !(l[a][v] > 0 && l[v][b] > 0)) v++;
      if (v === G) return `[${a}][${b}]: GPUs ${a} and ${b} share no link and no neighbour to relay through`;
    }
  }
  return null;
}
