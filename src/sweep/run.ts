import { existsSync, readFileSync, readdirSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { UserError } from "../util/errors.js";
import { writeFileAtomic } from "../util/fs.js";
import { checkOutputDir } from "../util/output.js";
import { workerEntry } from "./bundle.js";
import { simulatorBuild } from "./build.js";
import { describePoint, pointText, withoutBaseFile } from "./point.js";
import { quietProgress, type ProgressSink } from "./progress.js";
import { shardPoints, type SweepPoint, type SweepSpec } from "./spec.js";
import { POINT_FORMAT, type PointResult } from "../scenario/sweep-results.js";
import type { PointReply, PointTask } from "./worker-main.js";

export const SPEC_FORMAT = "moesim-sweep-spec/v1";

/** sweep-spec.json: what a sweep folder is for, so merge can check shards belong together and none is missing. */
export interface SweepManifest {
  format: typeof SPEC_FORMAT;
  name: string;
  base_hash: string;
  param_keys: string[];
  points: number;
}

export interface SweepOptions {
  /** Worker threads (default: all cores). */
  workers?: number;
  /** Run only shard i of n. */
  shard?: { index: number; count: number } | null;
  /** Output folder (default: the spec's out). */
  out?: string;
  progress?: ProgressSink;
  /** Stop after this many points have finished (tests use it to stand in for a killed sweep). */
  stopAfter?: number;
}

export interface SweepRun {
  out: string;
  total: number;
  /** Points of this shard. */
  selected: number;
  skipped: number;
  ran: number;
  workers: number;
  seconds: number;
  /** How the workers loaded the simulator ("bundle", or "tsx" as the fallback); null when nothing ran. */
  entry: "bundle" | "tsx" | null;
}

export const pointsDir = (out: string): string => join(out, "points");

/**
 * Reads a finished point file, or null when absent, unreadable, made from another base scenario
 * or (when `build` is given) by another simulator build (simulatorBuild).
 */
export function readPoint(path: string, baseHash?: string, build?: string): PointResult | null {
  if (!existsSync(path)) return null;
  try {
    const p = JSON.parse(readFileSync(path, "utf8")) as PointResult;
    if (p.format !== POINT_FORMAT || (baseHash !== undefined && p.base_hash !== baseHash)) return null;
    if (build !== undefined && p.build !== build) return null;
    return p;
  } catch {
    return null;
  }
}

/** Serializes a point result; the same point always gives the same bytes. */
export function pointJson(p: PointResult): string {
  return JSON.stringify(p, null, 2) + "\n";
}

/** The sweep folder must be this sweep's (resumed) or new: another sweep's folder, or any other folder, is refused. */
function checkOutDir(out: string, manifestPath: string, name: string): void {
  if (existsSync(manifestPath)) {
    const old = JSON.parse(readFileSync(manifestPath, "utf8")) as SweepManifest;
    if (old.name !== name) throw new UserError(`${out} holds sweep '${old.name}', not '${name}'; choose another --out`);
  } else if (existsSync(out) && readdirSync(out).filter((e) => !e.startsWith(".")).length > 0) {
    throw new UserError(`${out} exists and is not a sweep folder; choose another --out`);
  }
}

/**
 * Runs a sweep's points (or one shard's) on a pool of worker threads. Each finished point is written
 * at once, atomically, as points/<key>.json; points whose file exists (same base scenario) are
 * skipped, so a killed sweep resumes where it stopped. Results do not depend on the worker count:
 * every point is simulated alone from its own scenario and seed.
 */
export async function runSweep(spec: SweepSpec, opts: SweepOptions = {}): Promise<SweepRun> {
  const t0 = performance.now();
  const out = checkOutputDir(opts.out ?? spec.out, "sweep folder");
  const progress = opts.progress ?? quietProgress;
  const selected = shardPoints(spec.points, opts.shard ?? null);
  const manifest: SweepManifest = {
    format: SPEC_FORMAT,
    name: spec.name,
    base_hash: spec.baseHash,
    param_keys: spec.paramKeys,
    points: spec.points.length,
  };
  const manifestPath = join(out, "sweep-spec.json");
  checkOutDir(out, manifestPath, spec.name);
  const dir = pointsDir(out);
  const build = simulatorBuild();
  const todo: SweepPoint[] = selected.filter(
    (p) => readPoint(join(dir, `${p.key}.json`), spec.baseHash, build) === null,
  );
  const skipped = selected.length - todo.length;
  const limit = opts.stopAfter ?? Infinity;
  const nWorkers = Math.max(1, Math.min(opts.workers ?? availableParallelism(), todo.length || 1));
  // The workers start (load the simulator) while this thread validates the points.
  const pool = todo.length > 0 && limit > 0 ? await startPool(nWorkers) : null;
  const tasks = new Map<number, PointTask>();
  try {
    // Validate every point before any runs: a bad override fails fast with its key path.
    for (const p of selected) {
      const { file, loaded } = pointText(spec, p);
      tasks.set(p.index, {
        index: p.index,
        key: p.key,
        scenario: loaded.scenario,
        file,
        name: `${spec.name}-${p.key}`,
      });
    }
    writeFileAtomic(manifestPath, JSON.stringify(manifest, null, 2) + "\n");
  } catch (e) {
    pool?.stop();
    throw e;
  }
  progress.start(selected.length, skipped);
  let done = skipped;
  let ran = 0;
  if (pool !== null) {
    await new Promise<void>((resolvePool, rejectPool) => {
      const queue = [...todo];
      const started = new Map<Worker, { point: SweepPoint; t: number }>();
      let failed = false;
      let live = pool.workers.length;
      const fail = (e: Error): void => {
        if (failed) return;
        failed = true;
        pool.stop();
        rejectPool(e);
      };
      const next = (w: Worker): void => {
        started.delete(w);
        const p = ran + started.size < limit ? queue.shift() : undefined;
        if (!p) {
          void w.terminate();
          return;
        }
        started.set(w, { point: p, t: performance.now() });
        w.postMessage(tasks.get(p.index));
      };
      pool.listen({
        ready: (w) => next(w),
        message: (w, m) => {
          if (failed) return;
          const cur = started.get(w)!;
          if (m.type === "error") return fail(pointError(spec, cur.point, m));
          const result: PointResult = {
            format: POINT_FORMAT,
            sweep: spec.name,
            key: cur.point.key,
            index: cur.point.index,
            base_hash: spec.baseHash,
            build,
            params: cur.point.params,
            summary: m.summary as PointResult["summary"],
          };
          writeFileAtomic(join(dir, `${cur.point.key}.json`), pointJson(result));
          ran++;
          done++;
          progress.point(done, selected.length, describePoint(cur.point), (performance.now() - cur.t) / 1000);
          next(w);
        },
        error: (e) => fail(e),
        exit: (w, code) => {
          live--;
          const cur = started.get(w);
          if (cur && !failed)
            return fail(
              new Error(`${spec.file}: worker stopped (exit code ${code}) while running ${describePoint(cur.point)}`),
            );
          if (live === 0 && !failed) resolvePool();
        },
      });
    }).finally(() => progress.stop());
  } else {
    progress.stop();
  }
  const entryKind: SweepRun["entry"] = pool?.entry.kind ?? null;
  return {
    out,
    total: spec.points.length,
    selected: selected.length,
    skipped,
    ran,
    workers: todo.length ? nWorkers : 0,
    seconds: (performance.now() - t0) / 1000,
    entry: entryKind,
  };
}

interface PoolHandlers {
  /** A worker has loaded the simulator (at once for those that did so before listen). */
  ready(w: Worker): void;
  message(w: Worker, m: PointReply): void;
  error(e: Error): void;
  exit(w: Worker, code: number): void;
}

/**
 * Starts n workers on the point runner; they load it while the caller goes on (validating points,
 * say). Messages that arrive before `listen` are held and delivered then, in order.
 */
async function startPool(n: number): Promise<{
  workers: Worker[];
  entry: Awaited<ReturnType<typeof workerEntry>>;
  listen(h: PoolHandlers): void;
  stop(): void;
}> {
  const entry = await workerEntry();
  const workers: Worker[] = [];
  let handlers: PoolHandlers | null = null;
  const held: Array<(h: PoolHandlers) => void> = [];
  const deliver = (f: (h: PoolHandlers) => void): void => {
    if (handlers) f(handlers);
    else held.push(f);
  };
  for (let i = 0; i < n; i++) {
    // A bundled worker is plain JavaScript and needs no Node options: in particular it must not
    // inherit a TypeScript loader given to this process (`node --import tsx`, as the benches
    // and tests run), which would cost every worker ~0.2 s of CPU to start.
    const w = new Worker(entry.url, entry.kind === "bundle" ? { execArgv: [] } : {});
    workers.push(w);
    w.on("message", (m: PointReply | { type: "ready" }) =>
      deliver((h) => (m.type === "ready" ? h.ready(w) : h.message(w, m))),
    );
    w.on("error", (e) => deliver((h) => h.error(e)));
    w.on("exit", (code) => deliver((h) => h.exit(w, code)));
  }
  return {
    workers,
    entry,
    listen(h) {
      handlers = h;
      for (const f of held.splice(0)) f(h);
    },
    stop() {
      for (const w of workers) void w.terminate();
    },
  };
}

/**
 * A worker's error for a point, one line: a user error is placed at the sweep file's line of the grid
 * value, points entry or set entry behind the key path it was raised at (the sweep file when none is),
 * and names the point and the key path; anything else keeps its stack.
 */
export function pointError(spec: SweepSpec, point: SweepPoint, m: Extract<PointReply, { type: "error" }>): Error {
  const which = describePoint(point);
  if (!m.user) return Object.assign(new Error(`${spec.file}: ${which}: ${m.message}`), { stack: m.stack });
  let message = withoutBaseFile(spec, m.message);
  if (m.path === undefined) return new UserError(`${which}: ${message}`, spec.file);
  // Resolve-time messages start with their key path (or its section, as "model: ..."); name it where one does not.
  if (m.path.length > 0 && !/^[A-Za-z_][\w.]*: /.test(message)) message = `${m.path.join(".")}: ${message}`;
  return new UserError(`${which}: ${message}`, spec.locateOverride(point, m.path));
}
