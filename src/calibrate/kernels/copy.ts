/**
 * Copies: device-to-device (copyBufferToBuffer, the stand-in for a link on a single adapter,
 * timed between two empty passes that carry the timestamps) and host<->device through mapped
 * staging buffers (mapAsync), timed by the wall clock because they include host work.
 */
import type { GpuContext } from "../gpu.js";
import type { Encode } from "../timing.js";

export function d2dEncode(src: GPUBuffer, dst: GPUBuffer, bytes: number): Encode {
  return (enc, tw) => {
    enc.beginComputePass({ timestampWrites: tw(true, false) }).end();
    enc.copyBufferToBuffer(src, 0, dst, 0, bytes);
    enc.beginComputePass({ timestampWrites: tw(false, true) }).end();
  };
}

/** Host -> device: fill a mapped staging buffer, unmap, copy into the device buffer, wait. */
export class HostToDevice {
  private readonly staging: GPUBuffer;
  readonly dst: GPUBuffer;
  constructor(
    readonly ctx: GpuContext,
    readonly bytes: number,
  ) {
    const d = ctx.device;
    this.staging = d.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.MAP_WRITE | GPUBufferUsage.COPY_SRC,
      mappedAtCreation: true,
    });
    this.dst = d.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
    });
  }
  /** One transfer of `data` (bytes long); the staging buffer is mapped again for the next one. */
  async run(data: Uint8Array): Promise<void> {
    new Uint8Array(this.staging.getMappedRange()).set(data);
    this.staging.unmap();
    const enc = this.ctx.device.createCommandEncoder();
    enc.copyBufferToBuffer(this.staging, 0, this.dst, 0, this.bytes);
    this.ctx.device.queue.submit([enc.finish()]);
    await this.staging.mapAsync(GPUMapMode.WRITE);
  }
  destroy(): void {
    this.staging.destroy();
    this.dst.destroy();
  }
}

/** Device -> host: copy into a staging buffer, map it, read it out. */
export class DeviceToHost {
  private readonly staging: GPUBuffer;
  readonly src: GPUBuffer;
  readonly out: Uint8Array;
  constructor(
    readonly ctx: GpuContext,
    readonly bytes: number,
  ) {
    const d = ctx.device;
    this.staging = d.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.src = d.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
    this.out = new Uint8Array(bytes);
  }
  async run(): Promise<void> {
    const enc = this.ctx.device.createCommandEncoder();
    enc.copyBufferToBuffer(this.src, 0, this.staging, 0, this.bytes);
    this.ctx.device.queue.submit([enc.finish()]);
    await this.staging.mapAsync(GPUMapMode.READ);
    this.out.set(new Uint8Array(this.staging.getMappedRange()));
    this.staging.unmap();
  }
  destroy(): void {
    this.staging.destroy();
    this.src.destroy();
  }
}
