import { mkdirSync, renameSync, writeFileSync, existsSync, rmSync, statSync } from "node:fs";
import { dirname, join, basename } from "node:path";
import { UserError } from "./errors.js";
import { checkOutputFile, outputError } from "./output.js";

let counter = 0;

/**
 * Writes a file atomically: the data goes to a temporary file beside the target, then a rename
 * replaces the target in one step, so a reader never sees half a file and a crash leaves the old one.
 * A target that is a folder or a device is refused (a rename would replace it), and file-system
 * errors (permission, read-only, no space) become one clear UserError.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  let st: ReturnType<typeof statSync> | undefined;
  try {
    st = statSync(path, { throwIfNoEntry: false });
  } catch (e) {
    outputError(e, path, "file");
  }
  if (st && !st.isFile()) {
    throw new UserError(
      `cannot write ${path}: it ` +
        `is ${st.isDirectory() ? "a folder" : "not a regular file (a device, pipe or socket)"}; ` +
        `give a file path`,
    );
  }
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${counter++}.tmp`);
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    if (existsSync(tmp)) rmSync(tmp, { force: true });
    outputError(e, path, "file");
  }
}

/** Writes JSON atomically with a trailing newline. */
export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, JSON.stringify(value, null, 2) + "\n");
}

/**
 * Writes a file the user named (a CLI --out, an output argument): the path is checked first (not a
 * folder or device, its folder exists; see checkOutputFile), then written atomically.
 */
export function writeOutputFile(path: string, data: string | Uint8Array, what: string): string {
  const abs = checkOutputFile(path, what);
  writeFileAtomic(abs, data);
  return abs;
}
