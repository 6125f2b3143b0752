/** A plain matmul C[M,N] = A[M,K]·B[K,N] with the tiled or the naive kernel (the matmul curve and the bench). */
import { bindGroup, computePipeline, storageBuffer, uniformBuffer, type GpuContext } from "../gpu.js";
import { upload, fillUniform } from "./ffn.js";
import { DEFAULT_TILE, naiveMatmulWgsl, tiledMatmulWgsl, tiledWorkgroups, type Dtype } from "./matmul.js";

export class Matmul {
  readonly a: Float32Array;
  readonly b: Float32Array;
  readonly c: GPUBuffer;
  private readonly pipeline: GPUComputePipeline;
  private readonly group: GPUBindGroup;
  private readonly owned: GPUBuffer[] = [];
  readonly flops: number;

  constructor(
    readonly ctx: GpuContext,
    readonly m: number,
    readonly k: number,
    readonly n: number,
    readonly kind: "tiled" | "naive",
    readonly dtype: Dtype = "f32",
  ) {
    const d = ctx.device;
    this.a = fillUniform(m * k, 11, 1);
    this.b = fillUniform(k * n, 12, 1 / Math.sqrt(k));
    const a = upload(ctx, this.a, dtype);
    const b = upload(ctx, this.b, dtype);
    this.c = storageBuffer(d, m * n * (dtype === "f16" ? 2 : 4));
    this.owned.push(a, b, this.c);
    this.flops = 2 * m * k * n;
    if (kind === "tiled") {
      this.pipeline = computePipeline(d, tiledMatmulWgsl(dtype, "none"), `matmul-tiled-${dtype}`);
      const route = storageBuffer(d, 8);
      d.queue.writeBuffer(route, 0, new Uint32Array([0, m]));
      const p = uniformBuffer(d, [0, k, n, 0]);
      this.owned.push(route, p);
      this.group = bindGroup(d, this.pipeline, [a, b, this.c, route, p]);
    } else {
      this.pipeline = computePipeline(d, naiveMatmulWgsl(dtype), `matmul-naive-${dtype}`);
      const p = uniformBuffer(d, [m, k, n, 0]);
      this.owned.push(p);
      this.group = bindGroup(d, this.pipeline, [a, b, this.c, p]);
    }
  }

  encode(pass: GPUComputePassEncoder): void {
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, this.group);
    if (this.kind === "tiled") pass.dispatchWorkgroups(...tiledWorkgroups(this.m, this.n, DEFAULT_TILE));
    else pass.dispatchWorkgroups(Math.ceil(this.n / 8), Math.ceil(this.m / 8));
  }

  destroy(): void {
    for (const b of this.owned) b.destroy();
  }
}
