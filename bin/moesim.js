#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx (no build step needed), so a fresh clone works
// after `npm install`. `npm run build` type-checks and emits dist/ for library use.
import { register } from "tsx/esm/api";
import { fileURLToPath, pathToFileURL } from "node:url";
import { dirname, join } from "node:path";

register();
const here = dirname(fileURLToPath(import.meta.url));
const { main, exitQuietlyOnClosedPipe } = await import(pathToFileURL(join(here, "..", "src", "cli", "main.ts")).href);
exitQuietlyOnClosedPipe();
process.exitCode = await main(process.argv);
