#!/usr/bin/env node
// `npm run bench -- NAME [args]` runs `node --import tsx bench/NAME.ts [args]` from the repo root.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const benchDir = join(root, "bench");
const available = readdirSync(benchDir)
  .filter((f) => f.endsWith(".ts") && !f.startsWith("_"))
  .map((f) => f.slice(0, -3))
  .sort();

const [name, ...rest] = process.argv.slice(2);
if (!name || !available.includes(name)) {
  const what = name ? `unknown benchmark "${name}"` : "no benchmark named";
  console.error(`bench: ${what}. Usage: npm run bench -- NAME [args]`);
  console.error(`available: ${available.length ? available.join(", ") : "(none)"}`);
  process.exit(2);
}

const r = spawnSync(process.execPath, ["--import", "tsx", join(benchDir, `${name}.ts`), ...rest], {
  cwd: root,
  stdio: "inherit",
});
if (r.error) {
  console.error(`bench: could not start node: ${r.error.message}`);
  process.exit(1);
}
process.exit(r.status ?? 1);
