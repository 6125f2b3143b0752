/**
 * Device and machine descriptions: what a GPU, a node and a cluster are made of, in plain numbers
 * (bytes, bytes/s, FLOP/s, ns). Presets live in presets.ts; the network built from a ClusterSpec
 * lives in cluster.ts.
 */

export type Dtype = "fp32" | "fp16" | "bf16" | "fp8";
export const DTYPES: readonly Dtype[] = ["fp32", "fp16", "bf16", "fp8"];

export const DTYPE_BYTES: Record<Dtype, number> = { fp32: 4, fp16: 2, bf16: 2, fp8: 1 };

export interface GpuSpec {
  name: string;
  /** Peak dense FLOP/s per dtype (tensor cores where the GPU has them). */
  flopsPerS: Record<Dtype, number>;
  /** HBM (device memory) bandwidth, bytes/s. */
  hbmBytesPerS: number;
  /** Device memory capacity, bytes. */
  hbmBytes: number;
  /** Fixed cost of one kernel launch, ns. */
  launchOverheadNs: number;
}

export interface NvlinkSpec {
  /** Nominal bandwidth per GPU per direction, bytes/s (e.g. H100: 18 links x 25 GB/s = 450 GB/s). */
  bandwidthBytesPerS: number;
  /** One-way GPU-to-GPU latency, ns. */
  latencyNs: number;
  /**
   * "switch": every GPU has one port (up and down) into a non-blocking NVSwitch; "p2p": a full mesh whose per-pair
   * links split the GPU's bandwidth evenly among its peers; "mesh": the direct links of `links` (e.g. the DGX-1
   * hybrid cube-mesh), pairs without one relayed through an intermediate GPU (NCCL's NVB path).
   */
  topology: "switch" | "p2p" | "mesh";
  /**
   * mesh only: links[a][b] = NVLink links between GPUs a and b (symmetric, 0 on the diagonal and where no direct
   * link exists); each link carries linkBytesPerS per direction.
   */
  links?: number[][];
  /** mesh only: bandwidth of one NVLink link per direction, bytes/s (NVLink 2: 25 GB/s). */
  linkBytesPerS?: number;
  /**
   * Fraction of the nominal bandwidth that NCCL-style point-to-point traffic achieves (default 1).
   * The link capacity in the simulation is bandwidthBytesPerS * efficiency.
   */
  efficiency?: number;
}

export interface PcieSpec {
  /** Host-to-device copy rate from pinned host memory, bytes/s (also the x16 link rate per direction). */
  h2dPinnedBytesPerS: number;
  /** Host-to-device copy rate from pageable host memory (a per-copy cap: the staging copy is the bottleneck). */
  h2dPageableBytesPerS: number;
  /** Device-to-host copy rate, bytes/s. */
  d2hBytesPerS: number;
  latencyNs: number;
  /** GPUs behind one PCIe switch (they share its uplink to the CPU; NICs sit on the same switches). */
  gpusPerSwitch: number;
}

export interface NicSpec {
  /** NICs per node (InfiniBand / RoCE). GPU g uses NIC floor(g * perNode / gpusPerNode). */
  perNode: number;
  /** Achievable bandwidth per NIC per direction, bytes/s. */
  bandwidthBytesPerS: number;
  /** One-way latency through the NIC and fabric, ns. */
  latencyNs: number;
}

export interface NodeSpec {
  name: string;
  gpusPerNode: number;
  gpu: GpuSpec;
  cpuMemoryBytes: number;
  /** Host memory bandwidth, bytes/s, shared by every copy from or to this node's host memory. */
  cpuMemoryBytesPerS: number;
  /** null: no NVLink (GPU-to-GPU traffic inside the node goes over PCIe). */
  nvlink: NvlinkSpec | null;
  pcie: PcieSpec;
  nic: NicSpec;
  /**
   * The software stack's attention kernel: "standard" materialises the heads x queries x keys score matrix in HBM
   * (written by QK^T, read and written by the softmax, read by PV: FlashAttention paper, Algorithm 0), and that
   * traffic is timed; "fused" (default: FlashAttention / FlashMLA-style kernels) keeps the scores on chip.
   */
  attentionKernel?: "standard" | "fused";
  /**
   * Host (CPU) time to issue one op of an eager framework (Python, the PyTorch dispatcher and the kernel launch),
   * ns. The host issues a layer's ops one after another while the GPU runs behind it: between two host-device
   * syncs the GPUs cannot finish before the host has issued the segment's ops (src/moe/host.ts). Default 0: the
   * op sequence is replayed without host work per op (CUDA graphs, as modern serving stacks do for decode).
   */
  hostOpNs?: number;
  /**
   * Fixed cost of one collective op (kernel launch, peer handshakes of the NCCL protocol), ns,
   * paid once per all-to-all / all-gather / all-reduce before data moves. Default: gpu.launchOverheadNs.
   */
  collectiveOverheadNs?: number;
}

export interface FabricSpec {
  /**
   * "fat-tree": any NIC reaches any NIC through the node's uplink into one non-blocking fabric; "rail": NIC i of every
   * node sits on rail switch i, so NICs of the same rail reach each other through their rail switch alone.
   */
  kind: "fat-tree" | "rail";
  /**
   * Rail fabrics: how a transfer reaches a NIC of another rail. "spine" (default): up from the source rail's switch
   * through a spine to the destination's rail (latencyNs); "pxn": over NVLink first to the GPU of the source node on
   * the destination's rail, then out of that GPU's NIC (NCCL's PXN), so no traffic crosses rails in the fabric.
   */
  crossRail?: "spine" | "pxn";
  /** Extra one-way latency through the fabric's switches, ns (default 0: included in the NIC latency). */
  latencyNs?: number;
  /** Ratio of the nodes' total NIC bandwidth to their uplink bandwidth into the fabric (default 1: non-blocking). */
  oversubscription?: number;
}

export interface ClusterSpec {
  node: NodeSpec;
  nodes: number;
  fabric?: FabricSpec;
}

/** Bytes in one GiB / MiB / KiB. */
export const GiB = 1024 ** 3;
export const MiB = 1024 ** 2;
export const KiB = 1024;
