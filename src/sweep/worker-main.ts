import { parentPort } from "node:worker_threads";
import type { LoadedScenario } from "../scenario/load.js";
import type { Scenario } from "../scenario/schema.js";
import { runScenario } from "../scenario/run.js";
import { UserError } from "../util/errors.js";

/**
 * A point to simulate: its scenario as the main thread validated it (defaults filled in), and the
 * file relative paths resolve from. The worker never parses YAML or runs zod, so it does not load
 * them: that is a third of a worker's start-up.
 */
export interface PointTask {
  index: number;
  key: string;
  scenario: Scenario;
  file: string;
  name: string;
}

export type PointReply =
  | { type: "done"; index: number; key: string; summary: Record<string, unknown> }
  | {
      type: "error";
      index: number;
      key: string;
      user: boolean;
      message: string;
      stack?: string;
      /** The scenario key path a user error is at (so the main thread can name the sweep line that set it). */
      path?: (string | number)[];
    };

/**
 * A resolve-time error's place: the base scenario file, followed by its key path between ␞ marks (U+241E) (the
 * point's scenario text is generated, its lines would mean nothing to the user). The marks are taken out
 * again by `placeError`, which hands the key path to the main thread.
 */
const MARKED = /\u241e([^\u241e]*)\u241e/g;
const mark = (file: string, path: readonly (string | number)[]): string => `${file}\u241e${JSON.stringify(path)}\u241e`;

/** A point's error message without the marks, and the key path of the place it was raised at (if any). */
export function placeError(e: unknown): { message: string; path?: (string | number)[] } {
  const err = e as Error;
  const message = (err?.message ?? String(e)).replace(MARKED, "");
  const where = e instanceof UserError ? e.where : undefined;
  const m = where === undefined ? null : new RegExp(MARKED.source).exec(where);
  return m ? { message, path: JSON.parse(m[1]) as (string | number)[] } : { message };
}

/** Simulates one point and returns its summary without the (machine-dependent) results_dir. */
export async function runPoint(task: PointTask): Promise<Record<string, unknown>> {
  const loaded: LoadedScenario = { scenario: task.scenario, file: task.file, locate: (p) => mark(task.file, p) };
  const run = await runScenario(loaded, { name: task.name, outDir: ".", files: false });
  const { results_dir: _drop, ...summary } = run.summary as unknown as Record<string, unknown>;
  return summary;
}

if (parentPort) {
  const port = parentPort;
  // The reply (done or error) is posted from the promise: runPoint's failures never escape it.
  const answer = (task: PointTask): Promise<void> =>
    runPoint(task).then(
      (summary) => port.postMessage({ type: "done", index: task.index, key: task.key, summary } satisfies PointReply),
      (e: unknown) => {
        const { message, path } = placeError(e);
        port.postMessage({
          type: "error",
          index: task.index,
          key: task.key,
          user: e instanceof UserError,
          message,
          stack: (e as Error)?.stack,
          ...(path ? { path } : {}),
        } satisfies PointReply);
      },
    );
  port.on("message", (task: PointTask) => void answer(task));
  port.postMessage({ type: "ready" });
}
