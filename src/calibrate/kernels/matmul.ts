/**
 * WGSL matmul kernels. The tiled kernel computes C[rows, N] = act(A[rows, K] · B[K, N]) for the
 * rows of one expert (offset and count read from a `route` buffer, so the same kernel serves a
 * calibration call and an indirect dispatch driven by the gating's counts). Each workgroup stages
 * a TM x TK tile of A and TK x TN tile(s) of B in workgroup memory; each invocation accumulates an
 * RM x RN block in registers. SwiGLU multiplies two B matrices at once (gate and up projections).
 */

export type Dtype = "f32" | "f16";
export type Activation = "none" | "gelu" | "swiglu";

export interface TileConfig {
  /** Rows (tokens) per workgroup tile. */
  tm: number;
  /** Columns per workgroup tile. */
  tn: number;
  /** Depth of one shared-memory stage. */
  tk: number;
  /** Rows per invocation. */
  rm: number;
  /** Columns per invocation. */
  rn: number;
}

export const DEFAULT_TILE: TileConfig = { tm: 32, tn: 64, tk: 16, rm: 4, rn: 4 };

export function workgroupSize(t: TileConfig): [number, number] {
  return [t.tn / t.rn, t.tm / t.rm];
}

/**
 * Bindings: 0 A, 1 B (gate for SwiGLU), 2 C, 3 route (u32 pairs: row offset, rows per expert),
 * 4 params {expert, K, N}, 5 B2 (the up projection, SwiGLU only). All matrices are read and
 * written as vec4 (K and N multiples of 4); the code is generated fully unrolled, because
 * compilers for CPUs (llvmpipe) keep unrolled scalars in registers but spill indexed arrays.
 */
export function tiledMatmulWgsl(dtype: Dtype, act: Activation, t: TileConfig = DEFAULT_TILE): string {
  const [wx, wy] = workgroupSize(t);
  const nt = wx * wy;
  const two = act === "swiglu";
  const cv = t.rn / 4; // vec4 columns per invocation
  const kv = t.tk / 4; // vec4 per A tile row
  const tnv = t.tn / 4; // vec4 per B tile row
  if (t.rn % 4 || t.tk % 4 || t.tn % 4) throw new Error("tile rn, tk and tn must be multiples of 4");
  if ((t.tm * kv) % nt || (t.tk * tnv) % nt) throw new Error("tile loads must divide evenly among invocations");
  const V = "vec4<f32>";
  const lines: string[] = [];
  const L = (x: string) => lines.push(x);
  for (let i = 0; i < t.rm; i++)
    for (let c = 0; c < cv; c++) {
      L(`  var a0_${i}_${c} = ${V}(0.0);`);
      if (two) L(`  var a1_${i}_${c} = ${V}(0.0);`);
    }
  L(`  for (var k0 = 0u; k0 < K; k0 += ${t.tk}u) {`);
  for (let q = 0; q < (t.tm * kv) / nt; q++) {
    L(`    { let e = li + ${q * nt}u; let r = e / ${kv}u; let c = e % ${kv}u;`);
    L(`      var v = ${V}(0.0);`);
    L(`      if (m0 + r < M) { v = ${V}(A[((rowBase + m0 + r) * K + k0) / 4u + c]); }`);
    L(`      As[e] = v; }`);
  }
  for (let q = 0; q < (t.tk * tnv) / nt; q++) {
    L(`    { let e = li + ${q * nt}u; let r = e / ${tnv}u; let c = e % ${tnv}u;`);
    L(`      let g = ((k0 + r) * N + n0) / 4u + c;`);
    L(`      Bs0[e] = ${V}(B0[g]);${two ? ` Bs1[e] = ${V}(B1[g]);` : ""} }`);
  }
  L(`    workgroupBarrier();`);
  L(`    for (var kq = 0u; kq < ${kv}u; kq++) {`);
  for (let i = 0; i < t.rm; i++) L(`      let x${i} = As[(lid.y * ${t.rm}u + ${i}u) * ${kv}u + kq];`);
  for (let c = 0; c < cv; c++)
    for (let g = 0; g < (two ? 2 : 1); g++) {
      for (let s = 0; s < 4; s++)
        L(`      let b${g}_${c}_${s} = Bs${g}[(kq * 4u + ${s}u) * ${tnv}u + lid.x * ${cv}u + ${c}u];`);
      for (let i = 0; i < t.rm; i++)
        L(
          `      a${g}_${i}_${c} = fma(${V}(x${i}.w), b${g}_${c}_3, fma(${V}(x${i}.z), ` +
            `b${g}_${c}_2, fma(${V}(x${i}.y), b${g}_${c}_1, fma(${V}(x${i}.x), b${g}_${c}_0, ` +
            `a${g}_${i}_${c}))));`,
        );
    }
  L(`    }`);
  L(`    workgroupBarrier();`);
  L(`  }`);
  for (let i = 0; i < t.rm; i++) {
    L(`  if (m0 + lid.y * ${t.rm}u + ${i}u < M) {`);
    L(`    let r = rowBase + m0 + lid.y * ${t.rm}u + ${i}u;`);
    for (let c = 0; c < cv; c++) {
      const v =
        act === "gelu"
          ? `gelu(a0_${i}_${c})`
          : act === "swiglu"
            ? `a0_${i}_${c} / (${V}(1.0) + exp(-a0_${i}_${c})) * a1_${i}_${c}`
            : `a0_${i}_${c}`;
      L(`    C[(r * N + n0) / 4u + lid.x * ${cv}u + ${c}u] = vec4<T>(${v});`);
    }
    L(`  }`);
  }
  return `${dtype === "f16" ? "enable f16;\n" : ""}alias T = ${dtype};
struct Params { expert: u32, K: u32, N: u32, pad: u32 }
@group(0) @binding(0) var<storage, read> A: array<vec4<T>>;
@group(0) @binding(1) var<storage, read> B0: array<vec4<T>>;
@group(0) @binding(2) var<storage, read_write> C: array<vec4<T>>;
@group(0) @binding(3) var<storage, read> route: array<u32>;
@group(0) @binding(4) var<uniform> P: Params;
${two ? "@group(0) @binding(5) var<storage, read> B1: array<vec4<T>>;" : ""}
var<workgroup> As: array<${V}, ${t.tm * kv}>;
var<workgroup> Bs0: array<${V}, ${t.tk * tnv}>;
${two ? `var<workgroup> Bs1: array<${V}, ${t.tk * tnv}>;` : ""}

fn gelu(x: ${V}) -> ${V} {
  return 0.5 * x * (${V}(1.0) + tanh(0.7978845608 * (x + 0.044715 * x * x * x)));
}

@compute @workgroup_size(${wx}, ${wy})
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let rowBase = route[2u * P.expert];
  let M = route[2u * P.expert + 1u];
  let K = P.K;
  let N = P.N;
  let m0 = wid.y * ${t.tm}u;
  let n0 = wid.x * ${t.tn}u;
  if (m0 >= M) { return; }
${lines.join("\n")}
}
`;
}

/** Workgroups of the tiled kernel for `rows` rows and N columns. */
export function tiledWorkgroups(rows: number, n: number, t: TileConfig = DEFAULT_TILE): [number, number] {
  return [n / t.tn, Math.ceil(rows / t.tm)];
}

/**
 * The simple reference: one invocation per output element, a plain loop over K from global
 * memory, no tiling. Bindings: 0 A, 1 B, 2 C, 3 params {M, K, N}.
 */
export function naiveMatmulWgsl(dtype: Dtype = "f32"): string {
  return `${dtype === "f16" ? "enable f16;\n" : ""}alias T = ${dtype};
struct Params { M: u32, K: u32, N: u32, pad: u32 }
@group(0) @binding(0) var<storage, read> A: array<T>;
@group(0) @binding(1) var<storage, read> B: array<T>;
@group(0) @binding(2) var<storage, read_write> C: array<T>;
@group(0) @binding(3) var<uniform> P: Params;
@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let col = gid.x;
  let row = gid.y;
  if (row >= P.M || col >= P.N) { return; }
  var acc = 0.0;
  for (var k = 0u; k < P.K; k++) { acc += f32(A[row * P.K + k]) * f32(B[k * P.N + col]); }
  C[row * P.N + col] = T(acc);
}
`;
}
