/**
 * Dynamic gating on WebGPU (the seed paper's): logits -> softmax -> top-k per token, then one
 * workgroup sorts the picks by expert (stable), counts tokens per expert, writes each expert's
 * row range (the route table the FFN reads), the indirect-dispatch arguments of the FFN kernels
 * (zero workgroups for an inactive expert) and each pick's slot in the sorted order.
 */
import { bindGroup, computePipeline, storageBuffer, uniformBuffer, type GpuContext } from "../gpu.js";
import type { TileConfig } from "./matmul.js";

const TOPK_WG = 64;
const ROUTE_WG = 256;
export const MAX_TOPK = 8;

/** Bindings: 0 logits [T, E], 1 topIdx [T*k], 2 topW [T*k], 3 params {T, E, k}. */
export function topkWgsl(): string {
  return `struct Params { T: u32, E: u32, k: u32, pad: u32 }
@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read_write> topIdx: array<u32>;
@group(0) @binding(2) var<storage, read_write> topW: array<f32>;
@group(0) @binding(3) var<uniform> P: Params;
@compute @workgroup_size(${TOPK_WG})
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let t = gid.x;
  if (t >= P.T) { return; }
  let base = t * P.E;
  var mx = logits[base];
  for (var e = 1u; e < P.E; e++) { mx = max(mx, logits[base + e]); }
  var sum = 0.0;
  for (var e = 0u; e < P.E; e++) { sum += exp(logits[base + e] - mx); }
  var prev = 3.4e38;
  var prevIdx = 0xffffffffu;
  for (var j = 0u; j < P.k; j++) {
    // the next largest logit strictly after (prev, prevIdx) in (value desc, index asc) order
    var best = -3.4e38;
    var bestIdx = 0xffffffffu;
    for (var e = 0u; e < P.E; e++) {
      let v = logits[base + e];
      let after = v < prev || (v == prev && e > prevIdx);
      if (after && (bestIdx == 0xffffffffu || v > best)) { best = v; bestIdx = e; }
    }
    topIdx[t * P.k + j] = bestIdx;
    topW[t * P.k + j] = exp(best - mx) / sum;
    prev = best;
    prevIdx = bestIdx;
  }
}
`;
}

/**
 * One workgroup; invocation e < E owns expert e. Bindings: 0 topIdx, 1 counts [E],
 * 2 order [T*k] (sorted slot -> pick), 3 slot [T*k] (pick -> sorted slot), 4 route [2E],
 * 5 args [6E] (indirect dispatch of the up and down kernels), 6 params {T, E, k, tm, nUp, nDown}.
 */
export function routeWgsl(): string {
  return `struct Params { T: u32, E: u32, k: u32, tm: u32, nUp: u32, nDown: u32, pad0: u32, pad1: u32 }
@group(0) @binding(0) var<storage, read> topIdx: array<u32>;
@group(0) @binding(1) var<storage, read_write> counts: array<u32>;
@group(0) @binding(2) var<storage, read_write> order: array<u32>;
@group(0) @binding(3) var<storage, read_write> slot: array<u32>;
@group(0) @binding(4) var<storage, read_write> route: array<u32>;
@group(0) @binding(5) var<storage, read_write> args: array<u32>;
@group(0) @binding(6) var<uniform> P: Params;
var<workgroup> cnt: array<u32, ${ROUTE_WG}>;
var<workgroup> off: array<u32, ${ROUTE_WG}>;
@compute @workgroup_size(${ROUTE_WG})
fn main(@builtin(local_invocation_index) e: u32) {
  let n = P.T * P.k;
  var c = 0u;
  if (e < P.E) {
    for (var i = 0u; i < n; i++) { if (topIdx[i] == e) { c++; } }
  }
  cnt[e] = c;
  workgroupBarrier();
  if (e == 0u) {
    var acc = 0u;
    for (var j = 0u; j < P.E; j++) { off[j] = acc; acc += cnt[j]; }
  }
  workgroupBarrier();
  if (e < P.E) {
    let o = off[e];
    counts[e] = c;
    route[2u * e] = o;
    route[2u * e + 1u] = c;
    let wy = (c + P.tm - 1u) / P.tm;
    args[6u * e] = P.nUp; args[6u * e + 1u] = wy; args[6u * e + 2u] = 1u;
    args[6u * e + 3u] = P.nDown; args[6u * e + 4u] = wy; args[6u * e + 5u] = 1u;
    var p = o;
    for (var i = 0u; i < n; i++) {
      if (topIdx[i] == e) { order[p] = i; slot[i] = p; p++; }
    }
  }
}
`;
}

export interface GatingBuffers {
  logits: GPUBuffer;
  topIdx: GPUBuffer;
  topW: GPUBuffer;
  counts: GPUBuffer;
  order: GPUBuffer;
  slot: GPUBuffer;
  route: GPUBuffer;
  args: GPUBuffer;
}

/** Gating for up to `maxTokens` tokens over E experts, top-k; FFN tiling sets the dispatch args. */
export class Gating {
  readonly buffers: GatingBuffers;
  private readonly topk: GPUComputePipeline;
  private readonly routeP: GPUComputePipeline;
  private readonly params: GPUBuffer;
  private readonly routeParams: GPUBuffer;
  private readonly g1: GPUBindGroup;
  private readonly g2: GPUBindGroup;
  private tokens = 0;

  constructor(
    readonly ctx: GpuContext,
    readonly maxTokens: number,
    readonly experts: number,
    readonly k: number,
    ffn: { dModel: number; dFf: number; tile: TileConfig },
  ) {
    if (experts > ROUTE_WG) throw new Error(`at most ${ROUTE_WG} experts`);
    if (k < 1 || k > MAX_TOPK || k > experts) throw new Error(`top-k must be in 1..${Math.min(MAX_TOPK, experts)}`);
    const d = ctx.device;
    const n = maxTokens * k;
    this.buffers = {
      logits: storageBuffer(d, maxTokens * experts * 4),
      topIdx: storageBuffer(d, n * 4),
      topW: storageBuffer(d, n * 4),
      counts: storageBuffer(d, experts * 4),
      order: storageBuffer(d, n * 4),
      slot: storageBuffer(d, n * 4),
      route: storageBuffer(d, experts * 8),
      args: storageBuffer(d, experts * 24, GPUBufferUsage.INDIRECT),
    };
    this.topk = computePipeline(d, topkWgsl(), "gating-topk");
    this.routeP = computePipeline(d, routeWgsl(), "gating-route");
    this.params = uniformBuffer(d, [0, experts, k, 0]);
    this.routeParams = uniformBuffer(d, [
      0,
      experts,
      k,
      ffn.tile.tm,
      ffn.dFf / ffn.tile.tn,
      ffn.dModel / ffn.tile.tn,
      0,
      0,
    ]);
    const b = this.buffers;
    this.g1 = bindGroup(d, this.topk, [b.logits, b.topIdx, b.topW, this.params]);
    this.g2 = bindGroup(d, this.routeP, [b.topIdx, b.counts, b.order, b.slot, b.route, b.args, this.routeParams]);
  }

  /** Sets the token count (and uploads logits [tokens, E] when given). */
  setTokens(tokens: number, logits?: Float32Array): void {
    if (tokens > this.maxTokens) throw new Error(`${tokens} tokens > capacity ${this.maxTokens}`);
    this.tokens = tokens;
    const q = this.ctx.device.queue;
    q.writeBuffer(this.params, 0, new Uint32Array([tokens]));
    q.writeBuffer(this.routeParams, 0, new Uint32Array([tokens]));
    if (logits) q.writeBuffer(this.buffers.logits, 0, logits, 0, tokens * this.experts);
  }

  encode(pass: GPUComputePassEncoder): void {
    pass.setPipeline(this.topk);
    pass.setBindGroup(0, this.g1);
    pass.dispatchWorkgroups(Math.max(1, Math.ceil(this.tokens / TOPK_WG)));
    pass.setPipeline(this.routeP);
    pass.setBindGroup(0, this.g2);
    pass.dispatchWorkgroups(1);
  }

  destroy(): void {
    for (const b of Object.values(this.buffers) as GPUBuffer[]) b.destroy();
    this.params.destroy();
    this.routeParams.destroy();
  }
}
