import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CHARTS, buildCharts, loadReportInput, renderSvg, svgToPng, writeReport } from "../../src/report/index.js";
import { downsample, memoryTotals } from "../../src/report/charts/memory.js";
import { FIXTURES, markCount, pngSize, svgTexts, tempDir } from "./helpers.js";

/** What each chart kind must draw: the result set it comes from, its marks and its axis titles. */
const EXPECT: Record<string, { from: keyof typeof FIXTURES; marks: Record<string, number>; axes: string[] }> = {
  // 3 gating policies x 4 batch sizes -> 3 lines with 12 points.
  throughput: { from: "sweep", marks: { line: 3, symbol: 12 }, axes: ["batch size", "throughput (tokens/s)"] },
  // 4 steps x 7 phases stacked.
  latency: { from: "run", marks: { rect: 28 }, axes: ["step", "time per step (ms)"] },
  // 4 GPU lines and the capacity rule.
  memory: { from: "run", marks: { line: 4, rule: 1 }, axes: ["simulated time (ms)", "memory in use (GiB)"] },
  // 4 policies x 6 sizes, Belady shaded as the bound.
  missrate: {
    from: "cache",
    marks: { line: 4, area: 1, symbol: 24 },
    axes: ["cache size (expert slots per GPU per layer)", "miss rate"],
  },
  // 4 GPUs and the even-share rule.
  load: { from: "run", marks: { rect: 4, rule: 1 }, axes: ["GPU", "token-expert assignments"] },
  // 4 link kinds (memory, nic, nvlink, pcie).
  links: { from: "run", marks: { rect: 4 }, axes: ["link kind", "bytes moved (GiB)"] },
  // 4 steps, one straggler GPU each.
  straggler: { from: "run", marks: { symbol: 4 }, axes: ["step", "straggler GPU"] },
  // Every recorded interval of the 4 GPUs' compute and comm streams (timeline.csv's 1932 rows).
  timeline: { from: "runOverlap", marks: { rect: 1932 }, axes: ["simulated time (µs)", "GPU stream"] },
  // Every link sample (link_samples.csv's 1572 rows, one every third collective: fewer than 24 links carried bytes).
  link_heatmap: { from: "runOverlap", marks: { rect: 1572 }, axes: ["simulated time (µs)", "link"] },
  // 4 x 4 GPUs.
  dispatch: { from: "runOverlap", marks: { rect: 16 }, axes: ["destination GPU", "source GPU"] },
};

describe("report charts", () => {
  it("has an expectation for every registered chart", () => {
    expect(CHARTS.map((c) => c.id).sort()).toEqual(Object.keys(EXPECT).sort());
  });

  for (const [id, exp] of Object.entries(EXPECT)) {
    it(`${id}: renders to SVG with its marks and axis titles, and to PNG`, async () => {
      const input = loadReportInput(FIXTURES[exp.from]);
      const chart = buildCharts(input).find((c) => c.id === id);
      expect(chart, `${id} from ${exp.from}`).toBeDefined();
      const warnings: string[] = [];
      const svg = await renderSvg(chart!.spec, warnings);
      expect(warnings).toEqual([]);
      for (const [mark, n] of Object.entries(exp.marks)) expect(markCount(svg, mark), `${id}: ${mark} marks`).toBe(n);
      expect(svgTexts(svg, "axis-title").sort()).toEqual([...exp.axes].sort());
      const width = Number(/<svg[^>]* width="(\d+)"/.exec(svg)![1]);
      const png = svgToPng(svg, 2);
      expect(pngSize(png).width).toBe(width * 2);
    });
  }

  it("throughput: an out-of-memory point leaves a gap in its line and is marked on the axis", async () => {
    const chart = buildCharts(loadReportInput(FIXTURES.sweepOom)).find((c) => c.id === "throughput")!;
    const warnings: string[] = [];
    const svg = await renderSvg(chart.spec, warnings);
    expect(warnings).toEqual([]);
    // 12 points: 11 on the lines, the static/64 point as a cross.
    expect(markCount(svg, "line")).toBe(3);
    expect(markCount(svg, "symbol")).toBe(12);
    const layers = chart.spec as {
      layer: { transform: { filter: string }[] }[];
      data: { values: { tokens_per_s: number | null; oom: string }[] };
    };
    expect(layers.data.values.filter((v) => v.tokens_per_s === null).map((v) => v.oom)).toEqual(["out of memory"]);
  });

  it("a sweep over buffering policy x slots yields the miss-rate chart from each point's cache summary", async () => {
    const base = loadReportInput(FIXTURES.sweep);
    if (base.kind !== "sweep") throw new Error("fixture kind");
    const template = base.sweep.points[0].summary;
    const points = ["lru", "belady"].flatMap((policy, i) =>
      [2, 4].map((slots, j) => ({
        key: `${i}${j}`,
        index: i * 2 + j,
        params: { "policies.buffering.policy": policy, "policies.buffering.slots": slots },
        summary: {
          ...template,
          policies: { ...template.policies, buffering: policy, slots },
          cache: {
            requests: 100,
            hits: 0,
            misses: 0,
            miss_rate: (policy === "lru" ? 0.6 : 0.4) - 0.1 * j,
            bytes_moved: 0,
          },
        },
      })),
    );
    const input = {
      ...base,
      sweep: { ...base.sweep, param_keys: ["policies.buffering.policy", "policies.buffering.slots"], points },
    };
    const chart = buildCharts(input).find((c) => c.id === "missrate");
    expect(chart).toBeDefined();
    const values = (chart!.spec as { data: { values: { policy: string; slots: number; bound: string }[] } }).data
      .values;
    expect(values.map((v) => `${v.policy}/${v.slots}/${v.bound}`)).toEqual([
      "belady/2/Belady (bound)",
      "belady/4/Belady (bound)",
      "lru/2/online policy",
      "lru/4/online policy",
    ]);
    const warnings: string[] = [];
    const svg = await renderSvg(chart!.spec, warnings);
    expect(warnings).toEqual([]);
    expect(markCount(svg, "line")).toBe(2);
    expect(markCount(svg, "area")).toBe(1);
  });

  it("PNG text really renders with the font (removing the text changes the pixels)", async () => {
    const input = loadReportInput(FIXTURES.run);
    const svg = await renderSvg(buildCharts(input).find((c) => c.id === "links")!.spec);
    const noText = svg.replace(/<text[^>]*>[^<]*<\/text>/g, "");
    expect(noText).not.toBe(svg);
    expect(Buffer.from(svgToPng(svg)).equals(Buffer.from(svgToPng(noText)))).toBe(false);
  });

  it("picks the charts each kind of results supports", () => {
    const ids = (k: keyof typeof FIXTURES) => buildCharts(loadReportInput(FIXTURES[k])).map((c) => c.id);
    // every run records the window the timeline, link heatmap and dispatch matrix draw
    const all = ["latency", "memory", "load", "links", "straggler", "timeline", "link_heatmap", "dispatch"];
    expect(ids("run")).toEqual(all);
    // (no memory timeline in this one)
    expect(ids("runOverlap")).toEqual([
      "latency",
      "load",
      "links",
      "straggler",
      "timeline",
      "link_heatmap",
      "dispatch",
    ]);
    expect(ids("cache")).toEqual(["missrate"]);
    expect(ids("sweep")).toEqual(["throughput", "latency"]);
  });

  it("the window's charts say how links were sampled and whether the window stopped at its cap (window.json)", () => {
    const input = loadReportInput(FIXTURES.runOverlap);
    const title = (i: typeof input, id: string): string =>
      String((buildCharts(i).find((c) => c.id === id)!.spec as { title: string }).title);
    expect(title(input, "link_heatmap")).toContain("sampled every 3 collectives");
    expect(title(input, "timeline")).not.toContain("cap");
    if (input.kind !== "run") throw new Error("a run fixture");
    const cut = { ...input, window: { ...input.window!, truncated: true } };
    expect(title(cut, "timeline")).toContain("the window stopped at its cap");
    expect(title(cut, "link_heatmap")).toContain("the window stopped at its cap");
  });

  it("miss-rate chart marks Belady as the bound and keeps its points at or below every policy", () => {
    const chart = buildCharts(loadReportInput(FIXTURES.cache)).find((c) => c.id === "missrate")!;
    const values = (
      chart.spec as { data: { values: { policy: string; slots: number; miss_rate: number; bound: string }[] } }
    ).data.values;
    const bound = values.filter((v) => v.policy === "belady");
    expect(bound.every((v) => v.bound === "Belady (bound)")).toBe(true);
    for (const b of bound)
      for (const v of values.filter((x) => x.slots === b.slots)) expect(b.miss_rate).toBeLessThanOrEqual(v.miss_rate);
  });

  it("memory totals sum the categories per GPU and downsampling keeps every peak", () => {
    const rows = [
      { time_ns: 0, gpu: "gpu0", category: "weights", bytes: 100 },
      { time_ns: 5, gpu: "gpu0", category: "activations", bytes: 30 },
      { time_ns: 5, gpu: "gpu1", category: "weights", bytes: 7 },
      { time_ns: 9, gpu: "gpu0", category: "activations", bytes: 10 },
    ];
    const t = memoryTotals(rows);
    expect(t.get("gpu0")).toEqual([
      { t: 0, bytes: 100 },
      { t: 5, bytes: 130 },
      { t: 9, bytes: 110 },
    ]);
    const line = Array.from({ length: 1000 }, (_, i) => ({ t: i, bytes: i === 517 ? 9999 : i % 7 }));
    const d = downsample(line, 50);
    expect(d.length).toBeLessThanOrEqual(50);
    expect(Math.max(...d.map((p) => p.bytes))).toBe(9999);
    expect(d[d.length - 1]).toEqual(line[line.length - 1]);
  });

  it("writes .vl.json, .svg, .png and report.html, and removes files a later report no longer has", async () => {
    const out = tempDir();
    const r = await writeReport(FIXTURES.run, { out });
    for (const id of ["latency", "memory", "load", "links"]) {
      const spec = JSON.parse(readFileSync(join(out, `${id}.vl.json`), "utf8"));
      expect(spec.$schema).toMatch(/vega-lite/);
      expect(readFileSync(join(out, `${id}.svg`), "utf8")).toMatch(/^<svg/);
    }
    const html = readFileSync(r.html, "utf8");
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(html).toContain("Run summary");
    // Re-rendering a different kind into the same folder removes the old kind's charts.
    await writeReport(FIXTURES.cache, { out });
    expect(() => readFileSync(join(out, "memory.svg"))).toThrow();
    expect(readFileSync(join(out, "missrate.svg"), "utf8")).toMatch(/^<svg/);
  });

  it("refuses to write into a folder moesim did not write, and names what a results dir must hold", async () => {
    const out = tempDir();
    (await import("node:fs")).writeFileSync(join(out, "notes.txt"), "mine");
    await expect(writeReport(FIXTURES.run, { out })).rejects.toThrow(/not written by moesim/);
    expect(() => loadReportInput(tempDir())).toThrow(/summary\.json.*cache\.json.*sweep\.json/);
  });
});
