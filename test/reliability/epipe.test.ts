/**
 * Output piped into a reader that stops early (`moesim schema --help | head`): moesim ends quietly
 * with exit 0, never with an unhandled EPIPE stack trace on stderr.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { pathToFileURL } from "node:url";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "..", "..");
const BIN = join(ROOT, "bin", "moesim.js");

/** Runs moesim with its stdout's reading end closed at once; returns the exit code and stderr. */
function withClosedStdout(args: string[]): Promise<{ code: number | null; err: string }> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.destroy();
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", rej);
    child.on("close", (code) => res({ code, err }));
  });
}

describe("a closed stdout pipe (issue 16)", () => {
  it.each([[["schema", "--help"]], [["schema"]]])("moesim %j | head: exit 0, nothing on stderr", async (args) => {
    const r = await withClosedStdout(args);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
  });
});

describe("a process that exits while a folder is being built aside", () => {
  it("leaves no temporary sibling; a folder already swapped into place stays", () => {
    const dir = mkdtempSync(join(tmpdir(), "moesim-exit-"));
    const out = join(dir, "results");
    const done = join(dir, "done");
    const src = pathToFileURL(join(ROOT, "src", "util", "output.ts")).href;
    const script =
      `import { mkdirSync, writeFileSync } from "node:fs";\n` +
      `import { tempSibling, swapIntoPlace } from ${JSON.stringify(src)};\n` +
      `const d = tempSibling(${JSON.stringify(done)}, "tmp"); mkdirSync(d); swapIntoPlace(d, ${JSON.stringify(done)}, "t");\n` +
      `const t = tempSibling(${JSON.stringify(out)}, "tmp"); mkdirSync(t); writeFileSync(t + "/a.json", "{}");\n` +
      `console.log(t); process.exit(0);\n`;
    const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      cwd: ROOT,
      encoding: "utf8",
    });
    expect(r.status, r.stderr).toBe(0);
    const tmp = r.stdout.trim();
    expect(tmp.startsWith(join(dir, ".results.tmp-"))).toBe(true);
    expect(existsSync(tmp)).toBe(false);
    expect(readdirSync(dir).sort()).toEqual(["done"]);
    rmSync(dir, { recursive: true, force: true });
  });
});
