/**
 * The paper table: each finding's paper number beside moesim's, the relative error and a status
 * (within 15%, or explained), as text, JSON and the markdown of docs/paper-reproduction.md.
 */
import { FINDINGS, type Finding, type Unit } from "./findings.js";
import type { PaperResults } from "./results.js";

/** A row is within tolerance when moesim is within this relative error of the paper. */
export const TOLERANCE = 0.15;

export type Status = "within 15%" | "explained" | "open";

export interface PaperRow {
  id: string;
  finding: string;
  paper: number;
  paper_text: string;
  moesim: number;
  moesim_text: string;
  unit: Unit;
  /** (moesim - paper) / paper; for a bound, 0 when moesim meets it. */
  relative_error: number;
  status: Status;
  metric: string;
  explained: string | null;
}

const sig = (x: number, d = 3): number => (Number.isFinite(x) ? Number(x.toPrecision(d)) : x);

export function fmtValue(v: number, unit: Unit): string {
  if (!Number.isFinite(v)) return String(v);
  switch (unit) {
    case "x":
      return `${sig(v)}x`;
    case "GB":
      return `${v.toFixed(2)} GB`;
    case "per GPU":
      return String(sig(v, 4));
    case "share":
      return v.toFixed(3);
    case "%":
      return `${v >= 0 ? "+" : ""}${v.toFixed(1)}%`;
  }
}

function paperText(f: Finding): string {
  const v = fmtValue(f.paper, f.unit);
  return f.bound === "above" ? `> ${v}` : f.bound === "below" ? `< ${v}` : v;
}

/** Evaluates one finding on the results. */
export function evaluate(f: Finding, r: PaperResults): PaperRow {
  const moesim = f.compute(r);
  let err = (moesim - f.paper) / f.paper;
  if (f.bound === "above" && moesim > f.paper) err = 0;
  if (f.bound === "below" && moesim < f.paper) err = 0;
  const within = Number.isFinite(err) && Math.abs(err) <= TOLERANCE;
  return {
    id: f.id,
    finding: f.finding,
    paper: f.paper,
    paper_text: paperText(f),
    moesim: sig(moesim, 4),
    moesim_text: fmtValue(moesim, f.unit),
    unit: f.unit,
    relative_error: sig(err),
    status: within ? "within 15%" : f.explained ? "explained" : "open",
    metric: f.metric,
    explained: within ? null : explanation(f, r),
  };
}

/** A finding's explanation, with its measured sensitivity sentence (if any) before "Settled by". */
function explanation(f: Finding, r: PaperResults): string | null {
  if (!f.explained) return null;
  const sens = f.sensitivity?.(r, f.paper);
  if (!sens) return f.explained;
  const at = f.explained.lastIndexOf("Settled by");
  return at < 0 ? `${f.explained} ${sens}` : `${f.explained.slice(0, at)}${sens} ${f.explained.slice(at)}`;
}

export function paperTable(r: PaperResults): PaperRow[] {
  return FINDINGS.map((f) => evaluate(f, r));
}

const pct = (e: number): string => `${e >= 0 ? "+" : ""}${(e * 100).toFixed(0)}%`;

/** Counts of rows by status. */
export function tally(rows: PaperRow[]): Record<Status, number> {
  const t: Record<Status, number> = { "within 15%": 0, explained: 0, open: 0 };
  for (const row of rows) t[row.status]++;
  return t;
}

/** The plain-text table the command prints. */
export function textTable(rows: PaperRow[]): string {
  const head = ["finding", "paper", "moesim", "rel. error", "status"];
  const body = rows.map((x) => [x.finding, x.paper_text, x.moesim_text, pct(x.relative_error), x.status]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  const t = tally(rows);
  return [
    line(head),
    ...body.map(line),
    "",
    `${t["within 15%"]} of ${rows.length} rows within 15%, ${t.explained} explained, ${t.open} open`,
  ].join("\n");
}

const cell = (s: string): string => s.replace(/\|/g, "\\|");

/** The markdown table and the explanations, as docs/paper-reproduction.md embeds them. */
export function markdownTable(rows: PaperRow[]): string {
  const t = tally(rows);
  const out = [
    "| finding | paper | moesim | relative error | status | moesim's metric |",
    "|---|---|---|---|---|---|",
    ...rows.map(
      (x) =>
        `| ${cell(x.finding)} | ${cell(x.paper_text)} | ${cell(x.moesim_text)} | ${pct(x.relative_error)} | ` +
        `${x.status === "explained" ? `explained ([${x.id}](#${x.id}))` : x.status} | ${cell(x.metric)} |`,
    ),
    "",
    `${t["within 15%"]} of ${rows.length} rows are within 15% of the paper, ${t.explained} are explained below` +
      (t.open ? `, ${t.open} are open.` : "."),
    "",
    "### Rows outside 15%",
    "",
  ];
  for (const x of rows.filter((r) => r.status !== "within 15%")) {
    out.push(
      `<a id="${x.id}"></a>**${cell(x.finding)}** (${x.paper_text} ` +
        `vs ${x.moesim_text}): ${x.explained ?? "not explained yet."}`,
    );
    out.push("");
  }
  return out.join("\n").trimEnd() + "\n";
}
