/**
 * The paper's scenario points, run once per test run and shared between test files (the table
 * test and the `moesim paper` help examples): the first file to ask runs them into the run's shared
 * folder under a lock (an atomic mkdir); the others wait for its marker and read the same points.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { inject } from "vitest";
import { runPaper } from "../../src/paper/index.js";
import type { PaperResults } from "../../src/paper/results.js";
import { ROOT } from "./helpers.js";

/** Runs (or waits for) the paper's points; returns them and the folder that holds them. */
export async function sharedPaperRun(): Promise<{ out: string; results: PaperResults }> {
  const base = join(inject("sharedDir"), "paper");
  const out = join(base, "points");
  const done = join(base, "done");
  const failed = join(base, "failed");
  const dir = resolve(ROOT, "scenarios", "paper");
  mkdirSync(base, { recursive: true });
  let owner = false;
  try {
    mkdirSync(join(base, "lock"));
    owner = true;
  } catch {
    // another test file holds the lock: wait for its marker
  }
  if (owner) {
    try {
      const results = await runPaper({ dir, out, workers: 2 });
      writeFileSync(done, "");
      return { out, results };
    } catch (e) {
      writeFileSync(failed, String(e));
      throw e;
    }
  }
  while (!existsSync(done)) {
    if (existsSync(failed)) throw new Error("the paper's scenarios failed in another test file (see its error)");
    await sleep(250);
  }
  // Every point is finished: this reads them back without running anything.
  return { out, results: await runPaper({ dir, out, workers: 1 }) };
}
