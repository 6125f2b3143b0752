/**
 * Kernel cost models: how long an op takes on one GPU, in integer ns. The roofline default needs
 * only the GPU's peak numbers; the calibrated model reads curves measured by `moesim calibrate`
 * (profile format in profile.ts, docs/calibration.md) and falls back to another model for ops the
 * profile has no curve for.
 */
import { secondsToNs } from "../sim/time.js";
import { UserError } from "../util/errors.js";
import type { Dtype, GpuSpec } from "./devices.js";
import { evaluateFit, type CostProfile, type ProfileOp } from "./profile.js";
import {
  opDims,
  opWork,
  peakFloorNs,
  profileDtype,
  ShapeCurve,
  tiledFfnNs,
  type CostOp,
  type TiledFfnModel,
} from "./cost-shape.js";

export type { CostOp } from "./cost-shape.js";
export { expertFfnFlops, expertWeightBytes } from "./cost-shape.js";

/** Ops used outside the shapes a profile measured, and how far (CostModel.extrapolations). */
export interface CostExtrapolation {
  /** The profile curve (expert_ffn, gating, matmul, ...). */
  op: ProfileOp;
  /** Distinct op shapes predicted outside the measured range. */
  shapes: number;
  /** How far outside, as a ratio >= 1: the largest over the numeric dimensions of used / measured bound. */
  factor: number;
  /** Each numeric dimension that went outside: the measured [min, max] and the used [min, max] beyond it. */
  dims: Record<string, { measured: [number, number]; used: [number, number] }>;
  /** Each named dimension (dtype, activation) used with a value the profile never measured. */
  unmeasured: Record<string, { measured: string[]; used: string[] }>;
  /** What predicted these ops: the measured roofline fitted on the profile's shapes, floored by the GPU's peak. */
  model: string;
}

export interface CostModel {
  readonly name: string;
  /** Time of one op, integer ns (>= 0). */
  timeNs(op: CostOp): number;
  /** Ops predicted outside what the model was measured on, so far (none for a model that measured nothing). */
  extrapolations?(): CostExtrapolation[];
}

export interface RooflineOptions {
  /** Fraction of peak FLOP/s reached (default 0.7). */
  computeEfficiency?: number;
  /** Fraction of peak HBM bandwidth reached (default 0.8). */
  memoryEfficiency?: number;
  /** Per-op launch overhead, ns (default gpu.launchOverheadNs). */
  launchNs?: number;
  /** Host-to-device / device-to-host copy rates for "copy" ops, bytes/s (default 25e9, PCIe 4). */
  h2dBytesPerS?: number;
  d2hBytesPerS?: number;
}

/** Roofline: max(FLOPs / (peak x efficiency), bytes / (HBM x efficiency)) + launch overhead. */
export class RooflineCostModel implements CostModel {
  readonly name: string;
  private readonly ce: number;
  private readonly me: number;
  private readonly launchNs: number;
  private readonly h2d: number;
  private readonly d2h: number;

  constructor(
    readonly gpu: GpuSpec,
    opts: RooflineOptions = {},
  ) {
    this.ce = opts.computeEfficiency ?? 0.7;
    this.me = opts.memoryEfficiency ?? 0.8;
    this.launchNs = opts.launchNs ?? gpu.launchOverheadNs;
    this.h2d = opts.h2dBytesPerS ?? 25e9;
    this.d2h = opts.d2hBytesPerS ?? 25e9;
    for (const [k, v] of Object.entries({ computeEfficiency: this.ce, memoryEfficiency: this.me })) {
      if (!(v > 0 && v <= 1)) throw new UserError(`roofline ${k} must be in (0, 1], got ${v}`);
    }
    this.name = `roofline(${gpu.name})`;
  }

  private roofline(flops: number, bytes: number, dtype: Dtype): number {
    const tCompute = flops / (this.gpu.flopsPerS[dtype] * this.ce);
    const tMemory = bytes / (this.gpu.hbmBytesPerS * this.me);
    return secondsToNs(Math.max(tCompute, tMemory)) + this.launchNs;
  }

  timeNs(op: CostOp): number {
    if (op.kind === "copy" && op.direction !== "d2d")
      return secondsToNs(op.bytes / (op.direction === "h2d" ? this.h2d : this.d2h)) + this.launchNs;
    const w = opWork(op);
    return this.roofline(w.flops, w.bytes, w.dtype);
  }
}

/** The profile curve an op reads, and its x on that curve. */
function curveOf(op: CostOp): [ProfileOp, number] {
  switch (op.kind) {
    case "expert_ffn":
      return ["expert_ffn", opWork(op).flops];
    case "gating":
      return ["gating", op.tokens];
    case "shuffle":
      return ["shuffle", op.bytes];
    case "copy":
      return [op.direction === "h2d" ? "copy_h2d" : op.direction === "d2h" ? "copy_d2h" : "copy_d2d", op.bytes];
    case "generic":
      return ["matmul", op.flops];
  }
}

interface Outside {
  shapes: Set<string>;
  dims: Map<string, { measured: [number, number]; used: [number, number] }>;
  cats: Map<string, { measured: string[]; used: Set<string> }>;
}

/**
 * Measured curves first, the fallback for ops without one, and never faster than the GPU allows.
 * x per op: expert_ffn -> FLOPs (expertFfnFlops), gating -> tokens, shuffle -> bytes, copy -> bytes
 * (copy_h2d / copy_d2h / copy_d2d), generic -> FLOPs on the "matmul" curve. An op whose shape lies
 * within the shapes the curve was measured on (every numeric dimension within the measured
 * [min, max], dtype and activation measured) reads the curve; any other op is predicted by the
 * measured roofline fitted on the curve's points (ShapeCurve) and recorded (extrapolations()).
 * Either way the time is at least the op's floor on `gpu` (its peak FLOP/s for the op's dtype and
 * its HBM bandwidth at 100%: peakFloorNs), and the measured rates are capped at those peaks.
 */
export class CalibratedCostModel implements CostModel {
  readonly name: string;
  /** The GPU whose peak figures bound every prediction (default: the roofline fallback's GPU). */
  readonly gpu: GpuSpec | undefined;
  private readonly curves = new Map<ProfileOp, ShapeCurve>();
  private readonly outside = new Map<ProfileOp, Outside>();
  /** Tiled FFN models the profile carries (`shapeModels`), by dtype. */
  private readonly ffnModels = new Map<string, TiledFfnModel>();

  constructor(
    readonly profile: CostProfile,
    readonly fallback: CostModel,
    opts: { gpu?: GpuSpec } = {},
  ) {
    this.gpu = opts.gpu ?? (fallback instanceof RooflineCostModel ? fallback.gpu : undefined);
    const adapter = profile.adapter.description || profile.adapter.device || profile.adapter.vendor;
    const bound = this.gpu ? `; bounded by ${this.gpu.name} peak` : "";
    this.name = `calibrated(${adapter}; fallback ${fallback.name}${bound})`;
    const layer = (profile.sweep as { layer?: { dModel?: unknown; dtype?: unknown } }).layer;
    const defaults = {
      dModel: typeof layer?.dModel === "number" ? layer.dModel : undefined,
      dtype: profileDtype(layer?.dtype),
    };
    for (const [op, curve] of Object.entries(profile.ops) as [ProfileOp, NonNullable<CostProfile["ops"][ProfileOp]>][])
      this.curves.set(op, new ShapeCurve(op, curve, defaults));
    for (const m of (profile as { shapeModels?: TiledFfnModel[] }).shapeModels ?? [])
      if (!this.ffnModels.has(m.dtype)) this.ffnModels.set(m.dtype, m);
  }

  /** The measured curve of an op of the profile, with its range and fitted roofline. */
  shapeCurve(op: ProfileOp): ShapeCurve | undefined {
    return this.curves.get(op);
  }

  timeNs(op: CostOp): number {
    const [name, x] = curveOf(op);
    const c = this.curves.get(name);
    let t: number;
    if (c === undefined) t = this.fallback.timeNs(op);
    else if (this.inRange(c, op, x)) t = Math.ceil(evaluateFit(c.curve.fit, x) - 1e-6);
    else t = this.extrapolate(c, op, x);
    if (this.gpu) t = Math.max(t, Math.ceil(peakFloorNs(this.gpu, opWork(op)) - 1e-6));
    return Math.max(0, t);
  }

  private inRange(c: ShapeCurve, op: CostOp, x: number): boolean {
    if (!c.shaped) return x >= c.range.x[0] && x <= c.range.x[1];
    const d = opDims(op);
    for (const [k, v] of Object.entries(d.num)) {
      const r = c.range[k];
      if (r !== undefined && (v < r[0] || v > r[1])) return false;
    }
    for (const [k, v] of Object.entries(d.cat)) if (c.cats[k] !== undefined && !c.cats[k].has(v)) return false;
    return true;
  }

  private extrapolate(c: ShapeCurve, op: CostOp, x: number): number {
    const rec: Outside = this.outside.get(c.op) ?? { shapes: new Set(), dims: new Map(), cats: new Map() };
    this.outside.set(c.op, rec);
    const d = c.shaped ? opDims(op) : { num: { x }, cat: {} as Record<string, string> };
    rec.shapes.add(JSON.stringify(d));
    for (const [k, v] of Object.entries(d.num)) {
      const r = c.range[k];
      if (r === undefined || (v >= r[0] && v <= r[1])) continue;
      const e = rec.dims.get(k);
      if (e) e.used = [Math.min(e.used[0], v), Math.max(e.used[1], v)];
      else rec.dims.set(k, { measured: [r[0], r[1]], used: [v, v] });
    }
    for (const [k, v] of Object.entries(d.cat)) {
      const m = c.cats[k];
      if (m === undefined || m.has(v)) continue;
      const e = rec.cats.get(k) ?? { measured: [...m].sort(), used: new Set<string>() };
      e.used.add(v);
      rec.cats.set(k, e);
    }
    const tiled = op.kind === "expert_ffn" ? this.ffnModels.get(op.dtype) : undefined;
    if (tiled && op.kind === "expert_ffn") {
      // the tiled FFN model fitted on several shapes, its rates capped at the GPU's peaks
      const g = this.gpu;
      const capped: TiledFfnModel = g
        ? {
            ...tiled,
            computePerS: Math.min(tiled.computePerS, g.flopsPerS[op.dtype]),
            memoryPerS: Math.min(tiled.memoryPerS ?? Infinity, g.hbmBytesPerS),
          }
        : tiled;
      return Math.ceil(tiledFfnNs(capped, op) - 1e-6);
    }
    const m = c.model;
    if (m === undefined) return Math.ceil(evaluateFit(c.curve.fit, x) - 1e-6);
    const w = opWork(op);
    const rc = this.gpu ? Math.min(m.computePerS, this.gpu.flopsPerS[w.dtype]) : m.computePerS;
    const rm = this.gpu ? Math.min(m.memoryPerS, this.gpu.hbmBytesPerS) : m.memoryPerS;
    const t = Math.ceil(m.fixedNs + Math.max(w.flops / rc, w.bytes / rm) * 1e9 - 1e-6);
    return Number.isFinite(t) ? t : Math.ceil(evaluateFit(c.curve.fit, x) - 1e-6);
  }

  extrapolations(): CostExtrapolation[] {
    const out: CostExtrapolation[] = [];
    for (const [op, rec] of [...this.outside].sort((a, b) => a[0].localeCompare(b[0]))) {
      const c = this.curves.get(op)!;
      let factor = 1;
      const dims: CostExtrapolation["dims"] = {};
      for (const [k, e] of rec.dims) {
        dims[k] = e;
        const [lo, hi] = e.measured;
        if (e.used[1] > hi) factor = Math.max(factor, hi > 0 ? e.used[1] / hi : Infinity);
        if (e.used[0] < lo) factor = Math.max(factor, e.used[0] > 0 ? lo / e.used[0] : Infinity);
      }
      const unmeasured: CostExtrapolation["unmeasured"] = {};
      for (const [k, e] of rec.cats) unmeasured[k] = { measured: e.measured, used: [...e.used].sort() };
      const bound = this.gpu ? `, floored by ${this.gpu.name} peak FLOP/s and HBM bandwidth` : "";
      const m = c.model;
      const tiled = op === "expert_ffn" ? [...this.ffnModels.values()] : [];
      const model = tiled.length
        ? `tiled FFN model (${tiled.map((t) => `${t.dtype}: fitted on ${t.fittedOn.length} shapes`).join(", ")}; ` +
          `rates capped at the GPU's peaks; other dtypes by the measured roofline${bound})`
        : m
          ? `measured roofline fitted on the profile's ${c.curve.points.length} shapes ` +
            `(fixed ${Math.round(m.fixedNs)} ns, ` +
            `${fmtRate(m.computePerS, "FLOP/s")}, ${fmtRate(m.memoryPerS, "B/s")}${bound})`
          : `the profile's curve beyond its last point${bound}`;
      out.push({ op, shapes: rec.shapes.size, factor: Math.round(factor * 100) / 100, dims, unmeasured, model });
    }
    return out;
  }
}

const fmtRate = (r: number, unit: "FLOP/s" | "B/s"): string =>
  r >= (unit === "B/s" ? 1e16 : 1e19) ? `no ${unit} term` : `${(r / 1e12).toPrecision(3)} T${unit}`;

/** One line per extrapolated op, for the run summary's notes. */
export function extrapolationNotes(xs: readonly CostExtrapolation[]): string[] {
  return xs.map((e) => {
    const parts = Object.entries(e.dims).map(([k, d]) => {
      const used = d.used[0] === d.used[1] ? `${d.used[0]}` : `${d.used[0]}..${d.used[1]}`;
      return `${k} ${used} (measured ${d.measured[0]}..${d.measured[1]})`;
    });
    for (const [k, u] of Object.entries(e.unmeasured))
      parts.push(`${k} ${u.used.join("/")} (measured ${u.measured.join("/")})`);
    return (
      `cost profile: ${e.op} used outside its measured shapes on ${e.shapes} shape(s), up to ${e.factor}x: ` +
      `${parts.join(", ")}; predicted by the ${e.model}`
    );
  });
}
