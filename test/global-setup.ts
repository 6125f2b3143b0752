/**
 * Once per `vitest run`: a scratch folder that test files share for expensive results they would
 * otherwise each compute (the paper's scenarios: the table test and the `moesim paper` help
 * examples read the same points). Removed when the run ends.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    sharedDir: string;
  }
}

let dir = "";

export function setup(project: TestProject): void {
  dir ||= mkdtempSync(join(tmpdir(), "moesim-tests-"));
  project.provide("sharedDir", dir);
}

export function teardown(): void {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = "";
}
