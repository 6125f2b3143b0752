#!/usr/bin/env node
// After `tsc -p tsconfig.build.json`: copies the data files the sources read at run time beside
// their compiled modules (tsc emits only JavaScript): the fitted synthesis parameters
// (src/workload/fitted/*.json, read from FITTED_DIR next to synth.js).
import { copyFileSync, mkdirSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outDir = process.argv[2] ?? join(root, "dist");
for (const rel of ["workload/fitted"]) {
  const from = join(root, "src", rel);
  const to = join(outDir, rel);
  mkdirSync(to, { recursive: true });
  for (const f of readdirSync(from)) if (f.endsWith(".json")) copyFileSync(join(from, f), join(to, f));
}
