import { mkdirSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** The worker entry that runs through tsx: always works, but each worker spends ~1 s of CPU starting. */
export const TSX_WORKER_URL = new URL("./worker.mjs", import.meta.url);

let counter = 0;

export interface WorkerEntry {
  url: URL;
  /** "bundle" (plain JavaScript, fast to start) or "tsx" (the fallback). */
  kind: "bundle" | "tsx";
  cleanup(): void;
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
 */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Removes bundles left by sweeps that were killed (their process is gone). */
function removeOrphans(dir: string): void {
  for (const f of readdirSync(dir)) {
    const m = /^sweep-worker-(\d+)-\d+\.mjs$/.exec(f);
    if (m && Number(m[1]) !== process.pid && !alive(Number(m[1]))) rmSync(join(dir, f), { force: true });
  }
}

export async function workerEntry(): Promise<WorkerEntry> {
  const fallback: WorkerEntry = { url: TSX_WORKER_URL, kind: "tsx", cleanup() {} };
  if (process.env.MOESIM_SWEEP_BUNDLE === "0") return fallback;
  try {
    const esbuild = await import("esbuild");
    const entry = fileURLToPath(new URL("./worker-main.ts", import.meta.url));
    const root = resolve(dirname(entry), "..", "..");
    const outDir = join(root, "node_modules", ".cache", "moesim");
    mkdirSync(outDir, { recursive: true });
    removeOrphans(outDir);
    const outfile = join(outDir, `sweep-worker-${process.pid}-${counter++}.mjs`);
    await esbuild.build({
      entryPoints: [entry],
      outfile,
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      // Packages are bundled too (seedrandom, the priority queue; zod only behind the dynamic import
      // of the profile schema, so it is parsed but never run unless a scenario names a profile):
      // one file to load is what makes a worker start fast. Native or unused ones stay outside.
      external: ["webgpu", "@resvg/resvg-js", "esbuild", "playwright-core", "vega", "vega-lite", "vega-embed", "yaml"],
      // CommonJS packages (seedrandom) require Node's built-in modules.
      banner: { js: 'import { createRequire as __moesimRequire } from "node:module"; const require = __moesimRequire(import.meta.url);' },
      logLevel: "silent",
      plugins: [
        {
          name: "keep-import-meta-url",
          setup(build) {
            build.onLoad({ filter: /\.[cm]?ts$/ }, (args) => ({
              contents: readFileSync(args.path, "utf8").replace(/\bimport\.meta\.url\b/g, JSON.stringify(pathToFileURL(args.path).href)),
              loader: "ts",
            }));
          },
        },
      ],
    });
    return { url: pathToFileURL(outfile), kind: "bundle", cleanup: () => rmSync(outfile, { force: true }) };
  } catch {
    return fallback;
  }
}
