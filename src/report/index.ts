import { existsSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { UserError } from "../util/errors.js";
import { writeFileAtomic } from "../util/fs.js";
import { CHARTS, type Spec } from "./charts/index.js";
import { loadReportInput, type ReportInput } from "./data.js";
import { reportHtml, type HtmlChart } from "./html.js";
import { renderSvg, svgToPng } from "./render.js";
import { summaryTable } from "./table.js";

export { CHARTS, getChart } from "./charts/index.js";
export { loadReportInput, type ReportInput, type CacheEntry } from "./data.js";
export { renderSvg, svgToPng, toVega, fontFile } from "./render.js";
export { reportHtml } from "./html.js";
export { summaryTable } from "./table.js";

export const REPORT_FORMAT = "moesim-report/v1";

export interface ReportOptions {
  /** Output folder (default RESULTS_DIR/report). */
  out?: string;
  /** Also rasterize every chart to PNG (default true). */
  png?: boolean;
  /** Replace an output folder moesim did not write. */
  force?: boolean;
}

export interface BuiltChart {
  id: string;
  title: string;
  spec: Spec;
}

/** The charts a results set supports, with their Vega-Lite specs (no rendering, no I/O). */
export function buildCharts(input: ReportInput): BuiltChart[] {
  const out: BuiltChart[] = [];
  for (const c of CHARTS) {
    const spec = c.build(input);
    if (spec) out.push({ id: c.id, title: c.title, spec });
  }
  return out;
}

export interface ReportResult {
  dir: string;
  html: string;
  charts: { id: string; files: string[] }[];
}

/**
 * Renders the report of a results directory (moesim run, moesim cache, or a merged sweep):
 * NAME.vl.json, NAME.svg and NAME.png per chart, and report.html with everything inlined.
 * Files are written atomically; files of an earlier report that this one no longer has are removed.
 */
export async function writeReport(resultsDir: string, opts: ReportOptions = {}): Promise<ReportResult> {
  const input = loadReportInput(resultsDir);
  const dir = resolve(opts.out ?? join(input.dir, "report"));
  const manifestPath = join(dir, "report.json");
  let previous: string[] = [];
  if (existsSync(dir)) {
    const entries = readdirSync(dir).filter((e) => !e.startsWith("."));
    if (existsSync(manifestPath)) {
      try {
        previous = (JSON.parse(readFileSync(manifestPath, "utf8")) as { files?: string[] }).files ?? [];
      } catch {
        previous = [];
      }
    } else if (entries.length > 0 && !opts.force) {
      throw new UserError(`report folder ${dir} exists and was not written by moesim; choose another with --out, or pass --force`);
    }
  }
  const charts = buildCharts(input);
  const written: string[] = [];
  const htmlCharts: HtmlChart[] = [];
  const put = (name: string, data: string | Uint8Array): void => {
    writeFileAtomic(join(dir, name), data);
    written.push(name);
  };
  for (const c of charts) {
    const files = [`${c.id}.vl.json`, `${c.id}.svg`];
    put(`${c.id}.vl.json`, JSON.stringify(c.spec, null, 2) + "\n");
    const svg = await renderSvg(c.spec);
    put(`${c.id}.svg`, svg);
    if (opts.png !== false) {
      put(`${c.id}.png`, svgToPng(svg));
      files.push(`${c.id}.png`);
    }
    htmlCharts.push({ id: c.id, title: c.title, spec: c.spec, files });
  }
  const title = `moesim report: ${input.name}`;
  put("report.html", reportHtml(title, summaryTable(input), htmlCharts));
  for (const f of previous) if (!written.includes(f) && /^[\w.-]+$/.test(f)) rmSync(join(dir, f), { force: true });
  writeFileAtomic(manifestPath, JSON.stringify({ format: REPORT_FORMAT, source: input.dir, kind: input.kind, charts: charts.map((c) => c.id), files: written }, null, 2) + "\n");
  return { dir, html: join(dir, "report.html"), charts: htmlCharts.map((c) => ({ id: c.id, files: c.files })) };
}

/** Called by `moesim run` (src/cli/report-hook.ts): renders RESULTS_DIR/report/ and returns the HTML page's path. */
export async function renderReport(resultsDir: string): Promise<string> {
  return (await writeReport(resultsDir)).html;
}
