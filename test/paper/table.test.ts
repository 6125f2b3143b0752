/**
 * The paper table (`moesim paper`): every numeric finding of the seed paper on the paper's own
 * metric. The table is a golden (test/golden/paper/table.json: any change in a number fails until
 * the golden is reviewed and updated with UPDATE_GOLDEN=1), docs/paper-reproduction.md must be
 * what the command writes, and every row outside 15% must be explained.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { FINDINGS, paperTable, renderPaperDoc, type PaperRow } from "../../src/paper/index.js";
import { activationByBatch, tutelSkewCurve, type PaperResults } from "../../src/paper/results.js";
import { expectGolden, ROOT } from "./helpers.js";
import { sharedPaperRun } from "./shared.js";

let rows: PaperRow[] = [];
let results: PaperResults;

beforeAll(async () => {
  results = (await sharedPaperRun()).results;
  rows = paperTable(results);
}, 600_000);

describe("moesim paper: the seed paper's findings", () => {
  it("has a row for every finding, each a finite number, and the table is the golden", () => {
    expect(rows.map((r) => r.id)).toEqual(FINDINGS.map((f) => f.id));
    for (const r of rows) expect(Number.isFinite(r.moesim), r.id).toBe(true);
    expectGolden(
      "table",
      rows.map((r) => ({
        id: r.id,
        paper: r.paper,
        moesim: r.moesim,
        relative_error: r.relative_error,
        status: r.status,
      })),
    );
  });

  it("every row outside 15% is explained", () => {
    for (const r of rows) {
      if (r.status !== "within 15%") {
        expect(r.status, r.id).toBe("explained");
        expect(r.explained, r.id).toMatch(/Settled by/);
      } else expect(Math.abs(r.relative_error), r.id).toBeLessThanOrEqual(0.15);
    }
  });

  it("the paper's findings that moesim reproduces in direction hold", () => {
    const v = (id: string) => rows.find((r) => r.id === id)!.moesim;
    for (const id of ["lm-dyn-static", "lm-dyn-tutel", "enc-dyn-static", "dec-dyn-static", "lm-multinode"])
      expect(v(id), id).toBeGreaterThan(1); // dynamic gating is faster at its best batch
    expect(v("lm-maxbatch-dynamic")).toBeGreaterThan(v("lm-maxbatch-static")); // static OOMs first
    expect(v("mt-maxbatch-dynamic")).toBeGreaterThan(v("mt-maxbatch-static"));
    expect(v("lm-act-dynamic")).toBeLessThan(v("lm-act-static"));
    expect(v("mt-act-dynamic")).toBeLessThan(v("mt-act-static"));
    // the whole GPU's memory, static over dynamic, is the weights plus each gate's activations: with the same
    // weights it lies between 1 and the activation ratio
    for (const [m, act] of [
      ["lm", "lm-act"],
      ["mt", "mt-act"],
    ]) {
      expect(v(`${m}-mem-reduction`), m).toBeGreaterThan(1);
      expect(v(`${m}-mem-reduction`), m).toBeLessThan(v(`${act}-static`) / v(`${act}-dynamic`));
    }
    for (const id of ["lm-moe-dense", "enc-moe-dense", "dec-moe-dense"]) expect(v(id), id).toBeGreaterThan(1);
    expect(v("buffer-memory")).toBeGreaterThan(1);
  });

  it("Tutel falls further behind dynamic gating as the routing grows more skewed (the Tutel rows' sensitivity)", () => {
    for (const model of ["lm", "mt-encoder", "mt-decoder"]) {
      const c = tutelSkewCurve(results, `tutel-skew-${model}`);
      expect(
        c.map((p) => p.zipf),
        model,
      ).toEqual([0.25, 0.5, 0.75, 1]);
      const defined = c.filter((p) => p.ratio !== null).map((p) => p.ratio!);
      expect(defined.length, model).toBeGreaterThanOrEqual(3);
      for (let i = 1; i < defined.length; i++) expect(defined[i], model).toBeGreaterThan(defined[i - 1]);
      // the table's own routing (Zipf 0.5) is the curve's second point: the same ratio to within 1% (the table's
      // sweep has more batches)
      const id = { lm: "lm", "mt-encoder": "enc", "mt-decoder": "dec" }[model] + "-dyn-tutel";
      const row = rows.find((r) => r.id === id)!;
      expect(Math.abs(c[1].ratio! / row.moesim - 1), model).toBeLessThan(0.01);
    }
  });

  it("activation memory grows with the batch per GPU (the activation rows' sensitivity)", () => {
    for (const sweep of ["gating-lm", "gating-mt-encoder"])
      for (const gating of ["static", "dynamic"]) {
        const c = activationByBatch(results, sweep, { gating });
        expect(c.length, `${sweep} ${gating}`).toBeGreaterThanOrEqual(3);
        for (let i = 1; i < c.length; i++) expect(c[i].gb, `${sweep} ${gating}`).toBeGreaterThan(c[i - 1].gb);
      }
    // where the paper's number falls inside the curve, the explanation names the batch
    expect(rows.find((r) => r.id === "lm-act-static")!.explained).toMatch(/lies at about [0-9.]+ sequences per GPU/);
  });

  it("docs/paper-reproduction.md is what `moesim paper --doc` writes", () => {
    const doc = readFileSync(resolve(ROOT, "docs", "paper-reproduction.md"), "utf8");
    if (process.env.UPDATE_GOLDEN === "1") return;
    expect(doc).toBe(renderPaperDoc(rows));
  });
});
