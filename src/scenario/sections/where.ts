/** Where a resolution error is in the scenario: the key path and file:line:col in front of it. */
import { dirname, isAbsolute, resolve as resolvePath } from "node:path";
import { UserError } from "../../util/errors.js";
import type { LoadedScenario } from "../load.js";

/** Runs `fn`, re-throwing a UserError with the scenario location of `path` in front. */
export function at<T>(loaded: LoadedScenario, path: (string | number)[], fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof UserError) {
      const key = path.join(".");
      throw new UserError(`${key}: ${e.message}`, loaded.locate(path));
    }
    throw e;
  }
}

export async function atAsync<T>(loaded: LoadedScenario, path: (string | number)[], fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof UserError) throw new UserError(`${path.join(".")}: ${e.message}`, loaded.locate(path));
    throw e;
  }
}

/** Resolves a path given in a scenario: relative to the scenario file's folder. */
export function scenarioPath(loaded: LoadedScenario, p: string): string {
  if (isAbsolute(p)) return p;
  const base = loaded.file === "<inline>" ? process.cwd() : dirname(resolvePath(loaded.file));
  return resolvePath(base, p);
}
