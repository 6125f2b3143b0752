import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

let cached: string | undefined;

/** Every file under dir, recursively, in a fixed (sorted) order. */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/**
 * The simulator build a point result was made by: a 16-hex-digit hash of every file of the
 * simulator's own tree (src/ when run from TypeScript, dist/ when compiled: the cost model, the
 * presets, the policies and the data files beside them). A finished point is reused only by the
 * same build, so a sweep resumed (or `moesim paper` re-run) after the model changed recomputes its
 * points instead of mixing results of two models. Computed once per process (~250 files).
 */
export function simulatorBuild(): string {
  if (cached !== undefined) return cached;
  const root = dirname(dirname(fileURLToPath(import.meta.url)));
  const h = createHash("sha256");
  for (const f of filesUnder(root)) {
    h.update(relative(root, f).split("\\").join("/")).update("\0").update(readFileSync(f)).update("\0");
  }
  cached = h.digest("hex").slice(0, 16);
  return cached;
}
