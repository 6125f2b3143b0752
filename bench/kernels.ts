/**
 * bench/kernels: achieved throughput of the calibration kernels on the local WebGPU adapter, each
 * with a simple reference measured in the same run:
 *  - matmul (square n^3): tiled WGSL kernel vs a naive WGSL kernel (one invocation per output, no
 *    workgroup memory) vs a plain JS loop (CPU, float64 accumulation) — GFLOP/s and ratios;
 *  - expert FFN (d_model 512, d_ff 1024; SwiGLU and GELU; f32 and f16) at 32 and 128 tokens — GFLOP/s;
 *  - gating (16 experts, top-2) — Mtokens/s;
 *  - token shuffle (gather of d_model rows) vs copy_d2d of the same bytes — GB/s and ratio;
 *  - host->device and device->host copies through mapped staging buffers — GB/s.
 * The headline ratio is tiled / naive WGSL matmul GFLOP/s at the largest size.
 * Usage: npm run bench -- kernels [--reps N]
 */
import { openGpu, storageBuffer } from "../src/calibrate/gpu.js";
import { GpuTimer, measureHost, type Encode } from "../src/calibrate/timing.js";
import { Matmul } from "../src/calibrate/kernels/matmul-run.js";
import { ExpertFfnBank, ffnFlops } from "../src/calibrate/kernels/ffn.js";
import { Gating } from "../src/calibrate/kernels/gating.js";
import { DEFAULT_TILE } from "../src/calibrate/kernels/matmul.js";
import { RowShuffle } from "../src/calibrate/kernels/shuffle.js";
import { DeviceToHost, HostToDevice, d2dEncode } from "../src/calibrate/kernels/copy.js";
import { fillUniform } from "../src/calibrate/kernels/ffn.js";
import { matmulCpu } from "../src/calibrate/reference.js";

const repsArg = process.argv.indexOf("--reps");
const reps = repsArg > 0 ? Number(process.argv[repsArg + 1]) : 5;

const ctx = await openGpu();
const timer = new GpuTimer(ctx);
const one =
  (body: (p: GPUComputePassEncoder) => void): Encode =>
  (enc, tw) => {
    const p = enc.beginComputePass({ timestampWrites: tw(true, true) });
    body(p);
    p.end();
  };
const ms = (ns: number) => (ns / 1e6).toFixed(2);
console.log(
  `adapter: ${ctx.info.description} (${ctx.info.vendor}, fallback ${ctx.info.isFallbackAdapter}); timing ${timer.method}, min of ${reps} reps`,
);

const result: Record<string, unknown> = { bench: "kernels", adapter: ctx.info.description, timing: timer.method };
let headline = 0;
for (const n of [128, 256]) {
  const tiled = new Matmul(ctx, n, n, n, "tiled");
  const naive = new Matmul(ctx, n, n, n, "naive");
  const tT = (
    await timer.measure(
      one((p) => tiled.encode(p)),
      reps,
      1,
    )
  ).minNs;
  const tN = (
    await timer.measure(
      one((p) => naive.encode(p)),
      reps,
      1,
    )
  ).minNs;
  const c0 = process.hrtime.bigint();
  matmulCpu(tiled.a, tiled.b, n, n, n);
  const tJ = Number(process.hrtime.bigint() - c0);
  const g = (t: number) => tiled.flops / t;
  console.log(
    `matmul ${n}^3: tiled ${g(tT).toFixed(2)} GFLOP/s (${ms(tT)} ms), naive WGSL ${g(tN).toFixed(2)}, JS loop ${g(tJ).toFixed(2)}; tiled/naive ${(tN / tT).toFixed(2)}x, tiled/JS ${(tJ / tT).toFixed(2)}x`,
  );
  result[`matmul${n}_gflops`] = +g(tT).toFixed(3);
  result[`matmul${n}_naive_gflops`] = +g(tN).toFixed(3);
  result[`matmul${n}_js_gflops`] = +g(tJ).toFixed(3);
  result[`matmul${n}_vs_js`] = +(tJ / tT).toFixed(3);
  headline = tN / tT;
  tiled.destroy();
  naive.destroy();
}

for (const dtype of ctx.hasF16 ? (["f32", "f16"] as const) : (["f32"] as const))
  for (const act of ["swiglu", "gelu"] as const) {
    const bank = new ExpertFfnBank(ctx, { dModel: 512, dFf: 1024, act, dtype }, 1, 128);
    for (const t of [32, 128]) {
      bank.setRoute([0], [t]);
      const ns = (
        await timer.measure(
          one((p) => bank.encode(p, 0, t)),
          reps,
          1,
        )
      ).minNs;
      const gf = ffnFlops(t, 512, 1024, act) / ns;
      console.log(`expert_ffn ${act} ${dtype} ${t} tokens: ${gf.toFixed(2)} GFLOP/s (${ms(ns)} ms)`);
      result[`ffn_${act}_${dtype}_${t}_gflops`] = +gf.toFixed(3);
    }
    bank.destroy();
  }

{
  const T = 1024;
  const g = new Gating(ctx, T, 16, 2, { dModel: 512, dFf: 1024, tile: DEFAULT_TILE });
  g.setTokens(T, fillUniform(T * 16, 1, 3));
  const ns = (
    await timer.measure(
      one((p) => g.encode(p)),
      reps,
      1,
    )
  ).minNs;
  console.log(`gating ${T} tokens x 16 experts top-2: ${((T / ns) * 1e3).toFixed(2)} Mtokens/s (${ms(ns)} ms)`);
  result.gating_mtokens_per_s = +((T / ns) * 1e3).toFixed(3);
  g.destroy();
}

{
  const rows = 1024;
  const d = 512;
  const bytes = rows * d * 4;
  const src = storageBuffer(ctx.device, bytes);
  const dst = storageBuffer(ctx.device, bytes);
  const idx = storageBuffer(ctx.device, rows * 4);
  const perm = new Uint32Array(rows).map((_, i) => (i * 389) % rows);
  ctx.device.queue.writeBuffer(idx, 0, perm);
  const sh = new RowShuffle(ctx, "dispatch", d, 1, { src, dst, index: idx });
  sh.setRows(rows);
  const tS = (
    await timer.measure(
      one((p) => sh.encode(p)),
      reps,
      1,
    )
  ).minNs;
  const tC = (await timer.measure(d2dEncode(src, dst, bytes), reps, 1)).minNs;
  console.log(
    `shuffle ${bytes} B: ${(bytes / tS).toFixed(2)} GB/s; copy_d2d ${(bytes / tC).toFixed(2)} GB/s; shuffle/copy ${(tC / tS).toFixed(2)}x`,
  );
  result.shuffle_gbps = +(bytes / tS).toFixed(3);
  result.copy_d2d_gbps = +(bytes / tC).toFixed(3);
  result.shuffle_vs_copy = +(tC / tS).toFixed(3);
  const h2d = new HostToDevice(ctx, bytes);
  const data = new Uint8Array(bytes);
  const tH = (await measureHost(() => h2d.run(data), reps, 1)).minNs;
  const d2h = new DeviceToHost(ctx, bytes);
  const tD = (await measureHost(() => d2h.run(), reps, 1)).minNs;
  console.log(
    `copy_h2d ${bytes} B: ${(bytes / tH).toFixed(2)} GB/s; copy_d2h ${(bytes / tD).toFixed(2)} GB/s (mapped staging, wall clock)`,
  );
  result.copy_h2d_gbps = +(bytes / tH).toFixed(3);
  result.copy_d2h_gbps = +(bytes / tD).toFixed(3);
  h2d.destroy();
  d2h.destroy();
}
timer.destroy();
ctx.device.destroy();
result.reference = "naive WGSL matmul 256^3";
result.ratio = +headline.toFixed(3);
console.log(JSON.stringify(result));
