import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join, resolve, sep } from "node:path";
import { UserError } from "./errors.js";

/**
 * Output paths: where moesim writes, and what it may replace there. Every results folder (run,
 * cache, report) is built in a temporary sibling and renamed into place, and carries a marker
 * file with a format tag; a folder is replaced only when it carries that marker.
 */

/** The folder that default results go to, relative to the working directory; missing folders inside it are created. */
export const RESULTS_ROOT = "results";
/** The marker file in every folder moesim writes, holding {"format": "<tag>"}. */
export const RESULTS_MARKER = ".moesim-results";

const ERRNO: Record<string, string> = {
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "read-only file system",
  ENOSPC: "no space left on the device",
  EDQUOT: "disk quota exceeded",
  ENOTDIR: "a part of the path is a file, not a folder",
  EISDIR: "it is a folder",
  ENOENT: "a folder on the path does not exist",
  ENAMETOOLONG: "the name is too long",
  EEXIST: "something else is in the way",
  ENOTEMPTY: "a folder is in the way",
  ELOOP: "too many symbolic links",
  EBUSY: "the path is busy",
  EXDEV: "the temporary copy is on another file system",
  EINVAL: "invalid path",
};

/** A file-system error of writing `path` as one clear line (a UserError); anything else is rethrown. */
export function outputError(e: unknown, path: string, what: string): never {
  if (e instanceof UserError) throw e;
  const code = (e as NodeJS.ErrnoException)?.code;
  if (typeof code === "string" && code in ERRNO)
    throw new UserError(`cannot write ${what} ${path}: ${ERRNO[code]} (${code})`);
  throw e;
}

function statOf(path: string): ReturnType<typeof statSync> | undefined {
  try {
    return statSync(path, { throwIfNoEntry: false });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOTDIR") return undefined;
    throw e;
  }
}

/** True when `p` is `root` or lies inside it. */
export function isInside(p: string, root: string): boolean {
  return p === root || p.startsWith(root.endsWith(sep) ? root : root + sep);
}

/**
 * Makes sure the folder that will hold `path` exists. Inside the results root (./results) missing
 * folders are created; anywhere else a missing folder is an error naming it, so that a typo does
 * not silently make a folder tree somewhere.
 */
export function ensureParent(path: string, what: string): void {
  const abs = resolve(path);
  const parent = dirname(abs);
  const st = statOf(parent);
  if (st) {
    if (!st.isDirectory()) throw new UserError(`cannot write ${what} ${path}: ${parent} is a file, not a folder`);
    return;
  }
  if (isInside(parent, resolve(RESULTS_ROOT))) {
    try {
      mkdirSync(parent, { recursive: true });
    } catch (e) {
      outputError(e, path, what);
    }
    return;
  }
  let missing = parent;
  for (let up = dirname(missing); up !== missing && !statOf(up); up = dirname(up)) missing = up;
  const upSt = statOf(dirname(missing));
  if (upSt && !upSt.isDirectory())
    throw new UserError(`cannot write ${what} ${path}: ${dirname(missing)} is a file, not a folder`);
  throw new UserError(
    `cannot write ${what} ${path}: folder ${missing} does not exist (create it first, or check the path)`,
  );
}

/**
 * Checks a path a file is to be written to: not empty, not a folder or device, in an existing folder. Returns it
 * absolute.
 */
export function checkOutputFile(path: string, what: string): string {
  if (path.trim() === "") throw new UserError(`${what}: the path is empty; give a file path`);
  const abs = resolve(path);
  const st = statOf(abs);
  if (st?.isDirectory()) throw new UserError(`cannot write ${what} ${path}: it is a folder; give a file path`);
  if (st && !st.isFile())
    throw new UserError(
      `cannot write ${what} ${path}: it is not a regular file (a device, pipe or socket); give a file path`,
    );
  ensureParent(abs, what);
  return abs;
}

/**
 * Checks a path a folder is to be written to: not empty, not a file or device, in an existing folder. Returns it
 * absolute.
 */
export function checkOutputDir(path: string, what: string): string {
  if (path.trim() === "") throw new UserError(`${what}: the path is empty; give a folder path`);
  const abs = resolve(path);
  const st = statOf(abs);
  if (st && !st.isDirectory()) {
    throw new UserError(
      `cannot write ${what} ${path}: it ` +
        `is ${st.isFile() ? "a file" : "not a folder (a device, pipe or socket)"}; give a ` +
        `folder path`,
    );
  }
  const cwd = process.cwd();
  if (isInside(cwd, abs))
    throw new UserError(`cannot write ${what} ${path}: it holds the working directory; give a folder of its own`);
  if (abs === resolve(RESULTS_ROOT))
    throw new UserError(
      `cannot write ${what} ${path}: it is the results root itself, which holds every run; give a folder inside it`,
    );
  if (!st) ensureParent(abs, what);
  return abs;
}

/** The format tag of a folder's marker, or null when it has none (or an unreadable one). */
export function markerFormat(dir: string): string | null {
  try {
    const m = JSON.parse(readFileSync(join(dir, RESULTS_MARKER), "utf8")) as { format?: unknown };
    return typeof m?.format === "string" ? m.format : null;
  } catch {
    return null;
  }
}

/** The marker file's text for a folder of the given format tag. */
export function markerText(format: string, kind: string): string {
  return JSON.stringify({ format, kind, note: "written by moesim; moesim may replace this folder" }) + "\n";
}

function pidAlive(pid: number): boolean {
  if (pid === process.pid) return false; // our own leftover from an earlier call in this process
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Temporary folders this process is building, removed if it exits before they are renamed into place. */
const building = new Set<string>();
let exitHook = false;

/**
 * Temporary siblings of `target` (.NAME.tmp-PID, .NAME.old-PID). A "tmp" sibling is removed when
 * the process exits before swapIntoPlace has renamed it (an early exit: the reader of stdout went
 * away, `process.exit` elsewhere), so no half-built folder is left beside the user's files.
 */
export function tempSibling(target: string, kind: "tmp" | "old"): string {
  const path = join(dirname(target), `.${basename(target)}.${kind}-${process.pid}`);
  if (kind === "tmp") {
    building.add(path);
    if (!exitHook) {
      exitHook = true;
      process.on("exit", () => {
        for (const p of building) rmSync(p, { recursive: true, force: true });
      });
    }
  }
  return path;
}

/** Removes the temporary siblings of `target` that a killed process left (their process is gone). */
export function removeStaleSiblings(target: string): void {
  const parent = dirname(target);
  const prefix = `.${basename(target)}.`;
  let entries: string[];
  try {
    entries = readdirSync(parent);
  } catch {
    return;
  }
  for (const e of entries) {
    if (!e.startsWith(prefix)) continue;
    const m = /^(?:tmp|old)-(\d+)$/.exec(e.slice(prefix.length));
    if (m && !pidAlive(Number(m[1]))) rmSync(join(parent, e), { recursive: true, force: true });
  }
}

/**
 * Replaces (or creates) the folder `target` with the finished folder `tmp` in renames: the old
 * folder moves aside, the new one takes its place, the old one is removed. A reader sees the old
 * folder or the new one, never a half-written one.
 */
export function swapIntoPlace(tmp: string, target: string, what: string): void {
  building.delete(tmp);
  try {
    if (existsSync(target)) {
      const old = tempSibling(target, "old");
      rmSync(old, { recursive: true, force: true });
      renameSync(target, old);
      renameSync(tmp, target);
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(tmp, target);
    }
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    outputError(e, target, what);
  }
}
