import { describe, expect, it } from "vitest";
import { readBuffer, type GpuContext } from "../../src/calibrate/gpu.js";
import { ExpertFfnBank, fillUniform, makeExpertWeights } from "../../src/calibrate/kernels/ffn.js";
import { Gating } from "../../src/calibrate/kernels/gating.js";
import { DEFAULT_TILE } from "../../src/calibrate/kernels/matmul.js";
import { Matmul } from "../../src/calibrate/kernels/matmul-run.js";
import { RowShuffle, orderFromSizeMatrix } from "../../src/calibrate/kernels/shuffle.js";
import { DeviceToHost, HostToDevice, d2dEncode } from "../../src/calibrate/kernels/copy.js";
import { GpuTimer } from "../../src/calibrate/timing.js";
import { expertFfnCpu, gatingCpu, matmulCpu, relativeError } from "../../src/calibrate/reference.js";
import { fromHalfArray, toHalfArray } from "../../src/calibrate/f16.js";
import { useTestGpu } from "./adapter.js";

const gpu = useTestGpu();

function need(): GpuContext {
  if (!gpu.ctx) throw new Error("unreachable");
  return gpu.ctx;
}

describe("calibrate kernels vs CPU references", () => {
  for (const dtype of ["f32", "f16"] as const)
    for (const act of ["swiglu", "gelu"] as const)
      it(`expert FFN ${act} ${dtype}, 37 tokens (a partial tile)`, async (t) => {
        const ctx = gpu.ctx;
        if (!ctx) return t.skip(gpu.reason);
        if (dtype === "f16" && !ctx.hasF16) return t.skip("adapter has no shader-f16");
        const shape = { dModel: 128, dFf: 256, act, dtype };
        const rows = 37;
        const w = makeExpertWeights(shape, 3);
        const x = fillUniform(rows * 128, 21, 1);
        const bank = new ExpertFfnBank(need(), shape, 2, 80, { weights: [w, w] });
        // expert 1 owns rows [5, 42): checks the route table's offset too
        const xx = new Float32Array(80 * 128);
        xx.set(x, 5 * 128);
        ctx.device.queue.writeBuffer(bank.x, 0, dtype === "f16" ? toHalfArray(xx) : xx);
        bank.setRoute([0, 5], [0, rows]);
        await new GpuTimer(need()).once((enc, tw) => {
          const p = enc.beginComputePass({ timestampWrites: tw(true, true) });
          bank.encode(p, 1, rows);
          p.end();
        });
        const eb = dtype === "f16" ? 2 : 4;
        const raw = await readBuffer(ctx.device, bank.y, 80 * 128 * eb);
        const all = dtype === "f16" ? fromHalfArray(new Uint16Array(raw)) : new Float32Array(raw);
        const got = all.slice(5 * 128, (5 + rows) * 128);
        const err = relativeError(got, expertFfnCpu(x, w.w1, w.w3, w.w2, rows, 128, 256, act));
        console.log(`expert FFN ${act} ${dtype}: relative error ${err.toExponential(2)}`);
        expect(err).toBeLessThan(dtype === "f32" ? 1e-5 : 5e-3);
        // rows outside the expert's range stay untouched (zero)
        expect(all.slice(0, 5 * 128).every((v) => v === 0)).toBe(true);
        bank.destroy();
      });

  it("tiled and naive matmul agree with the CPU", async (t) => {
    const ctx = gpu.ctx;
    if (!ctx) return t.skip(gpu.reason);
    for (const kind of ["tiled", "naive"] as const) {
      const mm = new Matmul(need(), 40, 64, 128, kind);
      await new GpuTimer(need()).once((enc, tw) => {
        const p = enc.beginComputePass({ timestampWrites: tw(true, true) });
        mm.encode(p);
        p.end();
      });
      const got = new Float32Array(await readBuffer(ctx.device, mm.c, 40 * 128 * 4));
      const err = relativeError(got, matmulCpu(mm.a, mm.b, 40, 64, 128));
      console.log(`matmul ${kind}: relative error ${err.toExponential(2)}`);
      expect(err).toBeLessThan(1e-5);
      mm.destroy();
    }
  });

  it("gating: top-k, counts, stable expert-sorted order and indirect args match the CPU", async (t) => {
    const ctx = gpu.ctx;
    if (!ctx) return t.skip(gpu.reason);
    const T = 100;
    const E = 8;
    const k = 2;
    const logits = fillUniform(T * E, 33, 3);
    const g = new Gating(need(), T, E, k, { dModel: 128, dFf: 256, tile: DEFAULT_TILE });
    g.setTokens(T, logits);
    await new GpuTimer(need()).once((enc, tw) => {
      const p = enc.beginComputePass({ timestampWrites: tw(true, true) });
      g.encode(p);
      p.end();
    });
    const ref = gatingCpu(logits, T, E, k);
    const rd = async (b: GPUBuffer, n: number) => new Uint32Array(await readBuffer(ctx.device, b, n * 4));
    expect([...(await rd(g.buffers.topIdx, T * k))]).toEqual([...ref.topIdx]);
    const w = new Float32Array(await readBuffer(ctx.device, g.buffers.topW, T * k * 4));
    expect(relativeError(w, ref.topW)).toBeLessThan(1e-5);
    expect([...(await rd(g.buffers.counts, E))]).toEqual([...ref.counts]);
    expect([...(await rd(g.buffers.order, T * k))]).toEqual([...ref.order]);
    const route = await rd(g.buffers.route, 2 * E);
    const args = await rd(g.buffers.args, 6 * E);
    for (let e = 0; e < E; e++) {
      expect(route[2 * e]).toBe(ref.offsets[e]);
      expect(route[2 * e + 1]).toBe(ref.counts[e]);
      expect(args[6 * e + 1]).toBe(Math.ceil(ref.counts[e] / DEFAULT_TILE.tm));
    }
    g.destroy();
  });

  it("shuffle: gather by a size matrix, then weighted combine, round-trips the rows", async (t) => {
    const ctx = gpu.ctx;
    if (!ctx) return t.skip(gpu.reason);
    const d = 64;
    const sizes = [
      [3, 0, 2],
      [1, 4, 0],
      [0, 2, 5],
    ];
    const order = orderFromSizeMatrix(sizes);
    const rows = order.length;
    expect([...order].sort((a, b) => a - b)).toEqual([...Array(rows).keys()]); // a permutation
    const dev = need().device;
    const mk = (n: number) =>
      dev.createBuffer({ size: n, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    const x = fillUniform(rows * d, 8, 1);
    const src = mk(rows * d * 4);
    const mid = mk(rows * d * 4);
    const back = mk(rows * d * 4);
    const idx = mk(rows * 4);
    const slot = mk(rows * 4);
    const ones = mk(rows * 4);
    dev.queue.writeBuffer(src, 0, x);
    dev.queue.writeBuffer(idx, 0, order);
    const inv = new Uint32Array(rows);
    order.forEach((s, p) => (inv[s] = p));
    dev.queue.writeBuffer(slot, 0, inv);
    dev.queue.writeBuffer(ones, 0, new Float32Array(rows).fill(1));
    const gather = new RowShuffle(need(), "dispatch", d, 1, { src, dst: mid, index: idx });
    const combine = new RowShuffle(need(), "combine", d, 1, { src: mid, dst: back, index: slot, weights: ones });
    gather.setRows(rows);
    combine.setRows(rows);
    await new GpuTimer(need()).once((enc, tw) => {
      const p = enc.beginComputePass({ timestampWrites: tw(true, true) });
      gather.encode(p);
      combine.encode(p);
      p.end();
    });
    const m = new Float32Array(await readBuffer(dev, mid, rows * d * 4));
    for (let p = 0; p < rows; p++) expect(m[p * d + 7]).toBe(x[order[p] * d + 7]);
    expect([...new Float32Array(await readBuffer(dev, back, rows * d * 4))]).toEqual([...x]);
  });

  it("copies: host->device via a mapped staging buffer, device->device, device->host", async (t) => {
    const ctx = gpu.ctx;
    if (!ctx) return t.skip(gpu.reason);
    const bytes = 4096;
    const data = new Uint8Array(bytes).map((_, i) => (i * 7) & 255);
    const h2d = new HostToDevice(need(), bytes);
    await h2d.run(data);
    const d2h = new DeviceToHost(need(), bytes);
    await new GpuTimer(need()).once(d2dEncode(h2d.dst, d2h.src, bytes));
    await d2h.run();
    expect([...d2h.out]).toEqual([...data]);
    h2d.destroy();
    d2h.destroy();
  });
});
