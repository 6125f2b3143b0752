import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const REAL_TRACE = resolve(repoRoot, "../shared/traces/olmoe-1b-7b-decode.jsonl.gz");
/** The real trace is present, or (outside CI) the tests that need it skip with a visible reason. */
export const haveReal = existsSync(REAL_TRACE) || !!process.env.CI;
if (!haveReal) console.warn(`skipping real-trace tests: ${REAL_TRACE} is absent`);
