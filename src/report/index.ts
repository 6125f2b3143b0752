import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { UserError } from "../util/errors.js";
import { checkOutputDir, outputError, removeStaleSiblings, swapIntoPlace, tempSibling } from "../util/output.js";
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

/** The names of the files a report folder holds. */
const isReportFile = (f: string): boolean =>
  /^[\w.-]+\.(vl\.json|svg|png)$/.test(f) || f === "report.html" || f === "report.json";

/** Whether `dir` holds a report moesim wrote: its report.json carries the report format tag. */
function isReportFolder(dir: string): boolean {
  try {
    return (
      (JSON.parse(readFileSync(join(dir, "report.json"), "utf8")) as { format?: unknown }).format === REPORT_FORMAT
    );
  } catch {
    return false;
  }
}

/**
 * Checks the report's output folder: absent, empty, or a report moesim wrote (report.json with the
 * format tag). The default folder (RESULTS_DIR/report) is also replaced when it holds only report
 * files (what a report killed half-way by an older moesim left); with `force`, so is any folder
 * holding only report files. A folder with anything else in it is never replaced.
 */
function checkReportTarget(dir: string, shown: string, isDefault: boolean, force: boolean): void {
  if (!existsSync(dir)) return;
  if (!statSync(dir).isDirectory())
    throw new UserError(`cannot write report folder ${shown}: it is a file, not a folder; choose another with --out`);
  const entries = readdirSync(dir).filter((e) => !e.startsWith("."));
  if (entries.length === 0 || isReportFolder(dir)) return;
  const onlyReport = entries.every(isReportFile);
  if (onlyReport && (isDefault || force)) return;
  const hint = onlyReport ? "pass --force to replace it, or choose another with --out" : "choose another with --out";
  throw new UserError(`report folder ${shown} exists and was not written by moesim; ${hint}`);
}

/**
 * Renders the report of a results directory (moesim run, moesim cache, or a merged sweep):
 * NAME.vl.json, NAME.svg and NAME.png per chart, and report.html with everything inlined.
 * The report is built in a temporary folder beside its place and renamed into place when complete,
 * so a killed process never leaves half a report; leftovers of killed processes are removed.
 */
export async function writeReport(resultsDir: string, opts: ReportOptions = {}): Promise<ReportResult> {
  const input = loadReportInput(resultsDir);
  const isDefault = opts.out === undefined;
  const shown = opts.out ?? join(input.dir, "report");
  const dir = isDefault ? resolve(input.dir, "report") : checkOutputDir(opts.out!, "report folder");
  checkReportTarget(dir, shown, isDefault, opts.force === true);
  removeStaleSiblings(dir);
  const charts = buildCharts(input);
  const tmp = tempSibling(dir, "tmp");
  const written: string[] = [];
  const htmlCharts: HtmlChart[] = [];
  try {
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp);
    const put = (name: string, data: string | Uint8Array): void => {
      writeFileSync(join(tmp, name), data);
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
    const manifest = {
      format: REPORT_FORMAT,
      source: input.dir,
      kind: input.kind,
      charts: charts.map((c) => c.id),
      files: written,
    };
    writeFileSync(join(tmp, "report.json"), JSON.stringify(manifest, null, 2) + "\n");
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    outputError(e, shown, "report folder");
  }
  swapIntoPlace(tmp, dir, "report folder");
  return { dir, html: join(dir, "report.html"), charts: htmlCharts.map((c) => ({ id: c.id, files: c.files })) };
}

/** Called by `moesim run` (src/cli/report-hook.ts): renders RESULTS_DIR/report/ and returns the HTML page's path. */
export async function renderReport(resultsDir: string): Promise<string> {
  return (await writeReport(resultsDir)).html;
}
