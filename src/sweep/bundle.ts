import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, utimesSync } from "node:fs";
import { writeFileAtomic } from "../util/fs.js";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** The worker entry that runs through tsx: always works, but each worker spends ~1 s of CPU starting. */
export const TSX_WORKER_URL = new URL("./worker.mjs", import.meta.url);

export interface WorkerEntry {
  url: URL;
  /** "bundle" (plain JavaScript, fast to start) or "tsx" (the fallback). */
  kind: "bundle" | "tsx";
}

/**
 * Bundles the point runner (src/sweep/worker-main.ts and the simulator it imports) into one
 * JavaScript file with esbuild, so a worker starts by parsing one file instead of compiling every
 * TypeScript module through tsx's loader thread: worker start-up drops from about a second of CPU
 * to a few tens of milliseconds, which is what lets small points scale across many cores.
 * Packages stay external: the bundle goes to node_modules/.cache/moesim/ so they resolve from the
 * project's node_modules. `import.meta.url` keeps each source file's own URL, so paths built from
 * it (shipped traces, fitted parameters) still point into src/. On any failure (no esbuild, a
 * read-only install) the tsx entry is used instead; results are the same either way.
 *
 * The bundle is kept and reused (building it costs ~0.2 s, paid by every sweep otherwise): an
 * index beside it lists every source file that went in with its size and modification time, and
 * the bundle is rebuilt when any of them differs. Bundles are named by a hash of their content and
 * written atomically, so sweeps started together share one and never read a half-written file.
 */
const INDEX = "sweep-worker.json";

interface BundleIndex {
  /** The worker entry it was built from: a node_modules shared by two checkouts holds one index. */
  entry: string;
  file: string;
  inputs: Array<[string, number, number]>;
}

function unchanged(index: BundleIndex, outDir: string, entry: string): boolean {
  if (index.entry !== entry) return false;
  if (!existsSync(join(outDir, index.file))) return false;
  for (const [path, size, mtime] of index.inputs) {
    try {
      const st = statSync(path);
      if (st.size !== size || st.mtimeMs !== mtime) return false;
    } catch {
      return false;
    }
  }
  return true;
}

/** Bundles the index no longer names and no sweep has used for a day (reuse touches them). */
function removeStale(outDir: string, keep: string): void {
  const day = 24 * 3600 * 1000;
  for (const f of readdirSync(outDir)) {
    if (!/^sweep-worker-.*\.mjs$/.test(f) || f === keep) continue;
    const path = join(outDir, f);
    try {
      if (Date.now() - statSync(path).mtimeMs > day) rmSync(path, { force: true });
    } catch {
      // another sweep removed it first
    }
  }
}

export async function workerEntry(): Promise<WorkerEntry> {
  // Compiled (`npm run build`: this file is dist/sweep/bundle.js): the point runner is plain
  // JavaScript already, beside this file; nothing to bundle and no TypeScript loader needed.
  if (import.meta.url.endsWith(".js")) return { url: new URL("./worker-main.js", import.meta.url), kind: "bundle" };
  const fallback: WorkerEntry = { url: TSX_WORKER_URL, kind: "tsx" };
  if (process.env.MOESIM_SWEEP_BUNDLE === "0") return fallback;
  // A bundle made elsewhere (a machine with node but without the dev dependencies, say)
  const given = process.env.MOESIM_SWEEP_BUNDLE;
  if (given && given !== "1") return { url: pathToFileURL(resolve(given)), kind: "bundle" };
  try {
    const entry = fileURLToPath(new URL("./worker-main.ts", import.meta.url));
    const root = resolve(dirname(entry), "..", "..");
    const outDir = join(root, "node_modules", ".cache", "moesim");
    mkdirSync(outDir, { recursive: true });
    const indexPath = join(outDir, INDEX);
    try {
      const index = JSON.parse(readFileSync(indexPath, "utf8")) as BundleIndex;
      if (unchanged(index, outDir, entry)) {
        // marked as used now, so that removeStale (elsewhere, after a rebuild) leaves it alone
        const file = join(outDir, index.file);
        const now = new Date();
        utimesSync(file, now, now);
        return { url: pathToFileURL(file), kind: "bundle" };
      }
    } catch {
      // no index yet, or an unreadable one: build
    }
    const esbuild = await import("esbuild");
    const result = await esbuild.build({
      entryPoints: [entry],
      write: false,
      metafile: true,
      outfile: join(outDir, "sweep-worker.mjs"),
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      // Packages are bundled too (seedrandom, the priority queue; zod only behind the dynamic import
      // of the profile schema, so it is parsed but never run unless a scenario names a profile):
      // one file to load is what makes a worker start fast. Native or unused ones stay outside.
      external: ["webgpu", "@resvg/resvg-js", "esbuild", "playwright-core", "vega", "vega-lite", "vega-embed", "yaml"],
      // CommonJS packages (seedrandom) require Node's built-in modules.
      banner: {
        js:
          'import { createRequire as __moesimRequire } from "node:module"; const require = ' +
          "__moesimRequire(import.meta.url);",
      },
      logLevel: "silent",
      plugins: [
        {
          name: "keep-import-meta-url",
          setup(build) {
            build.onLoad({ filter: /\.[cm]?ts$/ }, (args) => ({
              contents: readFileSync(args.path, "utf8").replace(
                /\bimport\.meta\.url\b/g,
                JSON.stringify(pathToFileURL(args.path).href),
              ),
              loader: "ts",
            }));
          },
        },
      ],
    });
    const code = result.outputFiles[0].contents;
    const file = `sweep-worker-${createHash("sha256").update(code).digest("hex").slice(0, 16)}.mjs`;
    writeFileAtomic(join(outDir, file), code);
    const inputs: BundleIndex["inputs"] = Object.keys(result.metafile.inputs).map((rel) => {
      const path = resolve(rel);
      const st = statSync(path);
      return [path, st.size, st.mtimeMs];
    });
    writeFileAtomic(indexPath, JSON.stringify({ entry, file, inputs } satisfies BundleIndex) + "\n");
    removeStale(outDir, file);
    return { url: pathToFileURL(join(outDir, file)), kind: "bundle" };
  } catch {
    return fallback;
  }
}
