/**
 * Access to the local WebGPU adapter (package `webgpu`, Dawn). The only place that creates the
 * GPU object. The object returned by create() must stay referenced for the life of the process
 * (else Dawn is collected and the process crashes), so it is kept in a module-level variable.
 */
import { create, globals } from "webgpu";
import { UserError } from "../util/errors.js";

let gpuInstance: GPU | null = null;

/** The GPU entry point, created once per process. */
export function getGpu(): GPU {
  if (gpuInstance === null) {
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
  return { adapter, device, info: describeAdapter(adapter), hasTimestamps, hasF16 };
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
