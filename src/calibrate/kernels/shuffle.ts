/**
 * Token shuffle on one device: the gather/scatter that an all-to-all does. `dispatch` gathers
 * token rows into expert-sorted slots (out[s] = in[order[s] / k]); `combine` scatters them back,
 * weighted (out[t] = sum_j w[t*k+j] * in[slot[t*k+j]]). Rows are d_model f32, moved as vec4.
 */
import { bindGroup, computePipeline, uniformBuffer, type GpuContext } from "../gpu.js";

const WG = 64;

/** Bindings: 0 src, 1 dst, 2 order, 3 params {rows, d4, k}. */
export function gatherWgsl(): string {
  return `struct Params { rows: u32, d4: u32, k: u32, pad: u32 }
@group(0) @binding(0) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> order: array<u32>;
@group(0) @binding(3) var<uniform> P: Params;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  let s = gid.y;
  if (c >= P.d4 || s >= P.rows) { return; }
  dst[s * P.d4 + c] = src[(order[s] / P.k) * P.d4 + c];
}
`;
}

/** Bindings: 0 src (sorted slots), 1 dst [T, d], 2 slot, 3 weights, 4 params {tokens, d4, k}. */
export function combineWgsl(): string {
  return `struct Params { rows: u32, d4: u32, k: u32, pad: u32 }
@group(0) @binding(0) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> slot: array<u32>;
@group(0) @binding(3) var<storage, read> w: array<f32>;
@group(0) @binding(4) var<uniform> P: Params;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  let t = gid.y;
  if (c >= P.d4 || t >= P.rows) { return; }
  var acc = vec4<f32>(0.0);
  for (var j = 0u; j < P.k; j++) {
    let i = t * P.k + j;
    acc += w[i] * src[slot[i] * P.d4 + c];
  }
  dst[t * P.d4 + c] = acc;
}
`;
}

/** A gather (dispatch) or weighted scatter-back (combine) over buffers given at construction. */
export class RowShuffle {
  private readonly pipeline: GPUComputePipeline;
  private readonly params: GPUBuffer;
  private readonly group: GPUBindGroup;
  private rows = 0;

  constructor(
    readonly ctx: GpuContext,
    readonly kind: "dispatch" | "combine",
    readonly dModel: number,
    readonly k: number,
    buffers: { src: GPUBuffer; dst: GPUBuffer; index: GPUBuffer; weights?: GPUBuffer },
  ) {
    const d = ctx.device;
    this.pipeline = computePipeline(d, kind === "dispatch" ? gatherWgsl() : combineWgsl(), `shuffle-${kind}`);
    this.params = uniformBuffer(d, [0, dModel / 4, k, 0]);
    const list = [buffers.src, buffers.dst, buffers.index];
    if (kind === "combine") {
      if (!buffers.weights) throw new Error("combine needs weights");
      list.push(buffers.weights);
    }
    list.push(this.params);
    this.group = bindGroup(d, this.pipeline, list);
  }

  /** Rows written: sorted slots (tokens*k) for dispatch, tokens for combine. */
  setRows(rows: number): void {
    this.rows = rows;
    this.ctx.device.queue.writeBuffer(this.params, 0, new Uint32Array([rows]));
  }

  encode(pass: GPUComputePassEncoder): void {
    if (this.rows === 0) return;
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, this.group);
    pass.dispatchWorkgroups(Math.ceil(this.dModel / 4 / WG), this.rows);
  }

  destroy(): void {
    this.params.destroy();
  }
}

/**
 * The gather order of an all-to-all on one device from its size matrix: sizes[s][r] rows go from
 * source s to destination r; the destination buffer holds r-major blocks, each in source order.
 * Returns, per destination row, the source row index.
 */
export function orderFromSizeMatrix(sizes: number[][]): Uint32Array {
  const n = sizes.length;
  const srcStart: number[] = [];
  let acc = 0;
  for (let s = 0; s < n; s++) {
    srcStart.push(acc);
    acc += sizes[s].reduce((a, b) => a + b, 0);
  }
  const out = new Uint32Array(acc);
  // rows of source s are laid out destination-major: [to r=0][to r=1]...
  const srcBlock: number[][] = sizes.map((row, s) => {
    const starts: number[] = [];
    let c = srcStart[s];
    for (const v of row) {
      starts.push(c);
      c += v;
    }
    return starts;
  });
  let p = 0;
  for (let r = 0; r < n; r++)
    for (let s = 0; s < n; s++) for (let i = 0; i < sizes[s][r]; i++) out[p++] = srcBlock[s][r] + i;
  return out;
}
