import { mkdirSync, renameSync, writeFileSync, existsSync, rmSync } from "node:fs";
import { dirname, join, basename } from "node:path";

let counter = 0;

/**
 * Writes a file atomically: the data goes to a temporary file beside the target, then a rename
 * replaces the target in one step, so a reader never sees half a file and a crash leaves the old one.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${counter++}.tmp`);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    if (existsSync(tmp)) rmSync(tmp, { force: true });
    throw e;
  }
}

/** Writes JSON atomically with a trailing newline. */
export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, JSON.stringify(value, null, 2) + "\n");
}
