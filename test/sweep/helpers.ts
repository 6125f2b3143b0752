import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const SMALL_SWEEP = join(repoRoot, "test/fixtures/sweep/small.sweep.yaml");

export function tempDir(prefix = "moesim-sweep-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** The merged files of a sweep folder, as text. */
export function mergedFiles(dir: string): { json: string; csv: string } {
  return { json: readFileSync(join(dir, "sweep.json"), "utf8"), csv: readFileSync(join(dir, "sweep.csv"), "utf8") };
}
