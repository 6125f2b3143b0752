/**
 * Node presets. Every number cites where it comes from; where a figure is an assumption (no public
 * measurement found) the comment says so. Bandwidths are bytes/s per direction, latencies ns.
 */
import { UserError, listValues } from "../util/errors.js";
import { meshLinksError } from "./nvlink-mesh.js";
import { GiB, type ClusterSpec, type FabricSpec, type GpuSpec, type NodeSpec } from "./devices.js";

const T = 1e12;
const G = 1e9;

/**
 * NVIDIA V100 SXM2 32 GB. FLOP/s: NVIDIA Tesla V100 datasheet (15.7 TFLOPS fp32, 125 TFLOPS fp16
 * tensor). V100 has no bf16 or fp8 units: bf16 runs at the fp32 rate, fp8 is stored but computed in
 * fp16 (assumption). HBM2 900 GB/s, 32 GB (datasheet).
 * Launch overhead ~4 us (typical CUDA launch-to-start on Volta; assumption).
 */
export const V100_SXM2_32GB: GpuSpec = {
  name: "V100-SXM2-32GB",
  flopsPerS: { fp32: 15.7 * T, fp16: 125 * T, bf16: 15.7 * T, fp8: 125 * T },
  hbmBytesPerS: 900 * G,
  hbmBytes: 32 * GiB,
  launchOverheadNs: 4_000,
};

/**
 * NVIDIA A100 SXM4 80 GB. NVIDIA A100 datasheet: 19.5 TFLOPS fp32 (non-tensor), 312 TFLOPS
 * fp16/bf16 dense tensor; no fp8 units (fp8 computed as fp16, assumption); HBM2e 2,039 GB/s, 80 GB.
 */
export const A100_SXM4_80GB: GpuSpec = {
  name: "A100-SXM4-80GB",
  flopsPerS: { fp32: 19.5 * T, fp16: 312 * T, bf16: 312 * T, fp8: 312 * T },
  hbmBytesPerS: 2039 * G,
  hbmBytes: 80 * GiB,
  launchOverheadNs: 3_000,
};

/**
 * NVIDIA H100 SXM5 80 GB. NVIDIA H100 datasheet (dense, i.e. without sparsity): 67 TFLOPS fp32,
 * 989 TFLOPS fp16/bf16, 1,979 TFLOPS fp8; HBM3 3.35 TB/s, 80 GB.
 */
export const H100_SXM5_80GB: GpuSpec = {
  name: "H100-SXM5-80GB",
  flopsPerS: { fp32: 67 * T, fp16: 989 * T, bf16: 989 * T, fp8: 1979 * T },
  hbmBytesPerS: 3350 * G,
  hbmBytes: 80 * GiB,
  launchOverheadNs: 2_500,
};

/**
 * NVIDIA H200 SXM 141 GB. NVIDIA H200 datasheet: same compute as H100 SXM; HBM3e 4.8 TB/s, 141 GB.
 * Capacity in GiB like every other preset: the datasheet's "141 GB", like the H100's "80 GB", is the
 * capacity the driver reports in GiB (about 140 GiB usable on an H200, 79.6 GiB on an H100).
 */
export const H200_SXM_141GB: GpuSpec = {
  name: "H200-SXM-141GB",
  flopsPerS: { fp32: 67 * T, fp16: 989 * T, bf16: 989 * T, fp8: 1979 * T },
  hbmBytesPerS: 4800 * G,
  hbmBytes: 141 * GiB,
  launchOverheadNs: 2_500,
};

/**
 * NVIDIA H800 SXM5 80 GB, the export variant of the H100 SXM5: the same compute and HBM3 (H100 datasheet figures
 * above) with NVLink cut to 8 links, 400 GB/s bidirectional, i.e. 200 GB/s per direction (NVIDIA H800 product
 * brief). DeepEP (deepseek-ai/DeepEP README) measures ~160 GB/s achievable over it.
 */
export const H800_SXM5_80GB: GpuSpec = { ...H100_SXM5_80GB, name: "H800-SXM5-80GB" };

/**
 * NVIDIA H20 96 GB (NVIDIA H20 product brief): 44 TFLOPS fp32, 148 TFLOPS fp16/bf16 and 296 TFLOPS fp8 dense
 * tensor; HBM3 4.0 TB/s, 96 GB; NVLink 900 GB/s bidirectional.
 */
export const H20_96GB: GpuSpec = {
  name: "H20-96GB",
  flopsPerS: { fp32: 44 * T, fp16: 148 * T, bf16: 148 * T, fp8: 296 * T },
  hbmBytesPerS: 4000 * G,
  hbmBytes: 96 * GiB,
  launchOverheadNs: 2_500,
};

/**
 * NVIDIA B200 180 GB (NVIDIA DGX B200 / HGX B200 datasheets, per GPU, dense): 75 TFLOPS fp32, 2.25 PFLOPS
 * fp16/bf16, 4.5 PFLOPS fp8 tensor; HBM3e 8 TB/s (64 TB/s per 8 GPUs), 180 GB (1,440 GB per 8 GPUs). Launch
 * overhead as Hopper (assumption).
 */
export const B200_180GB: GpuSpec = {
  name: "B200-180GB",
  flopsPerS: { fp32: 75 * T, fp16: 2250 * T, bf16: 2250 * T, fp8: 4500 * T },
  hbmBytesPerS: 8000 * G,
  hbmBytes: 180 * GiB,
  launchOverheadNs: 2_500,
};

/**
 * The Blackwell GPU of a GB200 superchip (NVIDIA GB200 NVL72 datasheet, per GPU = rack / 72, dense): 80 TFLOPS
 * fp32 (5,760 / 72), 2.5 PFLOPS fp16/bf16 (180 PFLOPS dense per rack), 5 PFLOPS fp8; HBM3e 8 TB/s (576 TB/s per
 * rack), 186 GB (13.4 TB per rack).
 */
export const GB200_GPU_186GB: GpuSpec = {
  name: "GB200-GPU-186GB",
  flopsPerS: { fp32: 80 * T, fp16: 2500 * T, bf16: 2500 * T, fp8: 5000 * T },
  hbmBytesPerS: 8000 * G,
  hbmBytes: 186 * GiB,
  launchOverheadNs: 2_500,
};

/**
 * NVIDIA GeForce RTX 4090 24 GB. Ada Lovelace whitepaper: 82.6 TFLOPS fp32; 165 TFLOPS fp16/bf16
 * tensor with fp32 accumulate; 330 TFLOPS fp8 with fp32 accumulate (dense); GDDR6X 1,008 GB/s, 24 GB.
 */
export const RTX4090_24GB: GpuSpec = {
  name: "RTX-4090-24GB",
  flopsPerS: { fp32: 82.6 * T, fp16: 165 * T, bf16: 165 * T, fp8: 330 * T },
  hbmBytesPerS: 1008 * G,
  hbmBytes: 24 * GiB,
  launchOverheadNs: 3_000,
};

/**
 * The seed paper's node (Huang et al., arXiv 2303.06182, section on setup): 8x V100 32 GB,
 * "NVLink 300 GB/s" (the bidirectional total per GPU of NVLink 2: 6 links x 25 GB/s per direction,
 * so 150 GB/s per direction), PCIe 3 16 GB/s with "at most ~12 GB/s" measured CPU->GPU, EDR
 * InfiniBand between nodes. The paper's figure is used as is (efficiency 1): there is no measured
 * NCCL all-to-all for this node to fit an efficiency to. The DGX-1 hybrid cube-mesh is modelled as a
 * full mesh splitting each GPU's 150 GB/s among its 7 peers ("p2p"), which gives the same
 * all-to-all time but not the same pairwise copy rate (the real mesh has 1-2 links per neighbour).
 * Host: DGX-1 (2x Xeon E5-2698 v4, 4 channels DDR4-2133/2400 each: ~2 x 68-77 GB/s; 512 GB);
 * PCIe: 4 PLX switches, 2 GPUs + 1 EDR NIC each (DGX-1 system architecture whitepaper);
 * EDR InfiniBand 100 Gb/s = 12.5 GB/s raw, ~12 GB/s achievable, ~1 us latency (Mellanox ConnectX-5).
 * Pageable H2D at half the pinned rate and the collective overhead are assumptions.
 */
export const PAPER_V100: NodeSpec = {
  name: "paper-v100",
  gpusPerNode: 8,
  gpu: V100_SXM2_32GB,
  cpuMemoryBytes: 512 * GiB,
  cpuMemoryBytesPerS: 136 * G,
  nvlink: { bandwidthBytesPerS: 150 * G, latencyNs: 2_000, topology: "p2p", efficiency: 1 },
  pcie: {
    h2dPinnedBytesPerS: 12 * G,
    h2dPageableBytesPerS: 6 * G,
    d2hBytesPerS: 12 * G,
    latencyNs: 1_000,
    gpusPerSwitch: 2,
  },
  nic: { perNode: 4, bandwidthBytesPerS: 12 * G, latencyNs: 1_000 },
  collectiveOverheadNs: 14_000,
};

/**
 * NVLink links between the 8 V100s of a DGX-1 (hybrid cube-mesh): two fully connected quads (GPUs 0-3, 4-7) joined
 * by links 0-4, 1-5, 2-6, 3-7; 16 of the 28 pairs have a direct link, 8 of them two links, so each GPU uses its 6
 * NVLink 2 links (NVIDIA DGX-1 with Tesla V100 system architecture whitepaper: "a cube with GPUs at its corners and
 * with all twelve edges connected through NVLink (some edges have two NVLink connections), and with two of the six
 * faces having their diagonals connected"). Which pairs have two links: nvidia-smi topo -m on a DGX-1V, as quoted
 * by Alibaba Cloud's topology-aware GPU scheduling guide ("GPU0 is connected to GPU3 and GPU4 by two NVLinks, to
 * GPU1 and GPU2 by one; no NVLink between GPU0 and GPU6"), the rest by the cube's symmetry (docs/hardware.md).
 */
export const DGX1_V100_NVLINKS: readonly (readonly number[])[] = [
  [0, 1, 1, 2, 2, 0, 0, 0],
  [1, 0, 2, 1, 0, 2, 0, 0],
  [1, 2, 0, 2, 0, 0, 1, 0],
  [2, 1, 2, 0, 0, 0, 0, 1],
  [2, 0, 0, 0, 0, 1, 1, 2],
  [0, 2, 0, 0, 1, 0, 2, 1],
  [0, 0, 1, 0, 1, 2, 0, 2],
  [0, 0, 0, 1, 2, 1, 2, 0],
];

/**
 * NVIDIA DGX-1 with 8x V100 SXM2 32 GB, NVLink as built: the hybrid cube-mesh above, each link 25 GB/s per direction
 * (6 links = 150 GB/s per GPU; DGX-1 V100 whitepaper), pairs without a link relayed by a GPU (NCCL's NVB path,
 * src/hardware/nvlink-mesh.ts). Everything else (host, PCIe, NICs, latencies, collective overhead, efficiency 1) as
 * paper-v100, the same machine.
 */
export const DGX1_V100: NodeSpec = {
  ...PAPER_V100,
  name: "dgx1-v100",
  nvlink: {
    bandwidthBytesPerS: 150 * G,
    latencyNs: 2_000,
    topology: "mesh",
    links: DGX1_V100_NVLINKS.map((r) => [...r]),
    linkBytesPerS: 25 * G,
    efficiency: 1,
  },
};

/**
 * Host time per op of eager PyTorch: 5 us, pytorch/pytorch#41383 (2020, a PyTorch 1.x of the paper's era): a simple
 * op costs ~7 us with autograd recording and ~5 us with requires_grad=False, the inference case (fairseq evaluates
 * under torch.no_grad). The issue times CPU tensors, so a CUDA op's kernel launch comes on top of it: a lower bound
 * for a CUDA op (docs/hardware.md, "Framework host overhead").
 */
const EAGER_PYTORCH_HOST_OP_NS = 5_000;

/**
 * The seed paper's stack as one profile: the DGX-1 V100 node above running 2023 fairseq on PyTorch, whose
 * MultiheadAttention is standard attention (QK^T, softmax and PV as separate kernels, the scores materialised in
 * HBM), issuing every op from Python in eager mode (hostOpNs). Every paper scenario uses it unchanged.
 */
export const FAIRSEQ_V100: NodeSpec = {
  ...DGX1_V100,
  name: "fairseq-v100",
  attentionKernel: "standard",
  hostOpNs: EAGER_PYTORCH_HOST_OP_NS,
};

/**
 * NVLink efficiency for NCCL all-to-all on NVSwitch systems, fitted on 8x H100 nccl-tests
 * (nccl-tests all_to_all_perf, docs/hardware.md: 256 MiB all-to-all in 797 us, bus bandwidth ~295 GB/s out of 450 GB/s nominal
 * per direction: 295/450 = 0.655). Assumed the same on A100 and H200.
 */
const NCCL_NVLINK_EFFICIENCY = 0.66;
/**
 * Fixed cost of one NCCL collective on an NVSwitch node, fitted on the same nccl-tests run: a
 * 64 KiB all-to-all (7 x 8 KiB messages per GPU) takes 15 us, of which the data movement is <1 us
 * and the NVLink latency 1 us.
 */
const NCCL_OVERHEAD_NS = 13_500;

/**
 * NVIDIA DGX A100 (DGX A100 user guide / system architecture whitepaper): 8x A100 80 GB; NVLink 3,
 * 12 links x 25 GB/s = 300 GB/s per GPU per direction through 6 NVSwitches; 2x AMD EPYC 7742
 * (8 channels DDR4-3200 each, 2 x 204.8 GB/s), 2 TB host memory; 4 PCIe 4 switches with 2 GPUs
 * and 2 ConnectX-6 HDR 200 Gb/s NICs each (8 compute NICs, ~24 GB/s achievable each);
 * PCIe 4 x16 host->device ~25 GB/s pinned (docs/hardware.md).
 */
export const DGX_A100: NodeSpec = {
  name: "dgx-a100",
  gpusPerNode: 8,
  gpu: A100_SXM4_80GB,
  cpuMemoryBytes: 2048 * GiB,
  cpuMemoryBytesPerS: 409.6 * G,
  nvlink: { bandwidthBytesPerS: 300 * G, latencyNs: 1_000, topology: "switch", efficiency: NCCL_NVLINK_EFFICIENCY },
  pcie: {
    h2dPinnedBytesPerS: 25 * G,
    h2dPageableBytesPerS: 12 * G,
    d2hBytesPerS: 25 * G,
    latencyNs: 1_000,
    gpusPerSwitch: 2,
  },
  nic: { perNode: 8, bandwidthBytesPerS: 24 * G, latencyNs: 1_000 },
  collectiveOverheadNs: NCCL_OVERHEAD_NS,
};

/**
 * NVIDIA DGX H100 (DGX H100 user guide): 8x H100 SXM5 80 GB; NVLink 4, 18 links x 25 GB/s =
 * 450 GB/s per GPU per direction through 4 NVSwitches (efficiency and overhead fitted on
 * nccl-tests, see above); 8x ConnectX-7 NDR 400 Gb/s, 46-49 GB/s each and ~0.8 us one-way
 * (DeepEP and perftest figures, docs/hardware.md); 2x Xeon 8480C (8 channels DDR5-4800 each,
 * 2 x 307 GB/s), 2 TB host memory; PCIe 5 x16 host->device 51-55 GB/s pinned (docs/hardware.md).
 * One GPU and one NIC per PCIe switch leg, 2 GPUs per switch (DGX H100 block diagram).
 */
export const DGX_H100: NodeSpec = {
  name: "dgx-h100",
  gpusPerNode: 8,
  gpu: H100_SXM5_80GB,
  cpuMemoryBytes: 2048 * GiB,
  cpuMemoryBytesPerS: 614 * G,
  nvlink: { bandwidthBytesPerS: 450 * G, latencyNs: 1_000, topology: "switch", efficiency: NCCL_NVLINK_EFFICIENCY },
  pcie: {
    h2dPinnedBytesPerS: 53 * G,
    h2dPageableBytesPerS: 20 * G,
    d2hBytesPerS: 53 * G,
    latencyNs: 1_000,
    gpusPerSwitch: 2,
  },
  nic: { perNode: 8, bandwidthBytesPerS: 48 * G, latencyNs: 800 },
  collectiveOverheadNs: NCCL_OVERHEAD_NS,
};

/** NVIDIA HGX H200 8-GPU: as DGX H100 (same NVLink 4 / NVSwitch baseboard and NDR NICs) with H200 GPUs. */
export const HGX_H200: NodeSpec = { ...DGX_H100, name: "hgx-h200", gpu: H200_SXM_141GB };

/**
 * HGX H800 8-GPU (the deployment of DeepSeek-V3, arXiv 2412.19437 section 3.1, and of DeepEP's published
 * figures): H800 GPUs on an NVSwitch baseboard at 200 GB/s per GPU per direction (8 NVLink 4 links); one
 * ConnectX-7 400 Gb/s NIC per GPU (DeepEP README: "~50 GB/s maximum bandwidth"; the DGX H100 figure of 48 GB/s is
 * kept); host and PCIe as DGX H100 (assumption: a comparable 2-socket server). NCCL efficiency and overhead as the
 * other NVSwitch nodes (fitted on H100 nccl-tests).
 */
export const HGX_H800: NodeSpec = {
  ...DGX_H100,
  name: "hgx-h800",
  gpu: H800_SXM5_80GB,
  nvlink: { bandwidthBytesPerS: 200 * G, latencyNs: 1_000, topology: "switch", efficiency: NCCL_NVLINK_EFFICIENCY },
};

/**
 * HGX H20 8-GPU: H20 GPUs on an NVLink 4 / NVSwitch baseboard at 900 GB/s bidirectional (450 GB/s per direction,
 * as H100); NICs, host and PCIe as DGX H100 (assumption).
 */
export const HGX_H20: NodeSpec = { ...DGX_H100, name: "hgx-h20", gpu: H20_96GB };

/**
 * NVIDIA HGX / DGX B200 (DGX B200 datasheet): 8x B200; NVLink 5, 1.8 TB/s bidirectional per GPU (900 GB/s per
 * direction) through 2 NVSwitch chips; 8x ConnectX-7 400 Gb/s compute NICs (48 GB/s each as DGX H100); 2x Xeon
 * Platinum 8570 (8 channels DDR5-5600 each, 2 x 358 GB/s), 2 TB host memory; PCIe 5 x16 host->device as DGX H100.
 * NCCL efficiency and overhead as the other NVSwitch nodes (not measured on B200: assumption).
 */
export const HGX_B200: NodeSpec = {
  ...DGX_H100,
  name: "hgx-b200",
  gpu: B200_180GB,
  cpuMemoryBytesPerS: 716 * G,
  nvlink: { bandwidthBytesPerS: 900 * G, latencyNs: 1_000, topology: "switch", efficiency: NCCL_NVLINK_EFFICIENCY },
};

/**
 * NVIDIA GB200 NVL72 (GB200 NVL72 datasheet) as one node: 72 Blackwell GPUs in one NVLink 5 domain (1.8 TB/s
 * bidirectional per GPU, 900 GB/s per direction, through the rack's NVLink switch trays); 36 Grace CPUs, each
 * with up to 480 GB LPDDR5X at up to 512 GB/s and joined to its 2 GPUs by NVLink-C2C at 900 GB/s bidirectional
 * (450 GB/s per direction: the host<->device link here, 2 GPUs per CPU; pageable copies at half, assumption); one ConnectX-7 400 Gb/s NIC per GPU
 * (48 GB/s each as DGX H100). Host memory is pooled per rack (36 x 480 GB, 36 x 512 GB/s): a simplification, since
 * each GPU reaches its own Grace fastest. NCCL efficiency and overhead as the other NVSwitch nodes (assumption).
 */
export const GB200_NVL72: NodeSpec = {
  name: "gb200-nvl72",
  gpusPerNode: 72,
  gpu: GB200_GPU_186GB,
  cpuMemoryBytes: 36 * 480 * G,
  cpuMemoryBytesPerS: 36 * 512 * G,
  nvlink: { bandwidthBytesPerS: 900 * G, latencyNs: 1_000, topology: "switch", efficiency: NCCL_NVLINK_EFFICIENCY },
  pcie: {
    h2dPinnedBytesPerS: 450 * G,
    h2dPageableBytesPerS: 225 * G,
    d2hBytesPerS: 450 * G,
    latencyNs: 1_000,
    gpusPerSwitch: 2,
  },
  nic: { perNode: 72, bandwidthBytesPerS: 48 * G, latencyNs: 800 },
  collectiveOverheadNs: NCCL_OVERHEAD_NS,
};

/**
 * One RTX 4090 in a desktop on PCIe 4 x16 (~25 GB/s pinned host->device, docs/hardware.md; pageable about
 * half, assumption); DDR5 dual channel ~80 GB/s, 64 GB host memory (a typical build, assumption);
 * one 10 GbE NIC (1.25 GB/s, ~10 us through the kernel stack, assumption).
 */
export const CONSUMER_PCIE4: NodeSpec = {
  name: "consumer-pcie4",
  gpusPerNode: 1,
  gpu: RTX4090_24GB,
  cpuMemoryBytes: 64 * GiB,
  cpuMemoryBytesPerS: 80 * G,
  nvlink: null,
  pcie: {
    h2dPinnedBytesPerS: 25 * G,
    h2dPageableBytesPerS: 12 * G,
    d2hBytesPerS: 25 * G,
    latencyNs: 1_000,
    gpusPerSwitch: 1,
  },
  nic: { perNode: 1, bandwidthBytesPerS: 1.25 * G, latencyNs: 10_000 },
};

export const NODE_PRESETS: Readonly<Record<string, NodeSpec>> = {
  "paper-v100": PAPER_V100,
  "dgx-a100": DGX_A100,
  "dgx-h100": DGX_H100,
  "hgx-h200": HGX_H200,
  "consumer-pcie4": CONSUMER_PCIE4,
  "hgx-h800": HGX_H800,
  "hgx-h20": HGX_H20,
  "hgx-b200": HGX_B200,
  "gb200-nvl72": GB200_NVL72,
  "dgx1-v100": DGX1_V100,
  "fairseq-v100": FAIRSEQ_V100,
};

export function nodePresetNames(): string[] {
  return Object.keys(NODE_PRESETS);
}

/** A deep copy of the named preset; UserError listing the valid names for an unknown one. */
export function getNodePreset(name: string, where?: string): NodeSpec {
  const p = Object.prototype.hasOwnProperty.call(NODE_PRESETS, name) ? NODE_PRESETS[name] : undefined;
  if (p === undefined) {
    throw new UserError(`unknown node preset "${name}"; expected ${listValues(nodePresetNames())}`, where);
  }
  return structuredClone(p);
}

/** A partial NodeSpec, any depth (what a scenario's `overrides:` may give). */
export type DeepPartial<T> = {
  [K in keyof T]?: T[K] extends object | null ? DeepPartial<NonNullable<T[K]>> | null : T[K];
};

export interface ClusterSpecInput {
  preset: string;
  nodes?: number;
  overrides?: DeepPartial<NodeSpec> | Record<string, unknown>;
  fabric?: FabricSpec;
  /** Where the input came from, for error messages (e.g. "scenario.yaml: cluster"). */
  where?: string;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/** Merges `over` into `base` (a fresh object); unknown keys are a UserError naming the key path. */
function deepMerge(base: unknown, over: unknown, path: string, where?: string): unknown {
  if (!isPlainObject(over)) return over;
  if (!isPlainObject(base)) {
    if (base === null) return over; // e.g. enabling NVLink on a preset without it: the override must be complete
    throw new UserError(`${path} is not an object in the preset; cannot override its fields`, where);
  }
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (!(k in base)) {
      throw new UserError(`unknown key ${path}.${k}; expected one of ${listValues(Object.keys(base))}`, where);
    }
    out[k] = deepMerge(base[k], v, `${path}.${k}`, where);
  }
  return out;
}

/** Checks that every number in a NodeSpec is finite and positive (latencies and overheads may be 0). */
export function validateNodeSpec(node: NodeSpec, where?: string): void {
  const check = (path: string, v: unknown, allowZero: boolean, integer = false): void => {
    if (
      typeof v !== "number" ||
      !Number.isFinite(v) ||
      v < 0 ||
      (!allowZero && v === 0) ||
      (integer && !Number.isInteger(v))
    ) {
      throw new UserError(
        `${path} must be a ${integer ? "whole " : ""}${allowZero ? "non-negative" : "positive"} number, got ${JSON.stringify(v)}`,
        where,
      );
    }
  };
  check("node.gpusPerNode", node.gpusPerNode, false, true);
  for (const [k, v] of Object.entries(node.gpu.flopsPerS)) check(`node.gpu.flopsPerS.${k}`, v, false);
  check("node.gpu.hbmBytesPerS", node.gpu.hbmBytesPerS, false);
  check("node.gpu.hbmBytes", node.gpu.hbmBytes, false);
  check("node.gpu.launchOverheadNs", node.gpu.launchOverheadNs, true);
  check("node.cpuMemoryBytes", node.cpuMemoryBytes, false);
  check("node.cpuMemoryBytesPerS", node.cpuMemoryBytesPerS, false);
  if (node.nvlink !== null) {
    check("node.nvlink.bandwidthBytesPerS", node.nvlink.bandwidthBytesPerS, false);
    check("node.nvlink.latencyNs", node.nvlink.latencyNs, true);
    const topo = node.nvlink.topology;
    if (topo !== "switch" && topo !== "p2p" && topo !== "mesh") {
      throw new UserError(`node.nvlink.topology must be "switch", "p2p" or "mesh", got ${JSON.stringify(topo)}`, where);
    }
    if (topo === "mesh") {
      check("node.nvlink.linkBytesPerS", node.nvlink.linkBytesPerS, false);
      const err = meshLinksError(node.nvlink.links, node.gpusPerNode);
      if (err !== null) throw new UserError(`node.nvlink.links ${err}`, where);
    }
    if (node.nvlink.efficiency !== undefined) {
      check("node.nvlink.efficiency", node.nvlink.efficiency, false);
      if (node.nvlink.efficiency > 1)
        throw new UserError(`node.nvlink.efficiency must be at most 1, got ${node.nvlink.efficiency}`, where);
    }
  }
  for (const k of ["h2dPinnedBytesPerS", "h2dPageableBytesPerS", "d2hBytesPerS"] as const)
    check(`node.pcie.${k}`, node.pcie[k], false);
  check("node.pcie.latencyNs", node.pcie.latencyNs, true);
  check("node.pcie.gpusPerSwitch", node.pcie.gpusPerSwitch, false, true);
  check("node.nic.perNode", node.nic.perNode, false, true);
  check("node.nic.bandwidthBytesPerS", node.nic.bandwidthBytesPerS, false);
  check("node.nic.latencyNs", node.nic.latencyNs, true);
  const ak = node.attentionKernel;
  if (ak !== undefined && ak !== "standard" && ak !== "fused")
    throw new UserError(`node.attentionKernel must be "standard" or "fused", got ${JSON.stringify(ak)}`, where);
  if (node.collectiveOverheadNs !== undefined) check("node.collectiveOverheadNs", node.collectiveOverheadNs, true);
  if (node.hostOpNs !== undefined) check("node.hostOpNs", node.hostOpNs, true);
}

/** A cluster of `nodes` copies of a preset node, with optional overrides (deep-merged) and a fabric. */
export function clusterSpecFrom(input: ClusterSpecInput): ClusterSpec {
  const where = input.where;
  const base = getNodePreset(input.preset, where);
  const node = (input.overrides ? deepMerge(base, input.overrides, "overrides", where) : base) as NodeSpec;
  validateNodeSpec(node, where);
  const nodes = input.nodes ?? 1;
  if (!Number.isInteger(nodes) || nodes < 1)
    throw new UserError(`nodes must be a whole number >= 1, got ${JSON.stringify(nodes)}`, where);
  const spec: ClusterSpec = { node, nodes };
  if (input.fabric !== undefined) {
    const f = input.fabric;
    if (f.kind !== "fat-tree" && f.kind !== "rail")
      throw new UserError(`fabric.kind must be "fat-tree" or "rail", got ${JSON.stringify(f.kind)}`, where);
    if (f.oversubscription !== undefined && !(f.oversubscription >= 1)) {
      throw new UserError(
        `fabric.oversubscription must be a number >= 1, got ${JSON.stringify(f.oversubscription)}`,
        where,
      );
    }
    if (f.crossRail !== undefined && (f.kind !== "rail" || (f.crossRail !== "spine" && f.crossRail !== "pxn"))) {
      throw new UserError(
        `fabric.crossRail must be "spine" or "pxn" on a rail fabric, got ${JSON.stringify(f.crossRail)} on ${f.kind}`,
        where,
      );
    }
    if (f.latencyNs !== undefined && !(f.latencyNs >= 0))
      throw new UserError(`fabric.latencyNs must be >= 0, got ${JSON.stringify(f.latencyNs)}`, where);
    spec.fabric = { ...f };
  }
  return spec;
}
