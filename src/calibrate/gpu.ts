/**
 * Access to the local WebGPU adapter (package `webgpu`, Dawn). The only place that creates the
 * GPU object. The object returned by create() must stay referenced for the life of the process
 * (else Dawn is collected and the process crashes), so it is kept in a module-level variable.
 */
import { getPriority, setPriority } from "node:os";
import { create, globals } from "webgpu";
import { UserError } from "../util/errors.js";
import { cpuTimeAvailable, noteHostThreads } from "./cpu-time.js";

let gpuInstance: GPU | null = null;

/** The scheduling priority (nice value) the GPU's threads were created with; see raisePriority. */
export let timingNice: number | null = null;

/**
 * Best effort: raises this thread's scheduling priority before Dawn and the driver start their
 * threads (Linux threads inherit the creating thread's nice value). On lavapipe the "GPU" is this
 * process's CPU threads; on a machine shared with other processes, their load stretches every
 * measurement, and more the longer it is (a 1 s layer never finds the quiet window that a 25 ms
 * FFN point does), which biases a fit from short points against long validation points. With a
 * higher priority the measurements come close to the uncontended time. Without the permission
 * (not root, no CAP_SYS_NICE) it keeps the normal priority. MOESIM_NICE=0 turns it off.
 */
function raisePriority(): void {
  const want = Number(process.env.MOESIM_NICE ?? -10);
  if (!Number.isInteger(want) || want === 0) return;
  try {
    setPriority(want);
    timingNice = getPriority();
  } catch {
    timingNice = getPriority();
  }
}

/** The nice value of the JS thread while it waits for the GPU; see lowerWaiterPriority. */
export let waiterNice: number | null = null;

/**
 * dawn.node completes mapAsync / onSubmittedWorkDone by polling on the JS thread (setImmediate
 * loop), so while a measurement runs that thread spins on a core. On lavapipe the driver's worker
 * threads run the shaders on the same cores: on 2 cores the spinning thread took about a third of
 * the CPU from them, and how much varied with the scheduler — slower kernels and noisy timings.
 * Once the driver's threads exist (they keep their priority), the JS thread drops to a lower
 * priority (a higher nice value, which needs no permission), so it polls only on idle CPU.
 * MOESIM_NICE=0 turns this off too.
 */
function lowerWaiterPriority(): void {
  if (process.env.MOESIM_NICE === "0") return;
  try {
    setPriority(Math.min(19, getPriority() + 15));
  } catch {
    // keep it
  }
  waiterNice = getPriority();
}

/** The GPU entry point, created once per process. */
export function getGpu(): GPU {
  if (gpuInstance === null) {
    noteHostThreads();
    raisePriority();
    Object.assign(globalThis, globals);
    // Timestamp quantization (a browser anti-fingerprinting measure) would round GPU timestamps to
    // tens of microseconds; a calibrator needs them exact.
    gpuInstance = create(["disable-dawn-features=timestamp_quantization"]);
    (globalThis as Record<string, unknown>).__moesimGpu = gpuInstance;
  }
  return gpuInstance;
}

/** What the profile records about the adapter. */
export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  features: string[];
}

export interface GpuContext {
  adapter: GPUAdapter;
  device: GPUDevice;
  info: AdapterDescription;
  hasTimestamps: boolean;
  hasF16: boolean;
  /**
   * A software adapter (lavapipe/llvmpipe/SwiftShader: the shaders run on this process's CPU
   * threads) where the driver's CPU time can be read: the calibration times it by that (cpu-time.ts).
   */
  software: boolean;
}

/** Whether an adapter runs its shaders on the host CPU (Mesa llvmpipe/lavapipe, SwiftShader, a fallback adapter). */
export function isSoftwareAdapter(info: AdapterDescription): boolean {
  const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`.toLowerCase();
  return info.isFallbackAdapter || /llvmpipe|lavapipe|swiftshader/.test(text);
}

/** The adapter, or null when none is found (no driver). */
export async function findAdapter(): Promise<GPUAdapter | null> {
  try {
    return await getGpu().requestAdapter({ powerPreference: "high-performance" });
  } catch {
    return null;
  }
}

export function describeAdapter(adapter: GPUAdapter): AdapterDescription {
  const i = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  return {
    vendor: i.vendor ?? "",
    architecture: i.architecture ?? "",
    device: i.device ?? "",
    description: i.description ?? "",
    isFallbackAdapter: Boolean(i.isFallbackAdapter ?? (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter),
    features: [...adapter.features].map(String).sort(),
  };
}

/**
 * Opens a device on the local adapter with timestamp queries and shader-f16 when available.
 * Throws UserError when no adapter is found (no GPU and no software Vulkan driver).
 */
export async function openGpu(opts: { timestamps?: boolean } = {}): Promise<GpuContext> {
  const adapter = await findAdapter();
  if (adapter === null)
    throw new UserError(
      "no WebGPU adapter found; on a machine without a GPU install Mesa lavapipe (scripts/install-lavapipe.sh)",
    );
  const hasTimestamps = (opts.timestamps ?? true) && adapter.features.has("timestamp-query");
  const hasF16 = adapter.features.has("shader-f16");
  const requiredFeatures: GPUFeatureName[] = [];
  if (hasTimestamps) requiredFeatures.push("timestamp-query");
  if (hasF16) requiredFeatures.push("shader-f16");
  const device = await adapter.requestDevice({
    requiredFeatures,
    requiredLimits: {
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
      maxStorageBuffersPerShaderStage: Math.min(8, adapter.limits.maxStorageBuffersPerShaderStage),
      maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: adapter.limits.maxComputeInvocationsPerWorkgroup,
    },
  });
  lowerWaiterPriority();
  const info = describeAdapter(adapter);
  const software = isSoftwareAdapter(info) && cpuTimeAvailable() && process.env.MOESIM_TIMER !== "gpu";
  return { adapter, device, info, hasTimestamps, hasF16, software };
}

/** Creates a storage buffer holding `data` (copied in at creation). */
export function bufferFrom(device: GPUDevice, data: ArrayBufferView, usage = 0): GPUBuffer {
  const size = Math.max(16, Math.ceil(data.byteLength / 4) * 4);
  const buf = device.createBuffer({
    size,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST | usage,
    mappedAtCreation: true,
  });
  new Uint8Array(buf.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  buf.unmap();
  return buf;
}

export function storageBuffer(device: GPUDevice, bytes: number, usage = 0): GPUBuffer {
  return device.createBuffer({
    size: Math.max(16, Math.ceil(bytes / 16) * 16),
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST | usage,
  });
}

export function uniformBuffer(device: GPUDevice, words: ArrayLike<number>): GPUBuffer {
  const data = new Uint32Array(Math.max(4, Math.ceil(words.length / 4) * 4));
  for (let i = 0; i < words.length; i++) data[i] = words[i];
  const buf = device.createBuffer({
    size: data.byteLength,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    mappedAtCreation: true,
  });
  new Uint32Array(buf.getMappedRange()).set(data);
  buf.unmap();
  return buf;
}

/** Reads a buffer back to the host (through a mapped staging buffer). */
export async function readBuffer(device: GPUDevice, src: GPUBuffer, bytes = src.size): Promise<ArrayBuffer> {
  const staging = device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(src, 0, staging, 0, bytes);
  device.queue.submit([enc.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const out = staging.getMappedRange().slice(0);
  staging.unmap();
  staging.destroy();
  return out;
}

/** Builds a compute pipeline from WGSL (auto layout). */
export function computePipeline(device: GPUDevice, code: string, label: string): GPUComputePipeline {
  const module = device.createShaderModule({ code, label });
  return device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" }, label });
}

export function bindGroup(device: GPUDevice, pipeline: GPUComputePipeline, buffers: GPUBuffer[]): GPUBindGroup {
  return device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
}
