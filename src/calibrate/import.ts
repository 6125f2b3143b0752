/**
 * `moesim calibrate import`: what a user measured on their own cluster, read into a profile.
 * nccl-tests logs (all_to_all_perf, all_reduce_perf, all_gather_perf), DeepEP test output
 * (`[tuning] Best dispatch/combine ...` lines) and a CSV of kernel times (op, shape, dtype, ns).
 * Kernel rows become the profile's op curves, with their shapes, so the calibrated cost model
 * reads them in range and fits its measured roofline on them outside; the all-to-all curve is
 * fitted to the preset node's network parameters (collective overhead, NVLink efficiency) so that
 * the simulated all-to-all reproduces it, and the fit error is kept beside it.
 */
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { UserError } from "../util/errors.js";
import { parseCsv } from "../util/csv.js";
import { clusterSpecFrom, getNodePreset } from "../hardware/presets.js";
import { simulateAllToAllNs, type ValidationRow } from "../hardware/validate.js";
import { PROFILE_OPS, type CostProfile, type OpCurve, type ProfileOp, type ProfilePoint } from "../hardware/profile.js";
import { expertFfnFlops } from "../hardware/cost.js";
import { readProfileFile } from "../hardware/profile-schema.js";

export type Collective = "all_to_all" | "all_reduce" | "all_gather";

/** One row of an nccl-tests table: out-of-place time of a `bytes` collective (the size column). */
export interface CollectivePoint {
  bytes: number;
  us: number;
  algbwGBs: number;
  busbwGBs: number;
}

export interface CollectiveCurve {
  collective: Collective;
  ranks: number;
  source: string;
  points: CollectivePoint[];
}

const ROW = /^\s*(\d+)\s+(\d+)\s+(\w+)\s+(\S+)\s+(-?\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+(\S+)/;

/** Which collective a log is, from its command line or its file name. */
function collectiveOf(text: string, file: string): Collective | undefined {
  for (const c of ["all_to_all", "all_reduce", "all_gather", "alltoall"] as const) {
    if (text.includes(`${c}_perf`) || basename(file).includes(c)) return c === "alltoall" ? "all_to_all" : c;
  }
  return undefined;
}

/**
 * Parses an nccl-tests log (nccl-tests README, "Performance"): `#` comment lines (the run's
 * parameters, one `#  Rank N ...` line per rank), then one row per size: size (B), count, type,
 * redop, root, then out-of-place time (us), algbw, busbw (GB/s), #wrong, then the in-place four.
 */
export function parseNcclTests(text: string, file: string, collective?: Collective): CollectiveCurve {
  const c = collective ?? collectiveOf(text, file);
  if (c === undefined)
    throw new UserError(
      "cannot tell which collective this nccl-tests log is: name the file after " +
        "all_to_all_perf, all_reduce_perf or all_gather_perf",
      file,
    );
  let ranks = 0;
  const points: CollectivePoint[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (/^#\s+Rank\s+\d+/.test(line)) ranks++;
    if (line.startsWith("#") || line.trim() === "") return;
    const m = ROW.exec(line);
    if (!m) return;
    const [bytes, us, alg, bus] = [Number(m[1]), Number(m[6]), Number(m[7]), Number(m[8])];
    if (!(us > 0))
      throw new UserError(`nccl-tests row ${m[1]} B: time ${m[6]} us is not a positive time`, `${file}:${i + 1}`);
    if (bytes > 0) points.push({ bytes, us, algbwGBs: alg, busbwGBs: bus });
  });
  if (points.length === 0)
    throw new UserError("no nccl-tests result rows (size count type redop root time algbw busbw #wrong ...)", file);
  if (ranks === 0) {
    // no rank lines: all_to_all's busbw = algbw * (n - 1) / n gives n
    const p = points[points.length - 1];
    ranks = c === "all_to_all" && p.algbwGBs > p.busbwGBs ? Math.round(1 / (1 - p.busbwGBs / p.algbwGBs)) : 0;
  }
  if (ranks < 2) throw new UserError("cannot tell the number of ranks (no '#  Rank N ...' lines)", file);
  return { collective: c, ranks, source: basename(file), points };
}

/** One DeepEP tuning result: the best dispatch or combine of test_intranode.py / test_internode.py. */
export interface DeepEpPoint {
  kind: "dispatch" | "combine";
  dtype: string;
  nvlGBs: number;
  rdmaGBs?: number;
  us: number;
}

const DEEPEP = new RegExp(
  /\[tuning\] Best (dispatch|combine)\s*(?:\((\w+)\))?:/.source +
    /.*?([\d.]+) GB\/s \(NVL\)(?:,\s*([\d.]+) GB\/s \(RDMA\))?.*?t: ([\d.]+) us/.source,
);

/**
 * Parses DeepEP test output: its `[tuning] Best dispatch (FP8): SMs 24, NVL chunk 8, 153.2 GB/s (NVL), t: 61.2 us`
 * lines.
 */
export function parseDeepEp(text: string, file: string): DeepEpPoint[] {
  const out: DeepEpPoint[] = [];
  for (const line of text.split(/\r?\n/)) {
    const m = DEEPEP.exec(line);
    if (!m) continue;
    out.push({
      kind: m[1] as "dispatch" | "combine",
      dtype: m[2] ?? "BF16",
      nvlGBs: Number(m[3]),
      ...(m[4] !== undefined ? { rdmaGBs: Number(m[4]) } : {}),
      us: Number(m[5]),
    });
  }
  if (out.length === 0)
    throw new UserError("no DeepEP '[tuning] Best dispatch/combine ... GB/s (NVL), t: ... us' lines", file);
  return out;
}

const SHAPE_KEYS: Record<string, string[]> = {
  expert_ffn: ["tokens", "d_model", "d_ff"],
  matmul: ["m", "k", "n"],
  gating: ["tokens", "d_model", "experts"],
};

/**
 * Parses a CSV of kernel times: columns op, shape, dtype, ns. op is a profile op (expert_ffn,
 * matmul, gating, ...); shape is `key=value` pairs separated by `;` or spaces (expert_ffn:
 * tokens, d_model, d_ff[, act]; matmul: m, k, n; gating: tokens, d_model, experts[, top_k]; the
 * copies and shuffle: bytes); ns the kernel's time.
 */
export function parseKernelCsv(text: string, file: string): Partial<Record<ProfileOp, OpCurve>> {
  const rows = parseCsv(text).map((r) => {
    const o: Record<string, string> = {};
    for (const [k, v] of Object.entries(r)) o[k.trim().toLowerCase()] = v.trim();
    return o;
  });
  for (const c of ["op", "shape", "dtype", "ns"])
    if (rows.length > 0 && !(c in rows[0]))
      throw new UserError(`kernel CSV: missing column '${c}'; expected op, shape, dtype, ns`, `${file}:1`);
  const byOp = new Map<ProfileOp, ProfilePoint[]>();
  rows.forEach((row, r) => {
    const where = `${file}:${r + 2}`;
    const op = row.op as ProfileOp;
    if (!(PROFILE_OPS as readonly string[]).includes(op))
      throw new UserError(`kernel CSV: unknown op '${row.op}'; expected one of ${PROFILE_OPS.join(", ")}`, where);
    const shape: Record<string, number | string> = { dtype: row.dtype };
    for (const kv of row.shape.split(/[;\s]+/).filter(Boolean)) {
      const [k, v] = kv.split("=");
      if (v === undefined) throw new UserError(`kernel CSV: shape entry '${kv}' is not key=value`, where);
      shape[k] = Number.isFinite(Number(v)) ? Number(v) : v;
    }
    const ns = Number(row.ns);
    if (!(ns > 0)) throw new UserError(`kernel CSV: ns '${row.ns}' is not a positive time`, where);
    const need = SHAPE_KEYS[op] ?? ["bytes"];
    for (const k of need)
      if (typeof shape[k] !== "number")
        throw new UserError(`kernel CSV: ${op} needs shape keys ${need.join(", ")}; '${k}' missing`, where);
    const x = kernelX(op, shape);
    const list = byOp.get(op) ?? [];
    list.push({ x, shape, medianNs: ns, reps: 1 });
    byOp.set(op, list);
  });
  if (byOp.size === 0) throw new UserError("kernel CSV: no rows", file);
  const out: Partial<Record<ProfileOp, OpCurve>> = {};
  for (const [op, pts] of byOp) {
    pts.sort((a, b) => a.x - b.x);
    const unit = op === "gating" ? "tokens" : op === "expert_ffn" || op === "matmul" ? "flops" : "bytes";
    out[op] = { unit, points: pts, fit: { kind: "piecewise-linear", knots: pts.map((p) => [p.x, p.medianNs]) } };
  }
  return out;
}

function kernelX(op: ProfileOp, s: Record<string, number | string>): number {
  const n = (k: string): number => s[k] as number;
  if (op === "expert_ffn") {
    const act = s.act === "gelu" || s.act === "relu" ? s.act : "swiglu";
    return expertFfnFlops(n("tokens"), n("d_model"), n("d_ff"), act);
  }
  if (op === "matmul") return 2 * n("m") * n("k") * n("n");
  if (op === "gating") return n("tokens");
  return n("bytes");
}

/** The all-to-all curve fitted to a preset node's network: the overrides, and each point's error. */
export interface NetworkFit {
  preset: string;
  overrides: { collectiveOverheadNs: number; nvlink?: { efficiency: number } };
  points: { bytes: number; measured_us: number; simulated_us: number; error: number }[];
  median_abs_error: number;
  max_abs_error: number;
}

/**
 * Fits the preset's collective overhead and NVLink efficiency so that the simulated all-to-all
 * (every rank sends `bytes` split over all ranks, nccl-tests' convention) reproduces the measured
 * one: simulated at overhead 0 and efficiency 1, time = L + a(s) for a latency L and a transfer
 * a(s); with overhead o and efficiency e it is o + L + a(s) / e, linear in (o, 1/e), fitted by
 * least squares of the relative error, then checked by simulating again.
 */
export function fitAllToAll(curve: CollectiveCurve, preset: string): NetworkFit {
  const node = getNodePreset(preset);
  if (curve.ranks > node.gpusPerNode)
    throw new UserError(
      `all-to-all over ${curve.ranks} ranks: only one node is fitted (the ${preset} node has ${node.gpusPerNode} GPUs)`,
    );
  const spec = (o: number, e: number) =>
    clusterSpecFrom({
      preset,
      nodes: 1,
      overrides: {
        gpusPerNode: curve.ranks,
        collectiveOverheadNs: o,
        ...(node.nvlink ? { nvlink: { efficiency: e } } : {}),
      },
    });
  const pts = curve.points.map((p) => ({ ...p, t: p.us * 1e3 }));
  const base = pts.map((p) => simulateAllToAllNs(spec(0, 1), p.bytes));
  const lat = simulateAllToAllNs(spec(0, 1), 0);
  const a = base.map((b) => b - lat);
  // minimise sum(((o + lat + a u) - t) / t)^2 over o >= 0, u >= 1
  const solve = (fixU?: number): { o: number; u: number } => {
    let [s00, s01, s11, r0, r1] = [0, 0, 0, 0, 0];
    pts.forEach((p, i) => {
      const w = 1 / (p.t * p.t);
      const y = p.t - lat;
      s00 += w;
      s01 += w * a[i];
      s11 += w * a[i] * a[i];
      r0 += w * y;
      r1 += w * a[i] * y;
    });
    if (fixU !== undefined) return { o: Math.max(0, (r0 - s01 * fixU) / s00), u: fixU };
    const det = s00 * s11 - s01 * s01;
    const o = det !== 0 ? (r0 * s11 - r1 * s01) / det : r0 / s00;
    const u = det !== 0 ? (s00 * r1 - s01 * r0) / det : 1;
    if (o < 0) return { o: 0, u: Math.max(1, r1 / s11) };
    return { o, u };
  };
  let { o, u } = solve();
  if (u < 1 || !node.nvlink) ({ o, u } = solve(1));
  const eff = Math.min(1, 1 / u);
  const overheadNs = Math.round(o);
  const fitted = spec(overheadNs, eff);
  const points = pts.map((p) => {
    const sim = simulateAllToAllNs(fitted, p.bytes) / 1e3;
    return { bytes: p.bytes, measured_us: p.us, simulated_us: round(sim, 3), error: round((sim - p.us) / p.us, 4) };
  });
  const errs = points.map((p) => Math.abs(p.error)).sort((x, y) => x - y);
  return {
    preset,
    overrides: { collectiveOverheadNs: overheadNs, ...(node.nvlink ? { nvlink: { efficiency: round(eff, 4) } } : {}) },
    points,
    median_abs_error: errs[errs.length >> 1],
    max_abs_error: errs[errs.length - 1],
  };
}

const round = (v: number, d: number): number => Math.round(v * 10 ** d) / 10 ** d;

/** What `calibrate import` writes: a profile (kernel curves) with the measured network beside it. */
export interface ImportedProfile extends CostProfile {
  measured: {
    collectives: CollectiveCurve[];
    deepep: (DeepEpPoint & { source: string })[];
    network_fit: NetworkFit | null;
  };
}

export type ImportKind = "nccl" | "deepep" | "kernels";

/** The format of an input file, from its content. */
export function detectKind(text: string, file: string): ImportKind {
  if (/\[tuning\] Best (dispatch|combine)/.test(text)) return "deepep";
  if (/^\s*op\s*,/i.test(text)) return "kernels";
  if (/#\s+size\s+count\s+type/.test(text) || /_perf\b/.test(text)) return "nccl";
  throw new UserError(
    "unknown measurement format; expected an nccl-tests log, DeepEP test output or a kernel CSV (op,shape,dtype,ns)",
    file,
  );
}

/** Reads the files and builds the profile; `preset` names the node the all-to-all is fitted to. */
export function importMeasurements(files: string[], preset: string): ImportedProfile {
  const collectives: CollectiveCurve[] = [];
  const deepep: ImportedProfile["measured"]["deepep"] = [];
  let ops: CostProfile["ops"] = {};
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f, "utf8");
    } catch (e) {
      throw new UserError(`cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, f);
    }
    const kind = detectKind(text, f);
    if (kind === "nccl") collectives.push(parseNcclTests(text, f));
    else if (kind === "deepep") deepep.push(...parseDeepEp(text, f).map((p) => ({ ...p, source: basename(f) })));
    else ops = { ...ops, ...parseKernelCsv(text, f) };
  }
  const a2a = collectives.find((c) => c.collective === "all_to_all");
  return {
    format: "moesim-profile/v1",
    adapter: {
      vendor: "",
      architecture: "",
      device: preset,
      description: `imported (${preset})`,
      isFallbackAdapter: false,
    },
    createdAt: "",
    sweep: { imported: files.map((f) => basename(f)) },
    ops,
    measured: { collectives, deepep, network_fit: a2a ? fitAllToAll(a2a, preset) : null },
  };
}

/**
 * The imported all-to-all against the network model with the fitted overrides, flow and analytic
 * (what `moesim validate imported --profile FILE` prints): the fit error, computed afresh.
 */
export function importedValidation(p: ImportedProfile): ValidationRow[] {
  const fit = p.measured.network_fit;
  const a2a = p.measured.collectives.find((c) => c.collective === "all_to_all");
  if (!fit || !a2a) throw new UserError("the profile holds no imported all-to-all (import an all_to_all_perf log)");
  const spec = clusterSpecFrom({
    preset: fit.preset,
    nodes: 1,
    overrides: { gpusPerNode: a2a.ranks, ...fit.overrides },
  });
  return a2a.points.map((pt) => {
    const flow = simulateAllToAllNs(spec, pt.bytes) / 1e3;
    const an = simulateAllToAllNs(spec, pt.bytes, { networkModel: "analytic" }) / 1e3;
    return {
      case: `imported all-to-all, ${a2a.ranks} ranks (${a2a.source})`,
      size_bytes: pt.bytes,
      measured_us: pt.us,
      simulated_us: round(flow, 3),
      error: round((flow - pt.us) / pt.us, 4),
      analytic_us: round(an, 3),
      analytic_error: round((an - pt.us) / pt.us, 4),
    };
  });
}

/** Reads a profile written by `calibrate import` (the kernel curves checked by the profile schema). */
export function readImported(path: string): ImportedProfile {
  const { raw } = readProfileFile(path);
  const m = (raw as { measured?: ImportedProfile["measured"] }).measured;
  if (m === undefined || !Array.isArray(m.collectives))
    throw new UserError("not a profile written by moesim calibrate import (no 'measured' section)", path);
  return raw as ImportedProfile;
}
