import { statSync } from "node:fs";
import { readTrace } from "./read.js";
import type { RoutingTrace } from "./trace.js";

/**
 * The last trace file read, kept for the next scenario that names the same file unchanged (same
 * size and modification time) with the same options: a sweep's points usually share one trace.
 * Traces are never mutated after reading, so sharing the object is safe.
 */
let lastTrace: { key: string; trace: Promise<RoutingTrace> } | null = null;

/** readTrace, or the last trace read when `path` and `opts` are those of the last call and the file has not changed. */
export function cachedTrace(path: string, opts: Parameters<typeof readTrace>[1]): Promise<RoutingTrace> {
  const st = statSync(path);
  const key = JSON.stringify([path, st.size, st.mtimeMs, opts]);
  if (lastTrace?.key !== key) {
    const trace = readTrace(path, opts);
    lastTrace = { key, trace };
    trace.catch(() => {
      if (lastTrace?.key === key) lastTrace = null;
    });
  }
  return lastTrace.trace;
}
