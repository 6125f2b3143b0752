import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { workerEntry } from "../../src/sweep/bundle.js";

/** The kept worker bundle: reused while its sources are unchanged, rebuilt when the index says otherwise. */
describe("sweep worker bundle cache", () => {
  it("is reused, lists its sources, and is rebuilt when a listed source no longer matches", async () => {
    const a = await workerEntry();
    expect(a.kind).toBe("bundle");
    const file = fileURLToPath(a.url);
    const indexPath = join(file, "..", "sweep-worker.json");
    const index = JSON.parse(readFileSync(indexPath, "utf8")) as { file: string; inputs: Array<[string, number, number]> };
    expect(index.file).toBe(file.split("/").pop());
    const main = index.inputs.find(([p]) => p.endsWith(join("src", "sweep", "worker-main.ts")));
    expect(main).toBeDefined();
    expect(main![1]).toBe(statSync(main![0]).size);
    const ino = statSync(file).ino;
    const b = await workerEntry();
    expect(b.url.href).toBe(a.url.href);
    expect(statSync(file).ino).toBe(ino); // reused: the same file, not a new one renamed into place
    // an index whose record of a source is stale: the next call rebuilds (same sources, same bundle name)
    writeFileSync(indexPath, JSON.stringify({ ...index, inputs: index.inputs.map(([p, s, m], i) => (i === 0 ? [p, s + 1, m] : [p, s, m])) }));
    const c = await workerEntry();
    expect(c.url.href).toBe(a.url.href);
    expect(statSync(file).ino).not.toBe(ino); // written anew
    const rebuilt = JSON.parse(readFileSync(indexPath, "utf8")) as typeof index;
    expect(rebuilt.inputs[0][1]).toBe(index.inputs[0][1]);
  });
});

describe("sweep from a compiled build", () => {
  it("runs its workers from the compiled point runner beside it (no bundling, no TypeScript loader)", () => {
    const root = resolve(import.meta.dirname, "..", "..");
    // compiled under node_modules so that the build resolves the project's packages, as dist/ does
    const out = join(root, "node_modules", ".cache", "moesim-test-build");
    rmSync(out, { recursive: true, force: true });
    const tsc = spawnSync(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", join(root, "tsconfig.build.json"), "--outDir", out], { encoding: "utf8" });
    expect(tsc.status, tsc.stdout + tsc.stderr).toBe(0);
    const results = mkdtempSync(join(tmpdir(), "moesim-built-sweep-"));
    const trace = join(root, "scenarios", "traces", "quickstart.mtrace");
    const script = `
      const { parseSweep, runSweep, mergeSweeps } = await import(${JSON.stringify(pathToFileURL(join(out, "sweep", "index.js")).href)});
      const spec = parseSweep(${JSON.stringify(
        `name: built\nbase:\n  cluster: { preset: dgx-h100 }\n  model: { preset: olmoe-1b-7b }\n  trace: { file: ${JSON.stringify(trace)} }\n` +
          `  workload: { phase: decode, batching: { kind: static, batch_size: 8 }, max_steps: 2 }\n  outputs: { timelines: false }\n` +
          `grid:\n  policies.gating.policy: [dynamic, static]\n`,
      )}, "built.yaml");
      const r = await runSweep(spec, { workers: 2, out: ${JSON.stringify(results)} });
      console.log(JSON.stringify({ ran: r.ran, entry: r.entry, merged: mergeSweeps([${JSON.stringify(results)}]).files.has("sweep.json") }));`;
    try {
      // a plain node: no TypeScript loader inherited (vitest's would otherwise be on)
      const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", env: { ...process.env, NODE_OPTIONS: "" } });
      expect(run.status, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout.trim().split("\n").pop()!)).toEqual({ ran: 2, entry: "bundle", merged: true });
    } finally {
      rmSync(results, { recursive: true, force: true });
      rmSync(out, { recursive: true, force: true });
    }
  }, 120_000);
});
