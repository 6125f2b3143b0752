/**
 * `moesim calibrate import`: the fixtures in test/fixtures/calibrate (written from the nccl-tests
 * README's output format, DeepEP's test_intranode.py tuning lines, and the kernel CSV documented in
 * docs/calibration.md) are read, the all-to-all curve drives the network model of a scenario that
 * uses the import, and the kernel curves drive the calibrated cost model.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import {
  importMeasurements,
  importedValidation,
  parseDeepEp,
  parseKernelCsv,
  parseNcclTests,
} from "../../src/calibrate/import.js";
import { CalibratedCostModel, RooflineCostModel } from "../../src/hardware/cost.js";
import { loadProfile } from "../../src/hardware/profile-schema.js";
import { H100_SXM5_80GB } from "../../src/hardware/presets.js";
import { simulateAllToAllNs } from "../../src/hardware/validate.js";
import { opWork, peakFloorNs } from "../../src/hardware/cost-shape.js";
import { parseScenario } from "../../src/scenario/load.js";
import { resolveScenario } from "../../src/scenario/resolve.js";
import { UserError } from "../../src/util/errors.js";
import { runCli } from "../cli-runner.js";

const FIX = resolve(import.meta.dirname, "..", "fixtures", "calibrate");
const fx = (f: string): string => join(FIX, f);
const read = (f: string): string => readFileSync(fx(f), "utf8");

describe("calibrate import: formats", () => {
  it("reads nccl-tests logs of all_to_all_perf, all_reduce_perf and all_gather_perf", () => {
    for (const c of ["all_to_all", "all_reduce", "all_gather"] as const) {
      const curve = parseNcclTests(read(`${c}_perf.log`), fx(`${c}_perf.log`));
      expect(curve.collective).toBe(c);
      expect(curve.ranks).toBe(8);
      expect(curve.points.length).toBe(15);
      expect(curve.points[0]).toEqual({
        bytes: 65536,
        us: expect.any(Number),
        algbwGBs: expect.any(Number),
        busbwGBs: expect.any(Number),
      });
    }
    const a2a = parseNcclTests(read("all_to_all_perf.log"), "x.log", "all_to_all");
    expect(a2a.points[14]).toEqual({ bytes: 1073741824, us: 2870.77, algbwGBs: 374.03, busbwGBs: 327.27 });
  });
  it("reads DeepEP's best dispatch and combine lines", () => {
    const d = parseDeepEp(read("deepep-intranode.txt"), fx("deepep-intranode.txt"));
    expect(d).toEqual([
      { kind: "dispatch", dtype: "FP8", nvlGBs: 152.88, us: 843.62 },
      { kind: "dispatch", dtype: "BF16", nvlGBs: 158.31, us: 1577.4 },
      { kind: "combine", dtype: "BF16", nvlGBs: 155.02, us: 1610.9 },
    ]);
  });
  it("reads a kernel CSV into shaped curves, and names file, line and expected values on a bad row", () => {
    const ops = parseKernelCsv(read("kernels.csv"), fx("kernels.csv"));
    expect(Object.keys(ops).sort()).toEqual(["expert_ffn", "gating", "matmul"]);
    expect(ops.expert_ffn!.points.map((p) => p.shape!.tokens)).toEqual([1, 16, 128, 512, 2048]);
    expect(() => parseKernelCsv("op,shape,dtype,ns\nattention,m=1,bf16,5\n", "k.csv")).toThrow(
      /^k\.csv:2: kernel CSV: unknown op 'attention'; expected one of expert_ffn, gating/,
    );
    expect(() => parseKernelCsv("op,shape,dtype,ns\nmatmul,m=1;k=2,bf16,5\n", "k.csv")).toThrow(UserError);
    expect(() => parseKernelCsv("op,shape,dtype\n", "k.csv")).toThrow(/no rows|missing column/);
  });
});

describe("calibrate import: the imported curves drive the models", () => {
  const dir = mkdtempSync(join(tmpdir(), "moesim-import-"));
  const out = join(dir, "cluster.json");
  const files = ["all_to_all_perf.log", "all_reduce_perf.log", "deepep-intranode.txt", "kernels.csv"].map(fx);

  it("the CLI writes a profile; validate imported shows the fit error", async () => {
    const r = await runCli(["calibrate", "import", ...files, "--preset", "dgx-h100", "--out", out]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(
      /all-to-all fitted to dgx-h100: cluster.overrides \{"collectiveOverheadNs":\d+,"nvlink":\{"efficiency":0\.\d+\}\}/,
    );
    const v = await runCli(["validate", "imported", "--profile", out, "--json"]);
    expect(v.code).toBe(0);
    const rows = JSON.parse(v.out) as { size_bytes: number; error: number }[];
    expect(rows.length).toBe(15);
    for (const row of rows) expect(Math.abs(row.error), `${row.size_bytes} B`).toBeLessThanOrEqual(0.05);
  });

  it("a scenario using the imported all-to-all reproduces the fixture's times within 5%", async () => {
    const p = importMeasurements(files, "dgx-h100");
    writeFileSync(out, JSON.stringify(p));
    const fit = p.measured.network_fit!;
    const sc = parseScenario(
      `name: imported\nseed: 1\ncluster: { preset: dgx-h100, nodes: 1, profile: ${out}, overrides: ${JSON.stringify(fit.overrides)} }\n` +
        `model: { preset: mixtral-8x7b }\ntrace: { synthetic: { zipf: 1.0, sequences: 2, tokens_per_sequence: 8 } }\n`,
      join(dir, "scenario.yaml"),
    );
    const resolved = await resolveScenario(sc, {});
    const a2a = parseNcclTests(read("all_to_all_perf.log"), fx("all_to_all_perf.log"));
    for (const pt of a2a.points) {
      const us = simulateAllToAllNs(resolved.clusterSpec, pt.bytes) / 1e3;
      expect(Math.abs(us - pt.us) / pt.us, `${pt.bytes} B`).toBeLessThanOrEqual(0.05);
    }
    // without the overrides the preset's own figures miss the curve by more than that somewhere
    const plain = await resolveScenario(
      parseScenario(
        `name: plain\nseed: 1\ncluster: { preset: dgx-h100, nodes: 1 }\nmodel: { preset: mixtral-8x7b }\n` +
          `trace: { synthetic: { zipf: 1.0, sequences: 2, tokens_per_sequence: 8 } }\n`,
        join(dir, "plain.yaml"),
      ),
      {},
    );
    const worst = Math.max(
      ...a2a.points.map((pt) => Math.abs(simulateAllToAllNs(plain.clusterSpec, pt.bytes) / 1e3 - pt.us) / pt.us),
    );
    expect(worst).toBeGreaterThan(0.05);
    expect(importedValidation(p).every((r) => Math.abs(r.error) <= 0.05)).toBe(true);
  });

  it("the kernel curves are read at their shapes and bounded elsewhere", () => {
    const m = new CalibratedCostModel(loadProfile(out), new RooflineCostModel(H100_SXM5_80GB));
    const ffn = (tokens: number) =>
      ({ kind: "expert_ffn", tokens, dModel: 4096, dFf: 14336, activation: "swiglu", dtype: "bf16" }) as const;
    expect(m.timeNs(ffn(512))).toBe(420000);
    expect(m.extrapolations()).toEqual([]);
    const big = ffn(8192);
    expect(m.timeNs(big)).toBeGreaterThanOrEqual(peakFloorNs(H100_SXM5_80GB, opWork(big)));
    expect(m.extrapolations().map((e) => e.op)).toEqual(["expert_ffn"]);
  });
});
