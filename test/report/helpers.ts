import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
/** Small result sets: a `moesim run` directory, a `moesim cache` directory and a merged sweep. */
export const FIXTURES = {
  run: join(repoRoot, "test/fixtures/report/run"),
  /** A two-batch overlap run (4 GPUs on 2 nodes, 4 steps): timeline, link samples, dispatch matrix. */
  runOverlap: join(repoRoot, "test/fixtures/report/run-overlap"),
  cache: join(repoRoot, "test/fixtures/report/cache"),
  sweep: join(repoRoot, "test/fixtures/report/sweep"),
  /** Hand-written: static gating runs out of memory at batch 64. */
  sweepOom: join(repoRoot, "test/fixtures/report/sweep-oom"),
};

export function tempDir(prefix = "moesim-report-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Texts of the SVG <text> elements with a given role class (e.g. "role-axis-title"). */
export function svgTexts(svg: string, role: string): string[] {
  const out: string[] = [];
  const groupRe = new RegExp(`<g class="mark-text role-${role}"[^>]*>([\\s\\S]*?)</g>`, "g");
  for (const g of svg.matchAll(groupRe))
    for (const t of g[1].matchAll(/<text[^>]*>([^<]*)<\/text>/g)) out.push(unescape(t[1]));
  return out;
}

const unescape = (s: string): string =>
  s
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&");

/** Count of marks of a type (vega's SVG groups: mark-line, mark-rect, mark-symbol, mark-area, mark-rule). */
export function markCount(svg: string, type: string): number {
  let n = 0;
  // An empty mark group is self-closing (<g .../>) and holds nothing.
  const re = new RegExp(`<g class="mark-${type} role-mark[^"]*"[^>]*?(/>|>([\\s\\S]*?)</g>)`, "g");
  for (const m of svg.matchAll(re)) n += ((m[2] ?? "").match(/<(path|line|rect)\b/g) ?? []).length;
  return n;
}

/** Width and height from a PNG's IHDR chunk. */
export function pngSize(png: Uint8Array): { width: number; height: number } {
  const b = Buffer.from(png);
  if (b.subarray(0, 8).toString("hex") !== "89504e470d0a1a0a") throw new Error("not a PNG");
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}
