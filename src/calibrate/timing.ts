/**
 * Timing of GPU work: on a software adapter (lavapipe) the CPU time of the driver's threads around
 * submit + onSubmittedWorkDone (cpu-time.ts); else timestamp queries around compute passes where
 * the adapter has them, else the wall clock around submit + onSubmittedWorkDone. Each measurement
 * runs warm-up repetitions, then `reps` timed ones, and reports the median and the spread (p10, p90).
 */
import { cpuTimeBetween, driverThreadTimes } from "./cpu-time.js";
import type { GpuContext } from "./gpu.js";

/**
 * Which statistic of the repetitions the fits and the validation use. "min" (the default) is the
 * uncontended time: on a machine shared with other processes the median moves with their load
 * (lavapipe's worker threads compete for the same cores), the minimum hardly does.
 */
export type FitStatistic = "min" | "median";

export function statOf(s: TimingStats, stat: FitStatistic): number {
  return stat === "min" ? s.minNs : s.medianNs;
}

/** Summary of repeated measurements, in ns. */
export interface TimingStats {
  medianNs: number;
  /** Fastest repetition: the time without interference from other processes on a shared machine. */
  minNs: number;
  p10Ns: number;
  p90Ns: number;
  reps: number;
}

export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export function summarize(samples: readonly number[]): TimingStats {
  const s = [...samples].sort((a, b) => a - b);
  return { medianNs: quantile(s, 0.5), minNs: s[0], p10Ns: quantile(s, 0.1), p90Ns: quantile(s, 0.9), reps: s.length };
}

/**
 * Hands out the timestamp writes for the passes of one measurement: the first pass gets the
 * beginning timestamp, the last the end one. Undefined when timing by wall clock.
 */
export type TimestampWrites = (first: boolean, last: boolean) => GPUComputePassTimestampWrites | undefined;

/** Records the work to time into `enc`; passes call tw(first, last) for their timestampWrites. */
export type Encode = (enc: GPUCommandEncoder, tw: TimestampWrites) => void;

export type TimingMethod = "timestamp-query" | "wall-clock" | "driver-cpu-time";

export class GpuTimer {
  readonly method: TimingMethod;
  private readonly querySet?: GPUQuerySet;
  private readonly resolve?: GPUBuffer;
  private readonly readback?: GPUBuffer;

  constructor(
    private readonly ctx: GpuContext,
    useTimestamps = ctx.hasTimestamps && !ctx.software,
  ) {
    this.method = useTimestamps ? "timestamp-query" : ctx.software ? "driver-cpu-time" : "wall-clock";
    if (useTimestamps) {
      const d = ctx.device;
      this.querySet = d.createQuerySet({ type: "timestamp", count: 2 });
      this.resolve = d.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
      this.readback = d.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    }
  }

  /** Runs `encode` once and returns its time in ns. */
  async once(encode: Encode): Promise<number> {
    const d = this.ctx.device;
    const enc = d.createCommandEncoder();
    if (this.querySet && this.resolve && this.readback) {
      const qs = this.querySet;
      encode(enc, (first, last) => {
        const w: GPUComputePassTimestampWrites = { querySet: qs };
        if (first) w.beginningOfPassWriteIndex = 0;
        if (last) w.endOfPassWriteIndex = 1;
        return first || last ? w : undefined;
      });
      enc.resolveQuerySet(qs, 0, 2, this.resolve, 0);
      enc.copyBufferToBuffer(this.resolve, 0, this.readback, 0, 16);
      d.queue.submit([enc.finish()]);
      await this.readback.mapAsync(GPUMapMode.READ);
      const t = new BigUint64Array(this.readback.getMappedRange().slice(0));
      this.readback.unmap();
      return Number(t[1] - t[0]);
    }
    encode(enc, () => undefined);
    const cb = enc.finish();
    if (this.method === "driver-cpu-time") {
      const before = driverThreadTimes();
      d.queue.submit([cb]);
      await d.queue.onSubmittedWorkDone();
      return cpuTimeBetween(before, driverThreadTimes());
    }
    const t0 = process.hrtime.bigint();
    d.queue.submit([cb]);
    await d.queue.onSubmittedWorkDone();
    return Number(process.hrtime.bigint() - t0);
  }

  /** Warm-up runs, then `reps` timed runs; median and spread. */
  async measure(encode: Encode, reps: number, warmup = 2): Promise<TimingStats> {
    for (let i = 0; i < warmup; i++) await this.once(encode);
    const samples: number[] = [];
    for (let i = 0; i < reps; i++) samples.push(await this.once(encode));
    return summarize(samples);
  }

  destroy(): void {
    this.querySet?.destroy();
    this.resolve?.destroy();
    this.readback?.destroy();
  }
}

/** Wall-clock timing of an async host-side operation (host<->device copies), in ns. */
export async function measureHost(run: () => Promise<void>, reps: number, warmup = 2): Promise<TimingStats> {
  for (let i = 0; i < warmup; i++) await run();
  const samples: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    await run();
    samples.push(Number(process.hrtime.bigint() - t0));
  }
  return summarize(samples);
}

/** Encodes one compute pass with the given dispatches, timed as a whole. */
export function singlePass(
  dispatches: Array<{ pipeline: GPUComputePipeline; bindGroup: GPUBindGroup; workgroups: [number, number?, number?] }>,
): Encode {
  return (enc, tw) => {
    const pass = enc.beginComputePass({ timestampWrites: tw(true, true) });
    for (const d of dispatches) {
      pass.setPipeline(d.pipeline);
      pass.setBindGroup(0, d.bindGroup);
      pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1] ?? 1, d.workgroups[2] ?? 1);
    }
    pass.end();
  };
}
