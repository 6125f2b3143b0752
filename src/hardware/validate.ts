/**
 * Validation of the network model against public measurements (docs/hardware.md, "Validation").
 * The same code backs `moesim validate network` and test/hardware/validate.test.ts.
 */
import { Simulation } from "../sim/engine.js";
import { Cluster, type NetworkModel } from "./cluster.js";
import { KiB, MiB, GiB, type ClusterSpec } from "./devices.js";
import { clusterSpecFrom } from "./presets.js";

export interface ValidationRow {
  case: string;
  size_bytes: number;
  measured_us: number;
  simulated_us: number;
  /** (simulated - measured) / measured */
  error: number;
  /** The same case with the analytic network model (cluster.network_model: analytic). */
  analytic_us: number;
  analytic_error: number;
}

/**
 * Simulated time of one all-to-all where every rank sends `sizeBytes` in total, split evenly over all ranks including
 * itself (the nccl-tests convention).
 */
export function simulateAllToAllNs(
  spec: ClusterSpec,
  sizeBytes: number,
  opts: { hierarchical?: boolean; networkModel?: NetworkModel } = {},
): number {
  const sim = new Simulation();
  const cluster = new Cluster(sim, spec, { recordTimeline: false, networkModel: opts.networkModel });
  const n = cluster.gpuCount;
  const group = Array.from({ length: n }, (_, i) => i);
  const sizes = new Float64Array(n * n).fill(sizeBytes / n);
  let doneAt = -1;
  cluster.allToAll(group, sizes, () => (doneAt = sim.now), opts);
  sim.run();
  if (doneAt < 0) throw new Error("all-to-all never completed");
  return doneAt;
}

/** Simulated time of one host-to-device copy of `bytes` to GPU 0 (pinned), on an idle node. */
export function simulateH2dNs(spec: ClusterSpec, bytes: number, networkModel?: NetworkModel): number {
  const sim = new Simulation();
  const cluster = new Cluster(sim, spec, { recordTimeline: false, networkModel });
  let doneAt = -1;
  cluster.hostToDevice(0, bytes, () => (doneAt = sim.now), { pinned: true });
  sim.run();
  return doneAt;
}

/** A case simulated with both network models: `simulate(model)` returns ns. */
function row(name: string, size: number, measuredUs: number, simulate: (model: NetworkModel) => number): ValidationRow {
  const simulated_us = simulate("flow") / 1000;
  const analytic_us = simulate("analytic") / 1000;
  return {
    case: name,
    size_bytes: size,
    measured_us: measuredUs,
    simulated_us,
    error: (simulated_us - measuredUs) / measuredUs,
    analytic_us,
    analytic_error: (analytic_us - measuredUs) / measuredUs,
  };
}

/** nccl-tests all_to_all_perf on 8x H100 SXM (NVIDIA nccl-tests, docs/hardware.md): size -> time per op, us. */
export const H100_ALLTOALL_US: Array<[number, number]> = [
  [64 * KiB, 15],
  [1 * MiB, 18],
  [16 * MiB, 69],
  [128 * MiB, 400],
  [256 * MiB, 797],
];

/**
 * The paper's NVLink figure (300 GB/s per V100, i.e. 150 GB/s per direction): the bandwidth-bound time of an
 * all-to-all, (n-1)/n x size / 150 GB/s.
 */
export const PAPER_NVLINK_BYTES_PER_S = 150e9;
/**
 * PCIe host->device figures with pinned memory (docs/hardware.md): Gen3 12-13 GB/s, Gen4 ~25 GB/s, Gen5 51-55 GB/s
 * (midpoints).
 */
export const PCIE_H2D_BYTES_PER_S: Array<{ preset: string; gen: string; bytesPerS: number }> = [
  { preset: "paper-v100", gen: "gen3", bytesPerS: 12.5e9 },
  { preset: "dgx-a100", gen: "gen4", bytesPerS: 25e9 },
  { preset: "consumer-pcie4", gen: "gen4", bytesPerS: 25e9 },
  { preset: "dgx-h100", gen: "gen5", bytesPerS: 53e9 },
];

/**
 * Every validation row: H100 all-to-all vs nccl-tests, V100 all-to-all vs the paper's NVLink
 * figure, host->device copies vs the PCIe figures; each simulated with the flow network model
 * (simulated_us, error) and the analytic one (analytic_us, analytic_error).
 */
export function networkValidation(): ValidationRow[] {
  const rows: ValidationRow[] = [];
  const h100 = clusterSpecFrom({ preset: "dgx-h100", nodes: 1 });
  for (const [size, us] of H100_ALLTOALL_US)
    rows.push(
      row("alltoall/dgx-h100/nccl-tests", size, us, (m) => simulateAllToAllNs(h100, size, { networkModel: m })),
    );
  const v100 = clusterSpecFrom({ preset: "paper-v100", nodes: 1 });
  const n = v100.node.gpusPerNode;
  for (const size of [64 * MiB, 256 * MiB, 1 * GiB]) {
    const refUs = ((((n - 1) / n) * size) / PAPER_NVLINK_BYTES_PER_S) * 1e6;
    rows.push(
      row("alltoall/paper-v100/paper-nvlink-300GBps", size, refUs, (m) =>
        simulateAllToAllNs(v100, size, { networkModel: m }),
      ),
    );
  }
  for (const { preset, gen, bytesPerS } of PCIE_H2D_BYTES_PER_S) {
    const spec = clusterSpecFrom({ preset, nodes: 1 });
    for (const size of [64 * MiB, 1 * GiB]) {
      rows.push(
        row(`h2d-pinned/${preset}/pcie-${gen}`, size, (size / bytesPerS) * 1e6, (m) => simulateH2dNs(spec, size, m)),
      );
    }
  }
  return rows;
}

/** The rows as an aligned text table. */
export function formatValidationTable(rows: ValidationRow[]): string {
  const head = ["case", "size", "measured_us", "simulated_us", "error", "analytic_us", "analytic_error"];
  const fmtSize = (b: number): string => (b >= GiB ? `${b / GiB} GiB` : b >= MiB ? `${b / MiB} MiB` : `${b / KiB} KiB`);
  const pct = (e: number): string => `${(e * 100).toFixed(1)}%`;
  const body = rows.map((r) => [
    r.case,
    fmtSize(r.size_bytes),
    r.measured_us.toFixed(1),
    r.simulated_us.toFixed(1),
    pct(r.error),
    r.analytic_us.toFixed(1),
    pct(r.analytic_error),
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join("  ");
  return [line(head), ...body.map(line)].join("\n");
}
